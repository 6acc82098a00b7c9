// One node's placement plan (see plan.hpp).
#include "plexus/tenants/plan.hpp"

#include <algorithm>
#include <map>

namespace plexus::tenants {
namespace {

/// `members` with self's running set replaced by what runs here now.
std::vector<Member> with_self(std::string_view self, std::span<const Member> members,
                              const std::set<std::string, std::less<>>& running_here) {
  std::vector<Member> out(members.begin(), members.end());
  for (auto& member : out) {
    if (member.name == self) member.running = running_here;
  }
  return out;
}

}  // namespace

Plan plan(std::string_view self, std::span<const Registered> registry, std::span<const Member> members,
          const std::set<std::string, std::less<>>& running_here, const Quorum& quorum, const PolicyOf& policy_of,
          Time now, std::size_t rebalance_max) {
  Plan out;
  const auto view = with_self(self, members, running_here);
  std::map<std::string, std::vector<std::string>, std::less<>> candidates_by_module;  // computed once per module
  std::set<std::string, std::less<>> seen;
  std::vector<std::string> movable;  // ours, running here, rendezvous-owned by another candidate
  for (const auto& tenant : registry) {
    seen.insert(tenant.id);
    const bool here = running_here.contains(tenant.id);
    if (tenant.record.desired == Desired::uninstalled) {
      if (here) out.uninstall.push_back(tenant.id);
      continue;
    }
    const auto owner = placed_owner(tenant.id, tenant.record.module, view);
    const bool ours = owner && *owner == self && quorum.may_run(policy_of(tenant.record.module), now);
    if (ours && !here) out.start.push_back(tenant.id);
    if (!ours && here) out.stop.push_back(tenant.id);
    if (ours && here) {
      auto [it, fresh] = candidates_by_module.try_emplace(tenant.record.module);
      if (fresh) it->second = candidates(view, tenant.record.module);
      const auto home = owner_of(tenant.id, it->second);
      if (home && *home != self) movable.push_back(tenant.id);
    }
  }
  // Running here but forgotten by the registry: nothing to keep it for.
  for (const auto& id : running_here) {
    if (!seen.contains(id)) out.stop.push_back(id);
  }
  std::sort(movable.begin(), movable.end());
  out.rebalanced = std::min(rebalance_max, movable.size());
  out.rebalance_waiting = movable.size() - out.rebalanced;
  out.stop.insert(out.stop.end(), movable.begin(), movable.begin() + std::ptrdiff_t(out.rebalanced));
  std::sort(out.start.begin(), out.start.end());
  std::sort(out.stop.begin(), out.stop.end());
  std::sort(out.uninstall.begin(), out.uninstall.end());
  return out;
}

}  // namespace plexus::tenants
