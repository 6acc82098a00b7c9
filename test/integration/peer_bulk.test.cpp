// Bulk channels (Config::bulk_channels) over real sockets on 127.0.0.1: the
// I/O of their connections runs on the bulk thread at its nice value, and
// delivery keeps every guarantee: per-key FIFO, acked messages exactly once,
// other channels unaffected, a clean stop.
#include <doctest/doctest.h>

#include <asio/io_context.hpp>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "plexus/peer/peer_service.hpp"
#include "../support/inbox.hpp"
#include "../support/loop.hpp"

using namespace plexus;
using namespace plexus::peer;
using plexus::testing::Inbox;
using plexus::testing::run_until;

namespace {

// The threads of this process named `name`: their thread ids.
std::vector<int> threads_named(const std::string& name) {
  std::vector<int> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(entry.path() / "comm");
    std::string text;
    std::getline(comm, text);
    if (text == name) out.push_back(std::stoi(entry.path().filename().string()));
  }
  return out;
}

// Nanoseconds thread `tid` has run (schedstat's first field).
std::uint64_t cpu_ns(int tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  std::uint64_t ns = 0;
  in >> ns;
  return ns;
}

}  // namespace

TEST_CASE("bulk channels: I/O on the bulk thread; per-key FIFO, exactly-once acks and other channels hold") {
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  auto config = [&](const std::string& name, bool bulk) {
    Config c;
    c.name = name;
    c.key = key;
    c.channels["bulk"] = ChannelSpec{4, false};
    if (bulk) c.bulk_channels = {"bulk"};
    c.bulk_io_idle = false;  // at nice 7 (SCHED_IDLE, the default: the next test)
    c.bulk_io_nice = 7;
    c.heartbeat_interval = Millis(50);
    c.peer_timeout = Millis(2000);
    c.retransmit_interval = Millis(50);
    return c;
  };
  const auto before = threads_named("plexus-bulk").size();
  // a and b both put "bulk" on their bulk thread; c does not (the choice is local).
  std::map<std::string, std::shared_ptr<PeerService>> nodes;
  std::map<std::string, std::shared_ptr<Inbox>> sinks;
  for (const auto& [name, bulk] : {std::pair{"a", true}, {"b", true}, {"c", false}}) {
    auto started = PeerService::start(io.get_executor(), config(name, bulk));
    if (!started.ok()) FAIL(started.error().message());
    auto inbox = std::make_shared<Inbox>();
    REQUIRE((*started)->register_server("sink", [inbox](const Received& r) { inbox->push(r); }).ok());
    nodes[name] = *started;
    sinks[name] = inbox;
  }
  const auto bulk_threads = threads_named("plexus-bulk");
  REQUIRE(bulk_threads.size() == before + 2);
  for (const int tid : bulk_threads) CHECK(::getpriority(PRIO_PROCESS, static_cast<id_t>(tid)) == 7);
  std::uint64_t bulk_cpu_before = 0;
  for (const int tid : bulk_threads) bulk_cpu_before += cpu_ns(tid);

  REQUIRE(nodes["b"]->join(nodes["a"]->spec()).ok());
  REQUIRE(nodes["c"]->join(nodes["a"]->spec()).ok());
  auto all_up = [&] {
    for (auto& [name, node] : nodes) {
      auto status = node->member_status();
      if (status.size() != 3) return false;
      for (const auto& m : status) {
        if (!m.up) return false;
        for (const auto& [channel, up] : m.channels_up) if (!up) return false;
      }
    }
    return true;
  };
  REQUIRE(run_until(io, all_up, std::chrono::seconds(15)));

  // From a to b and to c, and from c to a: keyed messages of mixed sizes on
  // "bulk" (up to 64 KiB), acked ones among them, and plain ones on "default".
  constexpr int per_key = 150, keys = 8;
  std::map<std::string, std::size_t> expected;
  std::size_t acked_ok = 0, acked_failed = 0, acked_sent = 0;
  auto send = [&](const std::string& from, const std::string& to, int i) {
    for (std::uint64_t k = 0; k < keys; ++k) {
      ForwardOptions options;
      options.channel = "bulk";
      options.partition_key = k;
      options.ack = (i % 10 == 0);
      std::string text = std::to_string(k) + ":" + std::to_string(i) + ":";
      text.resize(text.size() + ((i * 7 + k) % 16 == 0 ? 65536 : (i * 31 + k) % 900), 'x');
      Completion done;
      if (options.ack) {
        ++acked_sent;
        done = [&](const Result<void>& r) { ++(r ? acked_ok : acked_failed); };
      }
      REQUIRE(nodes[from]->forward_message(to, "sink", std::vector<std::uint8_t>(text.begin(), text.end()),
                                           options, done).ok());
      ++expected[to];
    }
    ForwardOptions plain;  // "default": not a bulk channel
    const std::string text = "default:" + std::to_string(i);
    REQUIRE(nodes[from]->forward_message(to, "sink", std::vector<std::uint8_t>(text.begin(), text.end()), plain).ok());
    ++expected[to];
  };
  for (int i = 0; i < per_key; ++i) {
    send("a", "b", i);
    send("a", "c", i);
    send("c", "a", i);
    if (i % 10 == 9) run_until(io, [] { return false; }, Millis(5));  // let the outboxes drain
  }
  auto delivered = [&] {
    for (const auto& [to, n] : expected) if (sinks[to]->size() != n) return false;
    return acked_ok + acked_failed == acked_sent;
  };
  REQUIRE(run_until(io, delivered, std::chrono::seconds(30)));
  CHECK(acked_ok == acked_sent);
  CHECK(acked_failed == 0);
  for (const auto& [to, inbox] : sinks) {
    CAPTURE(to);
    std::map<std::pair<std::string, std::uint64_t>, int> next;  // (from, key) -> next index
    int next_default = 0;
    for (const auto& r : inbox->copy()) {
      const std::string text(r.payload.begin(), r.payload.end());
      if (r.channel == "default") {
        CHECK(text == "default:" + std::to_string(next_default++));
        continue;
      }
      REQUIRE(r.channel == "bulk");
      const auto colon = text.find(':');
      const auto k = std::stoull(text.substr(0, colon));
      const int i = std::stoi(text.substr(colon + 1, text.find(':', colon + 1) - colon - 1));
      CHECK(i == next[{r.from, k}]++);  // FIFO per key, each once
    }
    CHECK(next_default == per_key);
  }
  // The sealing and opening happened on the bulk threads.
  std::uint64_t bulk_cpu_after = 0;
  for (const int tid : bulk_threads) bulk_cpu_after += cpu_ns(tid);
  CHECK(bulk_cpu_after > bulk_cpu_before);

  // A graceful stop completes with bulk connections, then destruction joins the threads.
  bool stopped = false;
  nodes["a"]->stop([&] { stopped = true; });
  REQUIRE(run_until(io, [&] { return stopped; }, std::chrono::seconds(10)));
  nodes.clear();
  CHECK(threads_named("plexus-bulk").size() == before);
}

