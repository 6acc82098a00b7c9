#include "peer_fleet.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "peer_protocol.hpp"
#include "plexus/secure/cluster_key.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;

// Events are short; a longer line is a broken node, not an event.
constexpr std::size_t event_line_max_bytes = 1 << 20;
constexpr int reap_limit_ms = 3000;

std::string self_executable() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw std::runtime_error(std::string("readlink /proc/self/exe: ") + std::strerror(errno));
  return std::string(path, static_cast<std::size_t>(n));
}

double remaining_s(std::int64_t deadline_ns) { return double(deadline_ns - monotonic_ns()) * 1e-9; }

}  // namespace

Fleet::Fleet(std::string log_level, std::vector<std::string> node_args)
    : log_level_(std::move(log_level)),
      node_args_(std::move(node_args)),
      key_hex_(secure::to_hex(secure::generate_cluster_key())) {
  ::signal(SIGPIPE, SIG_IGN);  // a node that died makes send() fail, not us
}

Fleet::~Fleet() { stop(); }

void Fleet::spawn(Node& node, const NodeOptions& options) {
  int to_node[2], from_node[2];
  if (::pipe2(to_node, O_CLOEXEC) != 0 || ::pipe2(from_node, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  std::vector<std::string> args{self_executable(), "node", "--name", options.name, "--parent",
                                std::to_string(::getpid()), "--log-level", log_level_};
  if (options.insecure) args.push_back("--insecure");
  if (options.cpu >= 0) args.insert(args.end(), {"--cpu", std::to_string(options.cpu)});
  for (const auto& c : options.channels) args.insert(args.end(), {"--channel", c});
  args.insert(args.end(), node_args_.begin(), node_args_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::setenv(key_environment_variable, key_hex_.c_str(), 1);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::dup2(to_node[0], 0);
    ::dup2(from_node[1], 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(to_node[0]);
  ::close(from_node[1]);
  ::fcntl(from_node[0], F_SETFL, O_NONBLOCK);
  node.name = options.name;
  node.pid = pid;
  node.command_fd = to_node[1];
  node.event_fd = from_node[0];
  node.alive = true;
}

void Fleet::start(const std::vector<NodeOptions>& nodes, double limit_s) {
  const std::size_t first = nodes_.size();
  nodes_.reserve(first + nodes.size());
  for (const auto& options : nodes) {
    nodes_.emplace_back();
    spawn(nodes_.back(), options);
  }
  std::size_t ready = 0;
  std::string failure;
  const bool all = wait(limit_s, [&](std::size_t i, const json& event) {
    if (i < first) return Take::skip;
    const auto kind = event.value("event", "");
    if (kind == "ready") {
      nodes_[i].spec = event.at("spec").dump();
      return ++ready == nodes.size() ? Take::done : Take::take;
    }
    if (kind == "error" || kind == "exit") {
      failure = nodes_[i].name + ": " + event.dump();
      return Take::done;
    }
    return Take::skip;
  });
  if (!failure.empty()) throw std::runtime_error("node did not start: " + failure);
  if (!all) throw std::runtime_error(std::to_string(ready) + " of " + std::to_string(nodes.size()) + " nodes ready");
}

void Fleet::send(std::size_t i, std::string_view line) {
  Node& node = nodes_.at(i);
  std::string text(line);
  text.push_back('\n');
  std::size_t done = 0;
  while (node.alive && done < text.size()) {
    const ssize_t n = ::write(node.command_fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(node.name + ": command pipe: " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  if (!node.alive) throw std::runtime_error(node.name + " is not running");
}

// Poll every live node's stdout once; complete lines become events. A node
// whose stdout ends yields {"event":"exit"}.
bool Fleet::read_events(int timeout_ms, std::vector<std::pair<std::size_t, json>>& out) {
  std::vector<pollfd> fds;
  std::vector<std::size_t> owners;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].event_fd < 0) continue;
    fds.push_back({nodes_[i].event_fd, POLLIN, 0});
    owners.push_back(i);
  }
  if (fds.empty()) return false;
  if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return false;
  char buffer[65536];
  for (std::size_t k = 0; k < fds.size(); ++k) {
    if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    Node& node = nodes_[owners[k]];
    const ssize_t n = ::read(node.event_fd, buffer, sizeof buffer);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      ::close(node.event_fd);
      node.event_fd = -1;
      node.alive = false;
      out.emplace_back(owners[k], json{{"event", "exit"}, {"t_ns", monotonic_ns()}});
      continue;
    }
    node.partial.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t end; (end = node.partial.find('\n')) != std::string::npos;) {
      const std::string line = node.partial.substr(0, end);
      node.partial.erase(0, end + 1);
      auto event = json::parse(line, nullptr, false);
      if (event.is_discarded() || !event.is_object()) {
        spdlog::warn("{}: not an event: {}", node.name, line);
        continue;
      }
      if (event.value("event", "") == "error") spdlog::warn("{}: {}", node.name, line);
      out.emplace_back(owners[k], std::move(event));
    }
    if (node.partial.size() > event_line_max_bytes) {
      throw std::runtime_error(node.name + ": event line over " + std::to_string(event_line_max_bytes) + " bytes");
    }
  }
  return true;
}

bool Fleet::wait(double limit_s, const std::function<Take(std::size_t, const json&)>& handle) {
  for (auto it = held_.begin(); it != held_.end();) {
    const Take take = handle(it->first, it->second);
    if (take == Take::skip) {
      ++it;
      continue;
    }
    it = held_.erase(it);
    if (take == Take::done) return true;
  }
  const auto deadline = monotonic_ns() + static_cast<std::int64_t>(limit_s * 1e9);
  std::vector<std::pair<std::size_t, json>> fresh;
  for (double left; (left = remaining_s(deadline)) > 0;) {
    fresh.clear();
    read_events(std::max(1, static_cast<int>(left * 1000)), fresh);
    for (std::size_t k = 0; k < fresh.size(); ++k) {
      const Take take = handle(fresh[k].first, fresh[k].second);
      if (take == Take::skip) held_.push_back(std::move(fresh[k]));
      if (take == Take::done) {
        for (std::size_t rest = k + 1; rest < fresh.size(); ++rest) held_.push_back(std::move(fresh[rest]));
        return true;
      }
    }
  }
  return false;
}

json Fleet::request(std::size_t i, std::string_view line, std::string_view reply, double limit_s) {
  send(i, line);
  json answer;
  const bool answered = wait(limit_s, [&](std::size_t from, const json& event) {
    if (from != i) return Take::skip;
    const auto kind = event.value("event", "");
    if (kind != reply && kind != "error" && kind != "exit") return Take::skip;
    answer = event;
    return Take::done;
  });
  if (!answered) throw std::runtime_error(name(i) + ": no '" + std::string(reply) + "' within limit for: " + std::string(line));
  if (answer.value("event", "") != reply) throw std::runtime_error(name(i) + ": " + answer.dump() + " for: " + std::string(line));
  return answer;
}

void Fleet::kill(std::size_t i) {
  Node& node = nodes_.at(i);
  if (node.pid > 0) ::kill(node.pid, SIGKILL);
  node.alive = false;
}

void Fleet::stop() {
  for (auto& node : nodes_) {
    if (node.command_fd >= 0) ::close(node.command_fd);
    node.command_fd = -1;
    node.alive = false;
  }
  const auto deadline = monotonic_ns() + std::int64_t{reap_limit_ms} * 1'000'000;
  for (auto& node : nodes_) {
    while (node.pid > 0) {
      int status = 0;
      const pid_t done = ::waitpid(node.pid, &status, WNOHANG);
      if (done == node.pid || (done < 0 && errno == ECHILD)) {
        node.pid = -1;
      } else if (monotonic_ns() > deadline) {
        spdlog::warn("{} (pid {}) did not exit: killing it", node.name, node.pid);
        ::kill(node.pid, SIGKILL);
        ::waitpid(node.pid, &status, 0);
        node.pid = -1;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    if (node.event_fd >= 0) ::close(node.event_fd);
    node.event_fd = -1;
  }
  nodes_.clear();
  held_.clear();
}

ProcessSample sample_process(pid_t pid) {
  ProcessSample sample;
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream stat(base + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return sample;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int index = 3; fields >> field && index <= 15; ++index) {  // field 3 is the state
    if (index == 14) utime = std::stod(field);
    if (index == 15) stime = std::stod(field);
  }
  sample.cpu_s = (utime + stime) / double(::sysconf(_SC_CLK_TCK));
  if (DIR* tasks = ::opendir((base + "/task").c_str())) {
    while (const dirent* entry = ::readdir(tasks)) {
      if (entry->d_name[0] == '.') continue;
      std::ifstream schedstat(base + "/task/" + entry->d_name + "/schedstat");
      double on_cpu_ns = 0;
      if (schedstat >> on_cpu_ns) sample.scheduled_s += on_cpu_ns * 1e-9;
    }
    ::closedir(tasks);
  }
  std::ifstream status(base + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_mib = std::stod(line.substr(6)) / 1024.0;
    if (line.rfind("RssAnon:", 0) == 0) sample.rss_anon_mib = std::stod(line.substr(8)) / 1024.0;
  }
  std::ifstream rollup(base + "/smaps_rollup");
  for (std::string line; std::getline(rollup, line);) {
    if (line.rfind("Pss:", 0) == 0) sample.pss_mib = std::stod(line.substr(4)) / 1024.0;
  }
  sample.ok = true;
  return sample;
}

}  // namespace plexus::bench
