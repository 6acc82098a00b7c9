// Membership entries and digests in their wire form, and back: one
// conversion for every gossip the peer shell sends (core_driver.cpp, nudge.cpp,
// links.cpp, peer_service.cpp) and for the core (core.cpp).
#pragma once

#include <vector>

#include "plexus/membership/membership.hpp"
#include "plexus/wire/peer_messages.hpp"

namespace plexus::peer::core {

inline std::vector<wire::MemberEntry> to_wire(const std::vector<membership::Entry>& entries) {
  std::vector<wire::MemberEntry> out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.push_back({e.spec, e.version, e.removed});
  return out;
}

inline std::vector<wire::DigestEntry> to_wire(const std::vector<membership::DigestEntry>& digest) {
  std::vector<wire::DigestEntry> out;
  out.reserve(digest.size());
  for (const auto& d : digest) out.push_back({d.name, d.version, d.removed, d.instance_id, d.spec_hash});
  return out;
}

inline std::vector<membership::DigestEntry> from_wire(const std::vector<wire::DigestEntry>& digest) {
  std::vector<membership::DigestEntry> out;
  out.reserve(digest.size());
  for (const auto& d : digest) out.push_back({d.name, d.version, d.removed, d.instance_id, d.spec_hash});
  return out;
}

}  // namespace plexus::peer::core
