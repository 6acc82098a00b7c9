// plexus-cluster: start a local cluster of real plexusd processes on
// 127.0.0.1 with a fresh cluster key, join them by node spec, show a live
// one-line-per-node view from their admin APIs (refreshed every second), keep
// each node's log in a file, and stop them all cleanly on Ctrl-C.
// `./run.sh cluster` runs it.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "plexus/core/errors.hpp"
#include "plexus/secure/cluster_key.hpp"
#include "tools/cli/admin_client.hpp"
#include "tools/cluster/view.hpp"
#include "tools/common/process.hpp"

namespace fs = std::filesystem;
using namespace plexus;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto refresh_interval = std::chrono::seconds(1);

struct Node {
  tools::NodeRow row;
  std::string address;
  std::string admin;
  std::string spec_json;  // what the node printed: other nodes join by it
  tools::Child child;
  fs::path log_path;
  std::ofstream log;
  std::string partial;  // stderr bytes past the last full line
};

fs::path default_plexusd() {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  return self.parent_path().parent_path() / "node" / "plexusd";
}

Result<Node> start_node(const fs::path& plexusd, const fs::path& dir, const std::string& name,
                        const std::vector<std::string>& joins, const std::string& token) {
  std::vector<std::string> argv = {plexusd.string(), "--name", name, "--listen", "127.0.0.1:0",
                                   "--admin", "127.0.0.1:0", "--secret-file", (dir / "cluster.key").string(),
                                   "--data-dir", (dir / name).string(),
                                   // One LMDB datastore shared by every node (LMDB is multi-process), so any
                                   // node can open any tenant key space.
                                   "--datastore", "main=lmdb:" + (dir / "store" / "main").string(),
                                   // The tenant manager, its registry and tenants in that shared datastore.
                                   "--tenants"};
  for (const auto& j : joins) argv.insert(argv.end(), {"--join", j});
  auto child = tools::Child::spawn(argv);
  if (!child) return child.error();
  auto line = child->read_line(std::chrono::seconds(10));
  if (!line) {
    char buffer[4096];
    const ssize_t n = ::read(child->stderr_fd(), buffer, sizeof buffer);
    return make_error(errc::io_error, name + " did not report ready: " + line.error().detail +
                                          (n > 0 ? ": " + std::string(buffer, std::size_t(n)) : ""));
  }
  auto ready = nlohmann::json::parse(*line, nullptr, false);
  if (ready.is_discarded() || !ready.contains("spec") || !ready.contains("admin")) {
    return make_error(errc::io_error, name + " printed an unexpected line: " + *line);
  }
  const auto& addr = ready["spec"]["listen_addrs"][0];
  tools::NodeRow row;
  row.name = name;
  const std::string admin = ready["admin"].get<std::string>();
  if (auto client = tools::AdminClient::create(admin, token)) row.admin = std::move(*client);
  Node node{std::move(row),
            addr["ip"].get<std::string>() + ":" + std::to_string(addr["port"].get<int>()),
            admin,
            ready["spec"].dump(),
            std::move(*child),
            dir / (name + ".log"),
            std::ofstream(dir / (name + ".log")),
            {}};
  return node;
}

// Copy a node's stderr to its log file; count its warnings.
bool pump(Node& node) {
  char buffer[8192];
  const ssize_t n = ::read(node.child.stderr_fd(), buffer, sizeof buffer);
  if (n <= 0) return false;
  node.log.write(buffer, n);
  node.log.flush();
  node.partial.append(buffer, std::size_t(n));
  for (auto nl = node.partial.find('\n'); nl != std::string::npos; nl = node.partial.find('\n')) {
    const std::string line = node.partial.substr(0, nl);
    if (line.find("[warning]") != std::string::npos || line.find("[error]") != std::string::npos) {
      ++node.row.warnings;
      node.row.last_warning = line;
    }
    node.partial.erase(0, nl + 1);
  }
  return true;
}

// Print the view; on a terminal, redraw it in place.
void draw(std::vector<Node>& nodes, bool tty, bool first) {
  std::string last_warning;
  for (const auto& n : nodes) if (!n.row.last_warning.empty()) last_warning = "[" + n.row.name + "] " + n.row.last_warning;
  if (tty && !first) std::cout << "\033[" << nodes.size() + 1 << "A";
  for (const auto& n : nodes) std::cout << (tty ? "\033[2K" : "") << tools::format_row(n.row) << "\n";
  std::cout << (tty ? "\033[2K" : "") << "last warning: " << (last_warning.empty() ? "-" : last_warning.substr(0, 160))
            << "\n" << std::flush;
}

