// What a run records: the Jepsen-style history (invoke/ok/fail/info ops,
// nemesis steps, process events, membership observations; every event with
// a monotonic timestamp, written to history.jsonl as it happens) and the
// typed records the checkers read. Shared by the run's threads, so it locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plexus::harness {

/// One workload op (a send), from invoke to its outcome.
struct Op {
  std::uint64_t id = 0;
  std::string workload;  ///< acked, causal, unacked
  std::string from, to;
  double invoke_ms = 0;
  double complete_ms = -1;
  double invoke_wall_ms = 0;  ///< system clock, to compare with the sink's received_at
  std::string outcome;        ///< ok, fail, info ("" while in flight)
  std::string error;
};

/// A message the harness found in a node's sink.
struct Delivery {
  std::string node;
  std::string instance;  ///< the receiving incarnation
  std::uint64_t seq = 0;
  std::string from;
  std::string from_instance;
  std::uint64_t op_id = 0;
  std::string workload;
  double received_wall_ms = 0;
  double observed_ms = 0;
};

struct ProcessEvent {
  double t_ms = 0;
  std::string node;
  std::string event;  ///< started, killed, restarted, paused, resumed, left, rejoined, stopped
  std::string instance;
};

/// `observer` saw `peer` go up or down (transitions only).
struct Observation {
  double t_ms = 0;
  std::string observer, peer;
  bool up = false;
};

/// A fault as executed: when it started and ended, and which observer saw
/// which peer cut off (observer, peer) because of it.
struct FaultRecord {
  int id = 0;
  std::string fault;
  double start_ms = 0;
  double end_ms = -1;
  std::set<std::pair<std::string, std::string>> affected;
};

/// Counters scraped from one incarnation's /metrics.
struct MetricsSample {
  std::string node, instance;
  std::map<std::string, double> values;  ///< "plexus_messages_sent_total{channel=default}" summed over peers
};

/// A presence op's target (the Op with the same id has its node, times and outcome).
struct PresenceOp {
  std::uint64_t op_id = 0;
  std::string action;  ///< track, untrack, update
  std::string owner;   ///< the owner's tag, "NODE/INSTANCE/ID" (also in the meta, so lists show it)
  std::string topic, key;
};

/// One `list` of one topic on one node: which (key, owner) it showed, with the
/// op id of the meta it showed (the track or update that wrote it).
struct PresenceRead {
  std::string node, instance, topic;
  double start_ms = 0, end_ms = 0;
  bool final = false;  ///< taken after the liveness phase, once the nodes agreed (or a deadline)
  std::map<std::pair<std::string, std::string>, std::uint64_t> listed;  ///< (key, owner) -> meta op id
};

/// An owner the harness opened through the admin API; `lost_ms` when its lease ran out.
struct PresenceOwner {
  std::string node, instance;
  double opened_ms = 0;
  double lost_ms = -1;
};

/// Everything a run leaves for the checkers.
struct RunData {
  std::vector<std::string> names;
  std::set<std::string> workloads;  ///< kinds the scenario runs: checkers of the others are left out
  std::vector<Op> ops;
  std::vector<Delivery> deliveries;
  std::vector<ProcessEvent> processes;
  std::vector<Observation> observations;
  std::vector<FaultRecord> faults;
  std::vector<MetricsSample> metrics_start, metrics_end;
  /// Causal ops: message id -> ids of the messages that happened before it (as the harness saw).
  std::map<std::uint64_t, std::set<std::uint64_t>> causal_deps;
  std::vector<PresenceOp> presence_ops;
  std::vector<PresenceRead> presence_reads;
  std::map<std::string, PresenceOwner> presence_owners;  ///< by tag
  double fault_phase_end_ms = 0;  ///< when the final heal began
  std::optional<double> converged_after_heal_ms;
  double liveness_bound_ms = 0;
  int peer_timeout_ms = 0;
};

class History {
 public:
  explicit History(const std::string& jsonl_path);
  /// Milliseconds since the run started (monotonic).
  [[nodiscard]] double now_ms() const;
  /// Append an event (t_ms added) to history.jsonl.
  void record(nlohmann::json event);

  std::uint64_t invoke(const std::string& workload, const std::string& from, const std::string& to,
                       const nlohmann::json& value);
  void complete(std::uint64_t id, const std::string& outcome, const std::string& error);
  void delivered(Delivery d);
  void process(const std::string& node, const std::string& event, const std::string& instance);
  void observed(const std::string& observer, const std::string& peer, bool up);
  int fault_started(const std::string& fault, int id, std::set<std::pair<std::string, std::string>> affected);
  void fault_ended(int id);
  void causal_past(std::uint64_t op_id, const std::set<std::uint64_t>& past);
  [[nodiscard]] std::set<std::uint64_t> causal_past_of(std::uint64_t op_id) const;
  void presence_op(PresenceOp op);
  void presence_read(PresenceRead read);
  void presence_owner(const std::string& tag, const std::string& event, PresenceOwner owner);

  /// Take the data (call once every thread stopped).
  RunData& data() { return data_; }
  [[nodiscard]] std::size_t events() const;
  [[nodiscard]] std::vector<Op> ops_snapshot() const;
  [[nodiscard]] std::size_t deliveries_of(std::uint64_t op_id) const;

 private:
  void write(nlohmann::json event);
  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::ofstream out_;
  std::size_t events_ = 0;
  std::uint64_t next_op_ = 1;
  std::map<std::uint64_t, std::size_t> op_index_;
  std::map<std::uint64_t, std::size_t> delivered_count_;
  RunData data_;
};

}  // namespace plexus::harness
