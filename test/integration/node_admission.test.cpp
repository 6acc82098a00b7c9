// Real plexusd processes on 127.0.0.1: joins that are retried until they
// succeed (nodes started in any order), a connection flood on the cluster
// port while a keyed node joins, and a slowloris on the admin port while
// status is asked. Each test prints its figures (MESSAGE) for the report.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <random>

#include "node_harness.hpp"

using namespace plexus::testing;

namespace {

/// Ports free right now on 127.0.0.1 (all held open together, so they differ).
std::vector<int> free_ports(std::size_t count) {
  std::vector<int> fds, ports;
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof in) == 0);
    socklen_t length = sizeof in;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&in), &length);
    fds.push_back(fd);
    ports.push_back(ntohs(in.sin_port));
  }
  for (const int fd : fds) ::close(fd);
  return ports;
}

std::uint64_t metric(const std::string& text, const std::string& sample) {
  const auto at = text.find("\n" + sample + " ");
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + sample.size() + 2));
}

Millis since(Clock::time_point start) { return std::chrono::duration_cast<Millis>(Clock::now() - start); }

/// Holds `count` connections open against `address` (IP:PORT) from a thread,
/// sending `prefix` on each and nothing more, and opens a new one whenever
/// the server closes one. Bounded: at most `opens_max` connections in all,
/// and it stops after `lifetime`.
class Flood {
 public:
  Flood(const std::string& address, std::size_t count, std::string prefix, std::uint64_t opens_max = 400'000,
        Millis lifetime = Millis(60'000))
      : ip_(address.substr(0, address.rfind(':'))), port_(std::stoi(address.substr(address.rfind(':') + 1))), count_(count), prefix_(std::move(prefix)), opens_max_(opens_max), until_(Clock::now() + lifetime) {
    thread_ = std::thread([this] { run(); });
  }
  ~Flood() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t opens() const { return opens_; }
  std::size_t open_now() const { return open_now_; }

 private:
  int connect_one() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(std::uint16_t(port_));
    ::inet_pton(AF_INET, ip_.c_str(), &in.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0 && errno != EINPROGRESS) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  void run() {
    std::vector<pollfd> fds;
    std::vector<bool> sent;
    char sink[4096];
    while (!stop_ && Clock::now() < until_) {
      while (fds.size() < count_ && opens_ < opens_max_) {
        const int fd = connect_one();
        if (fd < 0) break;
        ++opens_;
        fds.push_back({fd, short(POLLIN | POLLOUT), 0});
        sent.push_back(prefix_.empty());
      }
      open_now_ = fds.size();
      ::poll(fds.data(), fds.size(), 20);
      for (std::size_t i = 0; i < fds.size();) {
        bool closed = (fds[i].revents & (POLLHUP | POLLERR)) != 0;
        if (!closed && (fds[i].revents & POLLOUT) && !sent[i]) {
          closed = ::send(fds[i].fd, prefix_.data(), prefix_.size(), MSG_NOSIGNAL) < 0 && errno != EAGAIN;
          sent[i] = true;
        }
        if (sent[i]) fds[i].events = POLLIN;
        if (!closed && (fds[i].revents & POLLIN)) {
          const ssize_t n = ::recv(fds[i].fd, sink, sizeof sink, MSG_DONTWAIT);  // a hello, or a close
          closed = n == 0 || (n < 0 && errno != EAGAIN);
        }
        if (closed) {
          ::close(fds[i].fd);
          fds[i] = fds.back();
          fds.pop_back();
          sent[i] = sent.back();
          sent.pop_back();
          continue;
        }
        ++i;
      }
    }
    for (const auto& p : fds) ::close(p.fd);
    open_now_ = 0;
  }

  std::string ip_;
  int port_;
  std::size_t count_;
  std::string prefix_;
  std::uint64_t opens_max_;
  Clock::time_point until_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> opens_{0};
  std::atomic<std::size_t> open_now_{0};
  std::thread thread_;
};

void raise_fd_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  REQUIRE_MESSAGE(limit.rlim_cur >= 4096, "the flood tests need 4096 file descriptors");
}

}  // namespace

