// plexus-cluster: start a local cluster of real plexusd processes on
// 127.0.0.1 with a fresh cluster key, show what they log, and stop them all
// cleanly on Ctrl-C. `./run.sh cluster` runs it.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "plexus/core/errors.hpp"
#include "plexus/secure/cluster_key.hpp"
#include "tools/common/process.hpp"

namespace fs = std::filesystem;
using namespace plexus;

namespace {

struct Node {
  std::string name;
  std::string address;
  std::string spec_json;  // what the node printed: other nodes join by it
  tools::Child child;
  std::ofstream log;
  std::string partial;  // stderr bytes past the last full line
};

fs::path default_plexusd() {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  return self.parent_path().parent_path() / "node" / "plexusd";
}

Result<Node> start_node(const fs::path& plexusd, const fs::path& dir, const std::string& name,
                        const std::vector<std::string>& joins) {
  std::vector<std::string> argv = {plexusd.string(), "--name", name, "--listen", "127.0.0.1:0",
                                   "--secret-file", (dir / "cluster.key").string()};
  for (const auto& j : joins) argv.insert(argv.end(), {"--join", j});
  auto child = tools::Child::spawn(argv);
  if (!child) return child.error();
  auto line = child->read_line(std::chrono::seconds(10));
  if (!line) return make_error(errc::io_error, name + " did not report ready: " + line.error().detail);
  auto ready = nlohmann::json::parse(*line, nullptr, false);
  if (ready.is_discarded() || !ready.contains("spec")) {
    return make_error(errc::io_error, name + " printed an unexpected line: " + *line);
  }
  const auto& addr = ready["spec"]["listen_addrs"][0];
  Node node{name, addr["ip"].get<std::string>() + ":" + std::to_string(addr["port"].get<int>()),
            ready["spec"].dump(), std::move(*child), std::ofstream(dir / (name + ".log")), {}};
  return node;
}

// Copy a node's stderr to its log file and to our stdout, prefixed.
bool pump(Node& node) {
  char buffer[8192];
  const ssize_t n = ::read(node.child.stderr_fd(), buffer, sizeof buffer);
  if (n <= 0) return false;
  node.log.write(buffer, n);
  node.log.flush();
  node.partial.append(buffer, std::size_t(n));
  for (auto nl = node.partial.find('\n'); nl != std::string::npos; nl = node.partial.find('\n')) {
    std::cout << "[" << node.name << "] " << node.partial.substr(0, nl) << "\n";
    node.partial.erase(0, nl + 1);
  }
  std::cout.flush();
  return true;
}

int run(int nodes_wanted, const fs::path& plexusd, const fs::path& dir) {
  if (!secure::write_new_cluster_key(dir / "cluster.key")) {
    std::cerr << "plexus-cluster: cannot write " << (dir / "cluster.key") << "\n";
    return 2;
  }
  std::vector<Node> nodes;
  for (int i = 1; i <= nodes_wanted; ++i) {
    std::vector<std::string> joins;
    if (!nodes.empty()) joins.push_back(nodes.front().spec_json);  // join by node spec
    auto node = start_node(plexusd, dir, "n" + std::to_string(i), joins);
    if (!node) {
      std::cerr << "plexus-cluster: " << node.error().message() << "\n";
      return 2;
    }
    nodes.push_back(std::move(*node));
  }
  std::cout << "Plexus local cluster: " << nodes.size() << " nodes, key and logs in " << dir << "\n";
  for (const auto& n : nodes) {
    std::cout << "  " << n.name << "  listen " << n.address << "  pid " << n.child.pid() << "  log "
              << (dir / (n.name + ".log")).string() << "\n";
  }
  std::cout << "Ctrl-C stops every node.\n" << std::flush;

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  const int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  int status = 0;
  for (bool running = true; running;) {
    std::vector<pollfd> fds{{sfd, POLLIN, 0}};
    for (auto& n : nodes) fds.push_back({n.child.stderr_fd(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), 1000);
    if (fds[0].revents & POLLIN) running = false;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (fds[i + 1].revents & (POLLIN | POLLHUP)) pump(nodes[i]);
      if (auto s = nodes[i].child.try_wait(); s && running) {
        std::cout << nodes[i].name << " " << tools::describe_status(*s) << "; stopping the cluster\n";
        running = false;
        status = 1;
      }
    }
  }
  std::cout << "\nstopping " << nodes.size() << " nodes...\n";
  for (auto& n : nodes) n.child.signal(SIGTERM);
  for (auto& n : nodes) {
    const int s = n.child.stop(std::chrono::seconds(5));
    while (pump(n)) {}
    std::cout << "  " << n.name << " " << tools::describe_status(s) << "\n";
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"plexus-cluster: run a local Plexus cluster of real plexusd processes on 127.0.0.1"};
  int nodes = 3;
  std::string dir;
  std::string plexusd = default_plexusd().string();
  app.add_option("--nodes", nodes, "number of nodes")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--dir", dir, "directory for the key and logs (default: a new one under /tmp)");
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
