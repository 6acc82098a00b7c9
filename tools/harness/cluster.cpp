#include "tools/harness/cluster.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/secure/cluster_key.hpp"

namespace plexus::harness {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
constexpr auto ready_deadline = 10s;
constexpr auto leave_deadline = 5s;
constexpr auto stop_grace = 3s;
constexpr int sink_capacity = 1'000'000;  // the harness polls often; nothing may be evicted before it reads
}  // namespace

struct Cluster::Proc {
  NodeView view;
  std::optional<tools::Child> child;
  std::ofstream log;
};

Cluster::Cluster(ClusterOptions options, History& history) : options_(std::move(options)), history_(history) {}

Cluster::~Cluster() { stop_all(); }

fs::path Cluster::log_path(const std::string& name) const { return options_.dir / "logs" / (name + ".log"); }

Result<void> Cluster::start(const std::vector<std::string>& names) {
  fs::create_directories(options_.dir / "logs");
  fs::create_directories(options_.dir / "data");
  const auto key_file = options_.dir / "cluster.key";
  std::error_code ec;
  fs::remove(key_file, ec);
  if (auto key = secure::write_new_cluster_key(key_file); !key) return key.error();
  auto token = tools::admin_token_from(key_file.string(), "");
  if (!token) return token.error();
  token_ = *token;
  pump_ = std::thread([this] { pump_loop(); });
  std::string first_spec;
  for (const auto& name : names) {
    std::vector<std::string> joins;
    if (!first_spec.empty()) joins.push_back(first_spec);
    if (auto ok = spawn(name, joins, "started"); !ok) return ok;
    if (first_spec.empty()) {
      std::lock_guard lock(mutex_);
      first_spec = procs_.at(name)->view.address;
    }
  }
  return {};
}

Result<void> Cluster::spawn(const std::string& name, const std::vector<std::string>& joins, const std::string& event) {
  std::lock_guard lock(mutex_);
  auto& slot = procs_[name];
  if (!slot) {
    slot = std::make_unique<Proc>();
    slot->view.name = name;
    slot->log.open(log_path(name), std::ios::app);
  }
  Proc& proc = *slot;
  // plexusd dials from its listen address (the peer service's default), so
  // every packet of this node carries its own address: what net faults match.
  const auto address = options_.addresses.count(name) ? options_.addresses.at(name) : std::string("127.0.0.1");
  std::vector<std::string> argv = {options_.plexusd.string(), "--name", name, "--listen", address + ":0",
                                   "--admin", address + ":0", "--secret-file", (options_.dir / "cluster.key").string(),
                                   "--data-dir", (options_.dir / "data" / name).string(),
                                   "--sink-capacity", std::to_string(sink_capacity)};
  argv.insert(argv.end(), options_.node_flags.begin(), options_.node_flags.end());
  for (const auto& j : joins) argv.insert(argv.end(), {"--join", j});
  proc.log << "=== plexus-harness: " << event << " at t=" << history_.now_ms() << " ms\n" << std::flush;
  auto child = tools::Child::spawn(argv);
  if (!child) return child.error();
  auto line = child->read_line(ready_deadline);
  proc.child.emplace(std::move(*child));
  if (!line) {
    pump_one(proc);
    return make_error(errc::io_error, name + " did not report ready: " + line.error().detail + " (log " +
                                          log_path(name).string() + ")");
  }
  auto ready = nlohmann::json::parse(*line, nullptr, false);
  if (ready.is_discarded() || !ready.contains("spec") || !ready.contains("admin")) {
    return make_error(errc::io_error, name + " printed an unexpected ready line: " + *line);
  }
  const auto& addr = ready["spec"]["listen_addrs"][0];
  proc.view.address = addr["ip"].get<std::string>() + ":" + std::to_string(addr["port"].get<int>());
  proc.view.instance = ready["spec"].value("instance_id", "");
  auto admin = tools::AdminClient::create(ready["admin"].get<std::string>(), token_);
  if (!admin) return admin.error();
  proc.view.admin = std::move(*admin);
  proc.view.state = NodeState::running;
  ++proc.view.generation;
  history_.process(name, event, proc.view.instance);
  return {};
}

std::vector<NodeView> Cluster::nodes() const {
  std::lock_guard lock(mutex_);
  std::vector<NodeView> out;
  for (const auto& [name, proc] : procs_) out.push_back(proc->view);
  return out;
}

NodeView Cluster::node(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = procs_.find(name);
  if (it != procs_.end()) return it->second->view;
  NodeView none;
  none.name = name;
  return none;
}

std::string Cluster::running_address_except(const std::string& name) const {
  for (const auto& [other, proc] : procs_) {
    if (other != name && proc->view.state == NodeState::running) return proc->view.address;
  }
  return "";
}

Result<void> Cluster::kill(const std::string& name) {
  std::lock_guard lock(mutex_);
  Proc& proc = *procs_.at(name);
  if (!proc.child || proc.view.state == NodeState::killed || proc.view.state == NodeState::left) {
    return make_error(errc::invalid_field, name + " is not running");
  }
  ::kill(proc.child->pid(), SIGKILL);
  proc.child->stop(stop_grace);  // reaps it
  pump_one(proc);
  proc.child.reset();
  proc.view.state = NodeState::killed;
  history_.process(name, "killed", proc.view.instance);
  return {};
}

Result<void> Cluster::restart(const std::string& name) {
  std::vector<std::string> joins;
  {
    std::lock_guard lock(mutex_);
    if (procs_.at(name)->view.state != NodeState::killed) return make_error(errc::invalid_field, name + " is not killed");
    if (auto other = running_address_except(name); !other.empty()) joins.push_back(other);
  }
  return spawn(name, joins, "restarted");
}