TEST_CASE("a node joining an address where nothing listens yet joins once the listener appears") {
  // Proves --join retries: the failure is logged and shown by status, and the join completes once the node is up.
  NamedCluster c;
  const int port = free_ports(1).front();
  const std::string target = "127.0.0.1:" + std::to_string(port);
  auto& early = c.start("c", {"--join", target, "--join-retry-initial-ms", "50", "--join-retry-max-ms", "400"});
  REQUIRE(eventually([&] { return early.log_contains("join " + target + ": "); }));
  const auto status = c.cli.json_at(early.admin, {"status"});
  REQUIRE(status["joins_pending"].size() == 1);
  CHECK(status["joins_pending"][0]["target"] == target);
  CHECK(status["joins_pending"][0]["attempts"].get<int>() >= 1);
  CHECK(status["joins_pending"][0]["last_error"].get<std::string>().find("could not connect") != std::string::npos);
  c.start("a", {"--listen", target});
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "c"}); }));
  CHECK(c.cli.json_at(early.admin, {"status"})["joins_pending"].empty());
  CHECK(early.log_contains("join " + target + ": joined after"));
}

TEST_CASE("plexus join ADDRESS keeps retrying in the background; --sync waits within its timeout") {
  // Proves admin joins retry like --join: 202 while retrying, 504 for a sync join past its deadline, joined later.
  NamedCluster c;
  const int port = free_ports(1).front();
  const std::string target = "127.0.0.1:" + std::to_string(port);
  auto& b = c.start("b", {"--join-retry-initial-ms", "50", "--join-retry-max-ms", "300"});
  const auto first = c.cli.at(b.admin, {"join", target});
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  CHECK(json::parse(first.out)["retrying"] == true);
  const auto sync = c.cli.at(b.admin, {"join", target, "--sync", "--timeout-ms", "300"});
  CHECK(sync.exit_code == 1);
  CHECK(sync.err.find("HTTP 504") != std::string::npos);
  const auto status = c.cli.json_at(b.admin, {"status"});
  REQUIRE(status["joins_pending"].size() == 1);
  CHECK(status["joins_pending"][0]["target"] == target);
  c.start("a", {"--listen", target});
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "b"}); }));
  CHECK(c.cli.json_at(b.admin, {"join", target, "--sync", "--timeout-ms", "5000"})["joined"] == target);
}

TEST_CASE("a node whose --join targets never answer exits 2 after --join-timeout-ms") {
  // Proves the join timeout: a clear line on stderr and exit code 2, no hang.
  NamedCluster c;
  const std::string target = "127.0.0.1:" + std::to_string(free_ports(1).front());
  auto& lonely = c.start("c", {"--join", target, "--join-retry-initial-ms", "50", "--join-timeout-ms", "600"});
  std::optional<int> status;
  REQUIRE(eventually([&] { return (status = lonely.try_wait()).has_value(); }, Millis(10'000)));
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 2);
  REQUIRE(eventually([&] { return lonely.log_contains("--join-timeout-ms: joined none of the --join targets"); }));
}

TEST_CASE("five nodes started in random order, each joining a random other, form one cluster") {
  // Proves start order does not matter: every join is retried until its target is up (seeded; the
  // join graph is a random tree plus one random edge from the root, so it is connected).
  const char* fixed = std::getenv("PLEXUS_TEST_SEED");
  const auto seed = fixed ? std::uint32_t(std::stoul(fixed)) : std::random_device{}();
  INFO("seed " << seed << " (replay: PLEXUS_TEST_SEED=" << seed << " meson test -C build node_admission)");
  std::mt19937 rng(seed);
  NamedCluster c;
  const auto ports = free_ports(5);
  std::vector<std::size_t> tree(5), order(5);
  std::iota(tree.begin(), tree.end(), 0);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(tree.begin(), tree.end(), rng);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::size_t> joins(5);
  for (std::size_t k = 0; k < 5; ++k) {
    joins[tree[k]] = k == 0 ? tree[1 + rng() % 4] : tree[rng() % k];
  }
  const auto started = Clock::now();
  for (const auto i : order) {
    c.start("n" + std::to_string(i), {"--listen", "127.0.0.1:" + std::to_string(ports[i]), "--join",
                                      "127.0.0.1:" + std::to_string(ports[joins[i]]), "--join-retry-initial-ms",
                                      "50", "--join-retry-max-ms", "500"});
  }
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"n0", "n1", "n2", "n3", "n4"}); }, Millis(20'000)));
  MESSAGE("seed " << seed << ": one cluster of 5 " << since(started).count() << " ms after the first start");
}

