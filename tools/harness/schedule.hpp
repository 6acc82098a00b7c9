// The seeded plan of a run, computed before anything starts and free of
// clocks, sockets and threads: the nemesis steps (partition shapes as grudge
// maps, kill/restart, pause/resume, flapping, swizzle, churn) and each
// workload's ops (when, from which node, to which). Same scenario, node count
// and seed => the same plan, bit for bit (own RNG use, no std distributions).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tools/harness/scenario.hpp"

namespace plexus::harness {

/// One injected partition: `node` drops its traffic with `peer` in `direction`
/// ("both", "inbound" or "outbound"), as POST /v1/partitions on `node` (api
/// mode) or as nftables rules on the pair's addresses (net mode).
struct Cut {
  std::string node;
  std::string peer;
  std::string direction = "both";
  bool operator<(const Cut& o) const {
    return std::tie(node, peer, direction) < std::tie(o.node, o.peer, o.direction);
  }
  bool operator==(const Cut& o) const = default;
};
/// Who drops whom: the grudge map of a partition shape.
using Grudge = std::vector<Cut>;

enum class Action { cut, heal, kill, restart, pause, resume, leave, rejoin };

struct Step {
  double at_ms = 0;      ///< from the start of the run's fault phase
  Action action = Action::cut;
  int fault_id = 0;      ///< steps of one fault share it
  std::string fault;     ///< "partition:halves", "kill", "churn", ...
  std::vector<std::string> targets;  ///< kill/pause/leave: the node; cut/heal: the nodes involved
  Grudge grudge;         ///< cut/heal: the partitions added or removed
  FaultMode mode = FaultMode::api;        ///< cut/heal: through the node's API or nftables
  NetFlavour flavour = NetFlavour::drop;  ///< net mode: drop or reset
};

/// Node names of a run: n1..nN.
std::vector<std::string> node_names(int nodes);

/// A partition shape over `names` as a grudge map; random choices from `rng`.
Grudge shape_grudge(Shape shape, const std::vector<std::string>& names, std::mt19937_64& rng);
/// Every node in `isolated` cut (both ways, on both sides) from every other node.
Grudge isolate(const std::vector<std::string>& isolated, const std::vector<std::string>& names);

/// The nemesis steps (churn included), in time order.
std::vector<Step> plan_nemesis(const Scenario& scenario, int nodes, std::uint64_t seed);

struct PlannedOp {
  double at_ms = 0;
  int from = 0;  ///< node index
  int to = 0;    ///< node index, != from when there are two nodes or more
};
/// Ops of scenario.workloads[index] over the run, at most `ops_max`.
std::vector<PlannedOp> plan_workload(const Scenario& scenario, std::size_t index, int nodes, std::uint64_t seed,
                                     std::size_t ops_max = 200'000);

nlohmann::json to_json(const Step& step);
std::string to_string(Action action);

}  // namespace plexus::harness
