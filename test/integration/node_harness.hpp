// Test harness for real plexusd processes driven only through the plexus
// CLI, as an operator would: start nodes (paths from the PLEXUSD and
// PLEXUS_CLI environment variables, set by meson), run CLI commands to
// completion, keep each node's log, and wait on conditions with deadlines.
// Between checks a wait wakes early on any node's log output; there are no
// sleeps.
#pragma once

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/common/process.hpp"

namespace plexus::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using nlohmann::json;

inline std::string binary(const char* variable) {
  const char* path = std::getenv(variable);
  REQUIRE_MESSAGE(path != nullptr, variable << " is not set (meson test sets it)");
  return path;
}

/// Any node wrote to its log: waiters re-check their condition.
struct Activity {
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t generation = 0;
  void bump() {
    std::lock_guard lock(mutex);
    ++generation;
    changed.notify_all();
  }
  /// Wait for new activity, at most `limit`.
  void wait(Millis limit) {
    std::unique_lock lock(mutex);
    const auto seen = generation;
    changed.wait_for(lock, limit, [&] { return generation != seen; });
  }
  static Activity& global() {
    static Activity activity;
    return activity;
  }
};

/// Re-check `condition` until it holds or `deadline` passes.
template <class Condition>
bool eventually(Condition&& condition, Millis deadline = Millis(15'000)) {
  const auto until = Clock::now() + deadline;
  while (!condition()) {
    if (Clock::now() >= until) return false;
    Activity::global().wait(Millis(100));
  }
  return true;
}

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Run a program to completion (at most `deadline`), capturing stdout and stderr.
inline CommandResult run_command(const std::vector<std::string>& argv, Millis deadline = Millis(30'000)) {
  auto child = tools::Child::spawn(argv);
  if (!child) FAIL(argv[0] << ": " << child.error().message());
  CommandResult result;
  const auto until = Clock::now() + deadline;
  bool out_open = true, err_open = true;
  while ((out_open || err_open) && Clock::now() < until) {
    pollfd fds[2] = {{child->stdout_fd(), short(out_open ? POLLIN : 0), 0}, {child->stderr_fd(), short(err_open ? POLLIN : 0), 0}};
    ::poll(fds, 2, 100);
    char buffer[65536];
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      auto& open = i == 0 ? out_open : err_open;
      if (n <= 0) open = false;
      else (i == 0 ? result.out : result.err).append(buffer, std::size_t(n));
    }
  }
  // Both pipes closed: the process is exiting, so this reaps it rather than signalling it.
  const int status = child->stop(Millis(5000));
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

inline std::size_t line_count(const std::string& text) {
  std::size_t lines = 0;
  for (const char c : text) lines += c == '\n' ? 1 : 0;
  return lines + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/plexus-it-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// One running plexusd; its stderr is collected by a thread into log().
class NodeProcess {
 public:
  static std::unique_ptr<NodeProcess> start(const std::vector<std::string>& args) {
    std::vector<std::string> argv{binary("PLEXUSD")};
    argv.insert(argv.end(), args.begin(), args.end());
    auto child = tools::Child::spawn(argv);
    if (!child) FAIL(child.error().message());
    auto node = std::unique_ptr<NodeProcess>(new NodeProcess(std::move(*child)));
    auto line = node->child_.read_line(Millis(15'000));
    REQUIRE_MESSAGE(line.ok(), "plexusd did not print its ready line; log:\n" << node->log());
    node->ready = json::parse(*line);
    node->admin = node->ready.at("admin").get<std::string>();
    node->spec = node->ready.at("spec").dump();
    const auto& address = node->ready["spec"]["listen_addrs"][0];
    node->address = address["ip"].get<std::string>() + ":" + std::to_string(address["port"].get<int>());
    return node;
  }
  ~NodeProcess() { stop(); }

  /// SIGTERM and wait (graceful stop); returns the wait status.
  int stop() {
    if (!stopped_) {
      status_ = child_.stop(Millis(10'000));
      stopped_ = true;
      if (reader_.joinable()) reader_.join();
    }
    return status_;
  }
  [[nodiscard]] pid_t pid() const { return child_.pid(); }
  /// The wait status once the process exited by itself (reaped), else nothing.
  std::optional<int> try_wait() {
    if (stopped_) return status_;
    auto status = child_.try_wait();
    if (status) {
      status_ = *status;
      stopped_ = true;
      if (reader_.joinable()) reader_.join();
    }
    return status;
  }
  [[nodiscard]] std::string log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  bool log_contains(const std::string& text) const { return log().find(text) != std::string::npos; }

  json ready;
  std::string admin;    ///< "127.0.0.1:PORT" of its admin API
  std::string spec;     ///< its node spec as JSON text
  std::string address;  ///< its first listen address

 private:
  explicit NodeProcess(tools::Child child) : child_(std::move(child)) {
    reader_ = std::thread([this] {
      char buffer[8192];
      for (;;) {
        const ssize_t n = ::read(child_.stderr_fd(), buffer, sizeof buffer);
        if (n <= 0) break;
        {
          std::lock_guard lock(mutex_);
          log_.append(buffer, std::size_t(n));
        }
        Activity::global().bump();
      }
    });
  }
  tools::Child child_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::string log_;
  bool stopped_ = false;
  int status_ = 0;
};

/// The plexus CLI with one cluster key.
struct Cli {
  std::string secret_file;

  CommandResult run(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{binary("PLEXUS_CLI")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  /// `plexus --admin ADMIN --secret-file KEY args...`
  CommandResult at(const std::string& admin, const std::vector<std::string>& args) const {
    std::vector<std::string> all{"--admin", admin, "--secret-file", secret_file};
    all.insert(all.end(), args.begin(), args.end());
    return run(all);
  }
  /// As at(), requiring success and a JSON answer.
  json json_at(const std::string& admin, const std::vector<std::string>& args) const {
    const auto result = at(admin, args);
    REQUIRE_MESSAGE(result.exit_code == 0, "plexus " << args.front() << " failed: " << result.err);
    return json::parse(result.out);
  }
};

/// `plexus keygen DIR/NAME`: a fresh cluster key file.
inline std::string new_key(const Cli& cli, const fs::path& dir, const std::string& name = "cluster.key") {
  const auto path = (dir / name).string();
  const auto result = cli.run({"keygen", path});
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  return path;
}

/// Timers small enough for quick failure detection in tests.
inline std::vector<std::string> fast_timers() {
  return {"--heartbeat-ms", "100", "--peer-timeout-ms", "1000", "--retransmit-interval-ms", "100"};
}

/// Named plexusd processes sharing one fresh cluster key, each with fast_timers().
struct NamedCluster {
  TempDir dir;
  Cli cli;
  std::map<std::string, std::unique_ptr<NodeProcess>> nodes;

  NamedCluster() { cli.secret_file = new_key(cli, dir.path); }

  NodeProcess& start(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--name", name, "--secret-file", cli.secret_file};
    for (const auto& a : fast_timers()) args.push_back(a);
    args.insert(args.end(), extra.begin(), extra.end());
    nodes[name] = NodeProcess::start(args);
    return *nodes[name];
  }
  NodeProcess& operator[](const std::string& name) { return *nodes.at(name); }
  std::vector<const NodeProcess*> all() const {
    std::vector<const NodeProcess*> out;
    for (const auto& [name, node] : nodes) out.push_back(node.get());
    return out;
  }
};

/// The member list as `plexus members` shows it: name -> up on every channel too.
inline std::map<std::string, bool> members_up(const Cli& cli, const std::string& admin) {
  const auto result = cli.at(admin, {"members"});
  std::map<std::string, bool> out;
  if (result.exit_code != 0) return out;
  const auto document = json::parse(result.out);  // kept alive: the loop below refers into it
  for (const auto& m : document.at("members")) {
    bool up = m.at("up").get<bool>();
    for (const auto& [channel, channel_up] : m.at("channels").items()) up = up && channel_up.get<bool>();
    out[m.at("name").get<std::string>()] = up;
  }
  return out;
}

/// Every node named sees exactly `names` as members, all up.
inline bool all_up(const Cli& cli, const std::vector<const NodeProcess*>& nodes, const std::vector<std::string>& names) {
  for (const auto* node : nodes) {
    const auto seen = members_up(cli, node->admin);
    if (seen.size() != names.size()) return false;
    for (const auto& name : names) {
      auto it = seen.find(name);
      if (it == seen.end() || !it->second) return false;
    }
  }
  return true;
}

}  // namespace plexus::testing