TEST_CASE("a keyed node joins a node under a connection flood within 2 s; members stay up") {
  // Proves fair admission on the cluster port: 600 idle connections from 127.0.0.1, reopened as the
  // node closes them, do not keep out a node with the key, and do not take down connected members.
  raise_fd_limit();
  NamedCluster c;
  auto& a = c.start("a");
  c.start("b", {"--join", a.address});
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "b"}); }));
  const auto join_ms = [&](const std::string& name) {
    const auto start = Clock::now();
    c.start(name, {"--join", a.address});
    std::vector<std::string> names;
    for (const auto& [n, node] : c.nodes) names.push_back(n);
    REQUIRE(eventually([&] { return all_up(c.cli, c.all(), names); }, Millis(15'000)));
    return since(start);
  };
  const auto quiet = join_ms("c");

  Flood flood(a.address, 600, "");
  REQUIRE(eventually([&] { return flood.open_now() >= 600; }, Millis(10'000)));
  REQUIRE(eventually([&] {
    const auto m = c.cli.at(a.admin, {"metrics"}).out;
    return metric(m, "plexus_handshake_evictions_total{reason=\"table_full\"}") > 0;
  }));
  const auto flood_started = Clock::now();
  const auto flooded = join_ms("d");
  // Members stay up throughout: watched for 3 s of flood in all (a bounded number of looks).
  for (int look = 0; look < 300 && since(flood_started) < Millis(3000); ++look) {
    const auto seen = members_up(c.cli, a.admin);
    REQUIRE_MESSAGE(seen.size() == 4, "a sees " << seen.size() << " members under the flood");
    for (const auto& [name, up] : seen) CHECK_MESSAGE(up, name << " down on a under the flood");
  }
  const auto opens = flood.opens();
  flood.stop();

  const auto m = c.cli.at(a.admin, {"metrics"}).out;
  const auto evicted = metric(m, "plexus_handshake_evictions_total{reason=\"table_full\"}");
  const auto by_source = metric(m, "plexus_handshake_evictions_total{reason=\"source_limit\"}");
  const auto silent = metric(m, "plexus_handshake_rejections_total{reason=\"first_bytes_timeout\"}");
  MESSAGE("join latency (start to member of every node, up on every channel): " << quiet.count()
          << " ms without flood, " << flooded.count() << " ms under the flood (" << opens
          << " flood connections opened); a: evicted table_full " << evicted << ", source_limit " << by_source
          << ", first_bytes_timeout " << silent);
  CHECK(flooded <= Millis(2000));
  std::size_t warnings = 0;
  for (auto at = a.log().find("closed pending handshakes"); at != std::string::npos;
       at = a.log().find("closed pending handshakes", at + 1)) {
    ++warnings;
  }
  CHECK(warnings <= 10);  // summarised once a second, not one line per connection
  for (const auto& name : {"a", "b"}) {
    CHECK(metric(c.cli.at(c[name].admin, {"metrics"}).out, "plexus_peer_down_transitions_total") == 0);
  }
}

TEST_CASE("status answers within 2 s while 1000 half-sent requests are held on the admin port") {
  // Proves the admin gate: a slowloris costs sockets, not threads, and the newest connection gets in.
  raise_fd_limit();
  NamedCluster c;
  auto& a = c.start("a");
  const auto status_ms = [&] {
    const auto start = Clock::now();
    const auto result = c.cli.at(a.admin, {"status"});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    return since(start);
  };
  const auto quiet = status_ms();
  Flood slowloris(a.admin, 1000, "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ");
  REQUIRE(eventually([&] { return slowloris.open_now() >= 1000; }, Millis(10'000)));
  std::vector<Millis> loaded;
  for (int i = 0; i < 5; ++i) loaded.push_back(status_ms());
  const auto opens = slowloris.opens();
  slowloris.stop();
  const auto m = c.cli.at(a.admin, {"metrics"}).out;
  const auto worst = *std::max_element(loaded.begin(), loaded.end());
  MESSAGE("plexus status: " << quiet.count() << " ms without slowloris, worst of 5 under it " << worst.count()
          << " ms (" << opens << " slowloris connections opened); admin connections closed: evicted "
          << metric(m, "plexus_admin_connections_closed_total{reason=\"evicted\"}") << ", read_timeout "
          << metric(m, "plexus_admin_connections_closed_total{reason=\"read_timeout\"}"));
  CHECK(worst <= Millis(2000));
  CHECK(metric(m, "plexus_admin_connections_closed_total{reason=\"evicted\"}") > 0);
}

TEST_CASE("silent peer connections and unfinished admin requests are closed at their deadlines") {
  // Proves the first-bytes deadline on the cluster port and the read deadline on the admin port, below their tables' sizes.
  raise_fd_limit();
  NamedCluster c;
  auto& a = c.start("a", {"--handshake-first-bytes-timeout-ms", "200", "--admin-read-timeout-ms", "300"});
  // Fewer than --handshakes-per-source-max (32): nothing is evicted, the deadline closes them.
  Flood silent(a.address, 20, "", 5'000, Millis(20'000));
  Flood slow(a.admin, 50, "GET /v1/status HTTP/1.1\r\n", 5'000, Millis(20'000));
  REQUIRE(eventually([&] {
    const auto m = c.cli.at(a.admin, {"metrics"}).out;
    return metric(m, "plexus_handshake_rejections_total{reason=\"first_bytes_timeout\"}") >= 50 &&
           metric(m, "plexus_admin_connections_closed_total{reason=\"read_timeout\"}") >= 50;
  }));
  silent.stop();
  slow.stop();
  const auto m = c.cli.at(a.admin, {"metrics"}).out;
  CHECK(metric(m, "plexus_handshake_evictions_total{reason=\"table_full\"}") == 0);
  CHECK(metric(m, "plexus_handshake_evictions_total{reason=\"source_limit\"}") == 0);
  CHECK(metric(m, "plexus_admin_connections_closed_total{reason=\"evicted\"}") == 0);
}

TEST_CASE("a flood from one address that is not a member's evicts only its own pending handshakes") {
  // Proves the per-source limit: 100 idle connections from 127.0.0.1, where no member listens (a listens on
  // 127.0.0.2, b on 127.0.0.3), churn through their own 32 slots and never fill the table; b, whose dials
  // also come from 127.0.0.1, still joins because its hello arrives with its connect.
  raise_fd_limit();
  NamedCluster c;
  auto& a = c.start("a", {"--listen", "127.0.0.2:0"});
  Flood flood(a.address, 100, "", 100'000, Millis(30'000));
  REQUIRE(eventually([&] {
    return metric(c.cli.at(a.admin, {"metrics"}).out, "plexus_handshake_evictions_total{reason=\"source_limit\"}") > 0;
  }));
  c.start("b", {"--listen", "127.0.0.3:0", "--join", a.address});
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "b"}); }));
  flood.stop();
  CHECK(metric(c.cli.at(a.admin, {"metrics"}).out, "plexus_handshake_evictions_total{reason=\"table_full\"}") == 0);
}
