// The real plexusd processes of a run: start them on loopback, each on its
// own 127.0.0.x address for peers, admin and outgoing connections (fresh key,
// port 0, a data dir each), join them, and kill -9 / restart / SIGSTOP /
// SIGCONT / leave / rejoin them on the nemesis's orders. Every node's stderr
// goes to DIR/logs/NAME.log (one pump thread, so no pipe ever fills). The
// destructor stops whatever still runs: no process outlives the harness.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plexus/core/result.hpp"
#include "tools/cli/admin_client.hpp"
#include "tools/common/process.hpp"
#include "tools/harness/history.hpp"

namespace plexus::harness {

enum class NodeState { running, paused, killed, left };

struct ClusterOptions {
  std::filesystem::path plexusd;
  std::filesystem::path dir;              ///< key, data/NAME, logs/NAME.log
  std::vector<std::string> node_flags;    ///< extra plexusd flags for every node
  std::map<std::string, std::string> addresses;  ///< node name -> its IP (127.0.0.1 when absent)
};

/// What other threads may use of a node: a copy, valid until the node restarts.
struct NodeView {
  std::string name;
  NodeState state = NodeState::killed;
  std::string instance;
  std::string address;  ///< peer IP:PORT
  std::optional<tools::AdminClient> admin;
  int generation = 0;   ///< bumps at every start
};

class Cluster {
 public:
  Cluster(ClusterOptions options, History& history);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  /// Write the key, start `names` in order, each joining the first by spec.
  Result<void> start(const std::vector<std::string>& names);
  [[nodiscard]] std::vector<NodeView> nodes() const;
  [[nodiscard]] NodeView node(const std::string& name) const;

  Result<void> kill(const std::string& name);
  /// Start again with the same data dir (it rejoins from its saved membership).
  Result<void> restart(const std::string& name);
  Result<void> pause(const std::string& name);
  Result<void> resume(const std::string& name);
  /// POST /v1/leave and wait for the process to exit.
  Result<void> leave(const std::string& name);
  /// Start a left node afresh (empty data dir), joining a running member.
  Result<void> rejoin(const std::string& name);
  /// Stop every process (SIGCONT, SIGTERM, then SIGKILL after a grace period).
  void stop_all();
  [[nodiscard]] const std::string& token() const { return token_; }
  [[nodiscard]] std::filesystem::path log_path(const std::string& name) const;

 private:
  struct Proc;
  Result<void> spawn(const std::string& name, const std::vector<std::string>& joins, const std::string& event);
  void pump_loop();
  void pump_one(Proc& proc);
  std::string running_address_except(const std::string& name) const;

  ClusterOptions options_;
  History& history_;
  std::string token_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Proc>> procs_;
  std::atomic<bool> stopping_{false};
  std::thread pump_;
};

}  // namespace plexus::harness