Result<void> Cluster::pause(const std::string& name) {
  std::lock_guard lock(mutex_);
  Proc& proc = *procs_.at(name);
  if (proc.view.state != NodeState::running) return make_error(errc::invalid_field, name + " is not running");
  proc.child->signal(SIGSTOP);
  proc.view.state = NodeState::paused;
  history_.process(name, "paused", proc.view.instance);
  return {};
}

Result<void> Cluster::resume(const std::string& name) {
  std::lock_guard lock(mutex_);
  Proc& proc = *procs_.at(name);
  if (proc.view.state != NodeState::paused) return make_error(errc::invalid_field, name + " is not paused");
  proc.child->signal(SIGCONT);
  proc.view.state = NodeState::running;
  history_.process(name, "resumed", proc.view.instance);
  return {};
}

Result<void> Cluster::leave(const std::string& name) {
  const NodeView view = node(name);
  if (view.state != NodeState::running || !view.admin) return make_error(errc::invalid_field, name + " is not running");
  auto answer = view.admin->post("/v1/leave", nlohmann::json::object(), 3s);
  std::lock_guard lock(mutex_);
  Proc& proc = *procs_.at(name);
  if (!answer || answer->status != 200) {
    return make_error(errc::io_error, name + ": leave refused: " + (answer ? answer->body : answer.error().message()));
  }
  const auto until = std::chrono::steady_clock::now() + leave_deadline;
  while (!proc.child->try_wait() && std::chrono::steady_clock::now() < until) {
    pollfd p{proc.child->stderr_fd(), POLLIN, 0};  // wait for its last log lines or its exit
    if (::poll(&p, 1, 20) > 0) pump_one(proc);
  }
  const int status = proc.child->stop(stop_grace);
  pump_one(proc);
  proc.child.reset();
  proc.view.state = NodeState::left;
  history_.process(name, "left", proc.view.instance);
  if (status != 0) return make_error(errc::io_error, name + " did not exit cleanly after leaving: " + tools::describe_status(status));
  return {};
}

Result<void> Cluster::rejoin(const std::string& name) {
  std::vector<std::string> joins;
  {
    std::lock_guard lock(mutex_);
    if (procs_.at(name)->view.state != NodeState::left) return make_error(errc::invalid_field, name + " has not left");
    auto other = running_address_except(name);
    if (other.empty()) return make_error(errc::invalid_field, "no running node for " + name + " to join");
    joins.push_back(other);
    std::error_code ec;
    fs::remove_all(options_.dir / "data" / name, ec);  // a left node comes back as a new member
  }
  return spawn(name, joins, "rejoined");
}

void Cluster::stop_all() {
  {
    std::lock_guard lock(mutex_);
    // One SIGTERM each (plexusd takes a second one as "stop at once"), all in parallel.
    for (auto& [name, proc] : procs_) {
      if (!proc->child) continue;
      proc->child->signal(SIGCONT);
      proc->child->signal(SIGTERM);
    }
    const auto until = std::chrono::steady_clock::now() + stop_grace;
    for (bool running = true; running && std::chrono::steady_clock::now() < until;) {
      running = false;
      for (auto& [name, proc] : procs_) {
        if (!proc->child || proc->child->try_wait()) continue;
        running = true;
        pollfd p{proc->child->stderr_fd(), POLLIN, 0};  // their last log lines, or a short wait
        if (::poll(&p, 1, 10) > 0) pump_one(*proc);
      }
    }
    for (auto& [name, proc] : procs_) {
      if (!proc->child) continue;
      int status = 0;
      if (auto exited = proc->child->try_wait()) {
        status = *exited;
      } else {
        ::kill(proc->child->pid(), SIGKILL);
        status = proc->child->stop(stop_grace);
      }
      pump_one(*proc);
      proc->child.reset();
      proc->log << "=== plexus-harness: stopped, " << tools::describe_status(status) << "\n" << std::flush;
      if (proc->view.state != NodeState::left && proc->view.state != NodeState::killed) {
        proc->view.state = NodeState::killed;
        history_.process(name, "stopped", proc->view.instance);
      }
    }
  }
  stopping_ = true;
  if (pump_.joinable()) pump_.join();
}

void Cluster::pump_one(Proc& proc) {
  if (!proc.child) return;
  char buffer[16384];
  for (int rounds = 0; rounds < 64; ++rounds) {  // bounded: at most 1 MiB per call
    pollfd p{proc.child->stderr_fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) return;
    const ssize_t n = ::read(proc.child->stderr_fd(), buffer, sizeof buffer);
    if (n <= 0) return;
    proc.log.write(buffer, n);
  }
  proc.log.flush();
}

void Cluster::pump_loop() {
  while (!stopping_) {
    std::vector<pollfd> fds;
    {
      std::lock_guard lock(mutex_);
      for (auto& [name, proc] : procs_) {
        if (proc->child) fds.push_back({proc->child->stderr_fd(), POLLIN, 0});
      }
    }
    if (fds.empty()) {
      std::this_thread::sleep_for(50ms);  // nothing to read yet; stopping_ is checked each round
      continue;
    }
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    std::lock_guard lock(mutex_);
    for (auto& [name, proc] : procs_) {
      if (!proc->child) continue;
      pump_one(*proc);
      // A node that exits on its own (a crash, not the nemesis) is recorded once and reaped.
      if (proc->view.state == NodeState::running && proc->child->try_wait()) {
        proc->log << "=== plexus-harness: exited on its own, " << tools::describe_status(*proc->child->try_wait()) << "\n";
        proc->child.reset();
        proc->view.state = NodeState::killed;
        history_.process(name, "exited", proc->view.instance);
      }
    }
  }
}

}  // namespace plexus::harness