TEST_CASE("the bulk thread runs under SCHED_IDLE by default, and at its nice value when asked") {
  // Proves Config::bulk_io_idle: the scheduling policy of the thread itself.
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  for (const bool idle : {true, false}) {
    CAPTURE(idle);
    const auto before = threads_named("plexus-bulk");
    Config c;
    c.name = idle ? "idle" : "nice";
    c.key = key;
    c.channels["bulk"] = ChannelSpec{1, false};
    c.bulk_channels = {"bulk"};
    c.bulk_io_nice = 5;
    if (!idle) c.bulk_io_idle = false;
    auto started = PeerService::start(io.get_executor(), c);
    REQUIRE_MESSAGE(started.ok(), started.error().message());
    std::vector<int> added;
    for (const int tid : threads_named("plexus-bulk")) {
      if (std::find(before.begin(), before.end(), tid) == before.end()) added.push_back(tid);
    }
    REQUIRE(added.size() == 1);
    CHECK(::sched_getscheduler(added[0]) == (idle ? SCHED_IDLE : SCHED_OTHER));
    if (!idle) CHECK(::getpriority(PRIO_PROCESS, static_cast<id_t>(added[0])) == 5);
  }
}

TEST_CASE("bulk_channels must name channels of this node") {
  asio::io_context io;
  Config c;
  c.name = "a";
  c.key = secure::generate_cluster_key();
  c.bulk_channels = {"nope"};
  auto started = PeerService::start(io.get_executor(), c);
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().detail.rfind("bulk_channels", 0) == 0);
}
