// One run of a scenario against real processes: the threads that drive the
// workloads, follow every sink and every membership view, and play the
// nemesis steps; then the heal, the liveness phase and the final drain.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/harness/cluster.hpp"
#include "tools/harness/history.hpp"
#include "tools/harness/netfilter.hpp"
#include "tools/harness/scenario.hpp"
#include "tools/harness/schedule.hpp"

namespace plexus::harness {

/// Set by SIGINT/SIGTERM: every loop of the run checks it and winds down.
extern std::atomic<bool> interrupted;

struct RunOptions {
  Scenario scenario;  ///< with --nodes/--duration-s applied
  std::uint64_t seed = 0;
  std::filesystem::path out;
  std::filesystem::path plexusd;
};

struct RunResult {
  bool harness_error = false;
  std::string error;  ///< when harness_error
};

class Runner {
 public:
  Runner(RunOptions options, History& history);
  /// Start the cluster, run workloads and nemesis, heal, check liveness, drain, stop.
  RunResult run();

 private:
  // workloads.cpp
  void run_workload(std::size_t index, const std::vector<PlannedOp>& plan);
  void do_send(const Workload& w, const PlannedOp& op);
  // workload_presence.cpp
  void do_presence(const Workload& w, const PlannedOp& op, std::size_t index);
  void presence_loop();
  /// List every topic on every running node (and renew leases that are due); true when all agreed.
  bool presence_round(bool final);
  void presence_settle();
  std::optional<std::string> presence_owner(const std::string& node, std::int64_t& id);
  void renew_owner(const NodeView& node);
  // observers.cpp
  void poll_sinks_loop();
  void poll_sink(const NodeView& node);
  void observe_loop();
  void observe(const NodeView& node);
  bool converged(std::string& why);
  void scrape(const NodeView& node, std::vector<MetricsSample>& into);
  // nemesis.cpp
  void nemesis_loop(const std::vector<Step>& steps);
  void execute(const Step& step);
  /// Add or remove the grudge's partitions; the calls that failed, as text.
  std::vector<std::string> apply_cuts(const Grudge& grudge, bool add);
  [[nodiscard]] int partition_ttl_ms() const;
  /// net mode: add or remove the step's grudge as nftables rules; the failures, as text.
  std::vector<std::string> apply_net(const Step& step, bool add);
  void reapply_cuts(const std::string& node);
  void heal_everything();
  void before_stop(const std::string& node);

  bool wait_until(double at_ms) const;  // false when interrupted

  RunOptions options_;
  History& history_;
  Cluster cluster_;
  std::vector<std::string> names_;
  double phase_start_ms_ = 0;
  std::atomic<bool> stop_observers_{false};

  // sink following: per node, the incarnation and last seq read
  std::mutex sink_mutex_;
  std::map<std::string, std::pair<int, std::uint64_t>> sink_cursor_;

  // membership views: per observer generation, the last up/down per peer
  std::mutex view_mutex_;
  std::map<std::string, std::pair<int, std::map<std::string, bool>>> views_;

  // causal knowledge: what each node has seen (sent or had delivered), as message ids
  std::mutex causal_mutex_;
  std::map<std::string, std::set<std::uint64_t>> known_;

  // presence: the workload (if any), each node's current owner, and what the harness
  // believes each (node, topic, key) of that owner is: 0 absent, 1 tracked, 2 unknown; busy while an op runs
  const Workload* presence_ = nullptr;
  struct PresenceOwnerSlot {
    int generation = 0;
    std::int64_t id = 0;
    std::string tag;
    double renewed_ms = 0;
  };
  struct PresenceKey {
    int state = 0;
    bool busy = false;
  };
  std::mutex presence_mutex_;
  std::map<std::string, PresenceOwnerSlot> presence_owners_;
  std::map<std::tuple<std::string, std::string, std::string>, PresenceKey> presence_keys_;

  // partitions in force: refcount and the node's partition ref per cut
  std::mutex cut_mutex_;
  std::map<Cut, std::pair<int, std::int64_t>> cuts_;
  std::map<int, int> open_faults_;  // fault id -> steps still to undo
  // net mode: the harness's nftables table (when a fault uses it), each node's address,
  // and the rules in force with how many steps want each
  std::unique_ptr<NetFilter> net_;
  std::map<std::string, std::string> addresses_;
  std::map<NetRule, int> net_rules_;
};

}  // namespace plexus::harness
