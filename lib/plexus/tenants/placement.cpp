// Rendezvous hashing, the majority quorum with its stable_after delay, and
// the resolution of duplicate owners on heal (see placement.hpp).
#include "plexus/tenants/placement.hpp"

#include <algorithm>

#include "plexus/replica/schema.hpp"

namespace plexus::tenants {

Policy default_policy(std::size_t cluster_members) noexcept {
  return cluster_members >= 3 ? Policy::majority : Policy::available;
}

std::uint64_t rendezvous_score(std::string_view node, std::string_view tenant) noexcept {
  replica::Fnv1a hash;
  hash.text(node);
  hash.text(tenant);
  // FNV's low bits mix poorly: a splitmix64 finalizer spreads them.
  std::uint64_t x = hash.value();
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

std::vector<std::string> candidates(std::span<const Member> members, std::string_view module) {
  std::vector<std::string> out;
  for (const auto& member : members) {
    if (member.up && member.modules.contains(module)) out.push_back(member.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

/// Whether `a` outranks `b` for `tenant`: higher score, then greater name.
bool outranks(std::string_view tenant, std::string_view a, std::string_view b) {
  const auto sa = rendezvous_score(a, tenant);
  const auto sb = rendezvous_score(b, tenant);
  return sa != sb ? sa > sb : a > b;
}

}  // namespace

std::optional<std::string> owner_of(std::string_view tenant, std::span<const std::string> candidates) {
  if (candidates.empty()) return std::nullopt;
  const std::string* best = &candidates.front();
  for (const auto& node : candidates) {
    if (outranks(tenant, node, *best)) best = &node;
  }
  return *best;
}

std::optional<std::string> placed_owner(std::string_view tenant, std::string_view module,
                                        std::span<const Member> members) {
  std::vector<Claim> claims;
  for (const auto& member : members) {
    if (member.up && member.modules.contains(module) && member.running.contains(tenant)) {
      claims.push_back(Claim{member.name, 0});
    }
  }
  if (!claims.empty()) return resolve(tenant, claims).winner;
  return owner_of(tenant, candidates(members, module));
}

void Quorum::observe(std::size_t members, std::size_t visible, Time now) {
  const bool majority = members > 0 && visible * 2 > members;
  if (!majority) {
    majority_since_.reset();  // the minority stops at once
  } else if (!majority_since_) {
    majority_since_ = now;
  }
}

bool Quorum::may_run(Policy policy, Time now) const {
  if (policy == Policy::available) return true;
  return majority_since_ && now - *majority_since_ >= options_.stable_after;
}

Time Quorum::next_deadline() const {
  return majority_since_ ? *majority_since_ + options_.stable_after : Time::max();
}

Resolution resolve(std::string_view tenant, std::span<const Claim> claims) {
  Resolution out;
  if (claims.empty()) return out;
  const Claim* best = &claims.front();
  for (const auto& claim : claims) {
    const bool better = claim.epoch != best->epoch ? claim.epoch > best->epoch : outranks(tenant, claim.node, best->node);
    if (better) best = &claim;
  }
  out.winner = best->node;
  for (const auto& claim : claims) {
    if (claim.node != out.winner) out.losers.push_back(claim.node);
  }
  std::sort(out.losers.begin(), out.losers.end());
  out.losers.erase(std::unique(out.losers.begin(), out.losers.end()), out.losers.end());
  return out;
}

}  // namespace plexus::tenants
