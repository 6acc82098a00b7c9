// Relay choice for transitive messages, sans-IO: given who is reachable from
// here, which member should carry a message on towards its target.
#pragma once

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace plexus::peer::core {

/// A member this node could hand a message to.
struct RelayCandidate {
  std::string name;
  bool up = false;       ///< heard from within the peer timeout
  bool cut = false;      ///< an outbound partition drops what we send it
};

/// Pick a relay uniformly among members that are up, not cut off, neither the
/// target nor the origin, and not already on the message's path (`via`), so a
/// message never loops. None when no member qualifies.
template <class Random>
std::optional<std::string> choose_relay(const std::vector<RelayCandidate>& members, const std::string& target,
                                        const std::string& origin, const std::vector<std::string>& via,
                                        Random& random) {
  std::vector<const RelayCandidate*> eligible;
  for (const auto& m : members) {
    if (!m.up || m.cut || m.name == target || m.name == origin) continue;
    if (std::find(via.begin(), via.end(), m.name) != via.end()) continue;
    eligible.push_back(&m);
  }
  if (eligible.empty()) return std::nullopt;
  return eligible[std::uniform_int_distribution<std::size_t>(0, eligible.size() - 1)(random)]->name;
}

}  // namespace plexus::peer::core
