// plexus-harness scenarios: what to run against a cluster (workloads at a
// rate, a nemesis schedule, the liveness bound), read from JSON and checked
// strictly: an unknown key, a wrong type or a value out of range is an error
// naming its field path ("workloads[1].rate_per_s: must be 0.1..1000").
// docs/harness.md documents every field.
#pragma once

#include "plexus/core/partition_shape.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plexus/core/result.hpp"

namespace plexus::harness {

/// Workload kinds: a new kind is one enum value, one parser branch (scenario.cpp) and one
/// driver (workloads.cpp; presence: workload_presence.cpp).
enum class WorkloadKind { acked, causal, unacked, churn, presence };

struct Workload {
  WorkloadKind kind = WorkloadKind::acked;
  double rate_per_s = 10;        ///< ops per second (churn: leaves per second)
  int concurrency = 4;           ///< ops in flight at once
  int timeout_ms = 3000;         ///< acked sends: how long one send waits for its ack
  bool transitive = false;       ///< acked/causal/unacked: allow relays
  std::string label = "harness"; ///< causal: the causal label
  int rejoin_after_ms = 1500;    ///< churn: a left node is started again this much later
  int topics = 3;                ///< presence: topics t0..t(N-1)
  int keys = 8;                  ///< presence: keys k0..k(N-1) per topic
  double update_share = 0.3;     ///< presence: share of ops on a tracked key that update (the rest untrack)
  int lease_ms = 5000;           ///< presence: owner lease, renewed by the harness every lease_ms / 4
  int read_interval_ms = 200;    ///< presence: every node lists every topic this often
};

enum class FaultKind { partition, kill, pause, flap, swizzle };

/// Partition shapes, as in Jepsen's partition nemeses.
/// Partition shapes: the generator shared with plexus-sim (core/partition_shape.hpp).
using Shape = core::PartitionShape;

/// How a partition is made: the node drops its own traffic (POST /v1/partitions),
/// or nftables drops the packets between node addresses (netfilter.hpp).
enum class FaultMode { api, net };
/// net mode: packets vanish silently, or TCP is reset.
enum class NetFlavour { drop, reject };

struct Fault {
  FaultKind kind = FaultKind::partition;
  FaultMode mode = FaultMode::api;        ///< partition, flap, swizzle
  NetFlavour flavour = NetFlavour::drop;  ///< net mode only
  Shape shape = Shape::halves;   ///< partition and flap
  int flap_period_ms = 400;      ///< flap: cut and heal alternate this often
  int swizzle_step_ms = 300;     ///< swizzle: one node clogged (then unclogged) per step
};

struct Nemesis {
  std::vector<Fault> faults;     ///< picked in turn by the seeded schedule
  double start_s = 1;            ///< first fault
  double interval_s = 3;         ///< a fault starts this often
  double fault_duration_s = 2;   ///< and lasts this long (at most interval_s)
};

struct Scenario {
  std::string name;
  std::string description;
  int nodes = 5;
  double duration_s = 10;        ///< workloads and faults run this long
  std::optional<std::uint64_t> seed;
  /// Node i (n1..nN) listens, serves admin and dials from this address plus i-1; inside 127.0.0.0/8.
  std::string first_address = "127.0.0.2";
  double liveness_bound_s = 15;  ///< after the heal, convergence must come within this
  std::vector<Workload> workloads;
  Nemesis nemesis;
  /// plexusd settings, as flags without "--" ("peer_timeout_ms": 600); see node_flags().
  std::map<std::string, nlohmann::json> node_settings;
};

/// Each node's loopback address (first_address onwards), or an error naming
/// first_address when one falls outside 127.0.0.0/8 or is 127.0.0.1 (the harness's own).
Result<std::vector<std::string>> node_addresses(const Scenario& scenario, int nodes);
/// The field path of the first fault in net mode ("nemesis.faults[2].mode"), if any.
std::optional<std::string> first_net_fault(const Scenario& scenario);

/// Parse and check a scenario document; `source` names it in errors.
Result<Scenario> parse_scenario(const nlohmann::json& document);
/// Read and parse a scenario file.
Result<Scenario> load_scenario(const std::string& path);
/// The plexusd flags for the scenario's node settings over the harness defaults.
std::vector<std::string> node_flags(const Scenario& scenario);
/// The scenario back as JSON (every field, defaults filled in), for the report.
nlohmann::json to_json(const Scenario& scenario);

std::string to_string(WorkloadKind kind);
std::string to_string(FaultKind kind);
std::string to_string(Shape shape);
/// "api", "net drop" or "net reject".
std::string mode_label(FaultMode mode, NetFlavour flavour);
/// Every shape name, for `plexus-harness list`.
std::vector<std::string> shape_names();
std::vector<std::string> fault_names();
std::vector<std::string> workload_names();

}  // namespace plexus::harness
