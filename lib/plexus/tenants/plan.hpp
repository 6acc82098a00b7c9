// The placement plan of one node, sans-IO: from the registry it holds, the
// members it sees and its quorum, which tenants it should start, stop, or
// carry through an uninstall. The node shell applies the plan to its
// Lifecycles (start = install or resume from the snapshot, stop = graceful
// stop for a handoff); the simulator is meant to run it on every virtual node (not wired yet).
#pragma once

#include <functional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/tenants/placement.hpp"
#include "plexus/tenants/registry.hpp"

namespace plexus::tenants {

/// What one node should change, each list in id order.
struct Plan {
  std::vector<std::string> start;      ///< owned here, may run, not running here yet
  std::vector<std::string> stop;       ///< running here but no longer ours (or not runnable, or gone)
  std::vector<std::string> uninstall;  ///< running here and desired uninstalled: run its uninstall
  /// Tenants (in `stop`) handed over to their rendezvous owner by rebalancing.
  std::size_t rebalanced = 0;
  /// Tenants that rebalancing would move but `rebalance_max` held back.
  std::size_t rebalance_waiting = 0;
  friend bool operator==(const Plan&, const Plan&) = default;
};

/// The split-brain policy of a module (the shell's configuration).
using PolicyOf = std::function<Policy(std::string_view module)>;

/// The plan of node `self` (see the file comment). A tenant is ours when it
/// is desired running, `self` is its placed_owner() among `members` (with
/// `running_here` as self's running set: sticky, a join moves nothing), and
/// the quorum lets its module's policy run now. Rebalancing: up to
/// `rebalance_max` tenants ours whose rendezvous owner is another candidate
/// are stopped here (id order), so that the rendezvous owner, then finding
/// no running owner, starts them; the shell rate-limits `rebalance_max`.
Plan plan(std::string_view self, std::span<const Registered> registry, std::span<const Member> members,
          const std::set<std::string, std::less<>>& running_here, const Quorum& quorum, const PolicyOf& policy_of,
          Time now, std::size_t rebalance_max = 0);

}  // namespace plexus::tenants
