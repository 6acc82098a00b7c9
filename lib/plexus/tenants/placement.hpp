// Placement, sans-IO: which node owns a tenant, and whether it may run it
// while the cluster is split.
//
// Owner, sticky: a tenant that an up candidate (an up member hosting its
// module) announces running stays there (several such claimants, after a
// heal: resolve() picks one). Only a tenant no candidate runs — new, or its
// owner down or gone — is placed by rendezvous (highest random weight)
// hashing: each candidate scores score(node, tenant), the highest owns it
// (ties, which need a 64-bit collision, by name). So a leaving node's
// tenants move and nothing else does, and a joining node takes nothing
// until rebalancing (opt-in, rate-limited: plan.hpp) hands tenants over to
// their rendezvous owner.
//
// Split brain, a per-module Policy:
//   majority  — a node runs tenants only while it sees a strict majority of
//               the cluster's members (itself included), and only after that
//               has held for stable_after; it stops them the moment it does
//               not. Two sides cannot both hold a strict majority, so at most
//               one side runs a tenant (given the members agree on the member
//               list; membership changes go through that same majority).
//   available — every side runs the tenants it owns in its own view; on heal
//               resolve() picks one winner among the nodes that ran a tenant,
//               the same on every node, and names the losers, which stop with
//               `conflict` and tell their callers.
// Fencing (fence.hpp) is what stops a stale owner's writes either way.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/core/time.hpp"

namespace plexus::tenants {

/// A member as placement sees it: up or not, and the modules it hosts.
struct Member {
  std::string name;
  bool up = true;
  std::set<std::string, std::less<>> modules;
  std::set<std::string, std::less<>> running;  ///< the tenants it announced running
};

enum class Policy : std::uint8_t { majority, available };
/// majority on clusters of 3 or more members, available below.
Policy default_policy(std::size_t cluster_members) noexcept;

/// The rendezvous weight of `node` for `tenant`: the same on every build.
std::uint64_t rendezvous_score(std::string_view node, std::string_view tenant) noexcept;
/// The up members hosting `module`, in name order.
std::vector<std::string> candidates(std::span<const Member> members, std::string_view module);
/// The highest-scoring of `candidates` for `tenant`; nullopt when there are none.
std::optional<std::string> owner_of(std::string_view tenant, std::span<const std::string> candidates);

/// The sticky owner of `tenant` (see the file comment): among the up
/// members hosting `module`, the claimant resolve() keeps if any announces
/// running it, else the rendezvous owner; nullopt without candidates. The
/// same on every node that sees the same members and announcements.
std::optional<std::string> placed_owner(std::string_view tenant, std::string_view module,
                                        std::span<const Member> members);

/// Timing of the majority policy.
struct QuorumOptions {
  /// How long a majority must have been seen before tenants start.
  std::chrono::milliseconds stable_after{2'000};
};

/// Whether this node may run tenants, from what it sees of the cluster. Fed
/// with the member count and how many of them it sees up (itself included)
/// whenever either changes, with the time.
class Quorum {
 public:
  explicit Quorum(QuorumOptions options = {}) : options_(options) {}
  void observe(std::size_t members, std::size_t visible, Time now);
  /// available: always; majority: a strict majority seen for stable_after.
  [[nodiscard]] bool may_run(Policy policy, Time now) const;
  [[nodiscard]] bool has_majority() const { return majority_since_.has_value(); }
  /// When may_run(majority) next becomes true; Time::max() if it will not by itself.
  [[nodiscard]] Time next_deadline() const;

 private:
  QuorumOptions options_;
  std::optional<Time> majority_since_;
};

/// One node's claim to run a tenant, met after a heal.
struct Claim {
  std::string node;
  std::uint64_t epoch = 0;  ///< its lease epoch (0 without a shared datastore)
};

/// Who keeps a tenant that ran on several nodes: one winner, the rest stop.
struct Resolution {
  std::string winner;
  std::vector<std::string> losers;  ///< in name order
};

/// The same answer on every node whatever the claims' order: the claimant
/// with the highest fencing epoch (it holds the lease, so its writes are the
/// ones the datastore takes), then the highest rendezvous score. Empty
/// winner when there are no claims.
Resolution resolve(std::string_view tenant, std::span<const Claim> claims);

}  // namespace plexus::tenants
