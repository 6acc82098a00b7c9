// One node's placement plan (see plan.hpp).
#include "plexus/tenants/plan.hpp"

#include <algorithm>
#include <map>

namespace plexus::tenants {

Plan plan(std::string_view self, std::span<const Registered> registry, std::span<const Member> members,
          const std::set<std::string, std::less<>>& running_here, const Quorum& quorum, const PolicyOf& policy_of,
          Time now) {
  Plan out;
  std::map<std::string, std::vector<std::string>, std::less<>> candidates_by_module;  // computed once per module
  std::set<std::string, std::less<>> seen;
  for (const auto& tenant : registry) {
    seen.insert(tenant.id);
    const bool here = running_here.contains(tenant.id);
    if (tenant.record.desired == Desired::uninstalled) {
      if (here) out.uninstall.push_back(tenant.id);
      continue;
    }
    auto [it, fresh] = candidates_by_module.try_emplace(tenant.record.module);
    if (fresh) it->second = candidates(members, tenant.record.module);
    const auto owner = owner_of(tenant.id, it->second);
    const bool ours = owner && *owner == self && quorum.may_run(policy_of(tenant.record.module), now);
    if (ours && !here) out.start.push_back(tenant.id);
    if (!ours && here) out.stop.push_back(tenant.id);
  }
  // Running here but forgotten by the registry: nothing to keep it for.
  for (const auto& id : running_here) {
    if (!seen.contains(id)) out.stop.push_back(id);
  }
  std::sort(out.start.begin(), out.start.end());
  std::sort(out.stop.begin(), out.stop.end());
  std::sort(out.uninstall.begin(), out.uninstall.end());
  return out;
}

}  // namespace plexus::tenants