void print_header(const std::vector<Node>& nodes, const fs::path& dir) {
  std::cout << "Plexus local cluster: " << nodes.size() << " nodes; key, data and logs in " << dir.string() << "\n";
  for (const auto& n : nodes) {
    std::cout << "  " << n.row.name << "  listen " << n.address << "  admin " << n.admin << "  pid "
              << n.child.pid() << "  log " << n.log_path.string() << "\n";
  }
  std::cout << "Try: build/release/tools/plexus --admin " << nodes.front().admin << " --secret-file "
            << (dir / "cluster.key").string() << " --pretty members\n"
            << "     and a key space: ... keyspace create acme; ... kv set acme '[\"users\", 1]' alice  (README)\n"
            << "Ctrl-C stops every node.\n\n"
            << std::flush;
}

// SIGTERM to every node at once, then wait for all of them (copying their last
// log lines). Only a node still running after the grace period gets a second
// signal, which plexusd takes as "stop at once" (Child::stop escalates to SIGKILL).
int stop_all(std::vector<Node>& nodes) {
  std::cout << "\nstopping " << nodes.size() << " nodes...\n";
  for (auto& n : nodes) n.child.signal(SIGTERM);
  const auto grace_until = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    std::vector<pollfd> fds;
    for (auto& n : nodes) fds.push_back({n.child.stderr_fd(), POLLIN, 0});
    bool running = false;
    for (auto& n : nodes) running = running || !n.child.try_wait();
    if (!running || Clock::now() >= grace_until) break;
    ::poll(fds.data(), fds.size(), 50);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (fds[i].revents & POLLIN) pump(nodes[i]);
    }
  }
  int failures = 0;
  for (auto& n : nodes) {
    const int s = n.child.stop(std::chrono::seconds(2));
    while (pump(n)) {}
    failures += s == 0 ? 0 : 1;
    std::cout << "  " << n.row.name << " " << tools::describe_status(s) << "  (log " << n.log_path.string() << ")\n";
  }
  return failures;
}

int run(int nodes_wanted, const fs::path& plexusd, const fs::path& dir) {
  auto key = secure::write_new_cluster_key(dir / "cluster.key");
  if (!key) {
    std::cerr << "plexus-cluster: " << key.error().message() << "\n";
    return 2;
  }
  auto token = tools::admin_token_from((dir / "cluster.key").string(), "");
  std::vector<Node> nodes;
  for (int i = 1; i <= nodes_wanted; ++i) {
    std::vector<std::string> joins;
    if (!nodes.empty()) joins.push_back(nodes.front().spec_json);  // join by node spec
    auto node = start_node(plexusd, dir, "n" + std::to_string(i), joins, token ? *token : "");
    if (!node) {
      std::cerr << "plexus-cluster: " << node.error().message() << "\n";
      stop_all(nodes);
      return 2;
    }
    nodes.push_back(std::move(*node));
  }
  print_header(nodes, dir);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  const int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  int status = 0;
  bool first = true;
  auto next_refresh = Clock::now();
  for (bool running = true; running;) {
    if (Clock::now() >= next_refresh) {
      for (auto& n : nodes) tools::refresh(n.row);
      draw(nodes, tty, first);
      first = false;
      next_refresh = Clock::now() + refresh_interval;
    }
    std::vector<pollfd> fds{{sfd, POLLIN, 0}};
    for (auto& n : nodes) fds.push_back({n.child.stderr_fd(), POLLIN, 0});
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_refresh - Clock::now());
    ::poll(fds.data(), fds.size(), int(std::max<long>(0, wait.count())));
    if (fds[0].revents & POLLIN) running = false;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (fds[i + 1].revents & (POLLIN | POLLHUP)) pump(nodes[i]);
      if (auto s = nodes[i].child.try_wait(); s && running) {
        std::cout << nodes[i].row.name << " " << tools::describe_status(*s) << "; stopping the cluster (log "
                  << nodes[i].log_path.string() << ")\n";
        running = false;
        status = 1;
      }
    }
  }
  return stop_all(nodes) == 0 ? status : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"plexus-cluster: run a local Plexus cluster of real plexusd processes on 127.0.0.1"};
  int nodes = 3;
  std::string dir;
  std::string plexusd = default_plexusd().string();
  app.add_option("--nodes", nodes, "number of nodes")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--dir", dir, "directory for the key, data and logs (default: a new one under /tmp)");
  app.add_option("--plexusd", plexusd, "plexusd binary")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (dir.empty()) {
    char tmpl[] = "/tmp/plexus-cluster-XXXXXX";
    if (!mkdtemp(tmpl)) return 2;
    dir = tmpl;
  }
  fs::create_directories(dir);
  return run(nodes, plexusd, dir);
}
