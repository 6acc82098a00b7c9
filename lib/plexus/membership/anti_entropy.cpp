// Anti-entropy decisions (digest, diff, entries_for) and tombstone garbage
// collection (observe, collect_garbage): replica::Map's, behind membership's
// own checks and error details. Why GC is safe, and its limits, is in
// membership.hpp.
#include <algorithm>

#include "plexus/core/fault.hpp"
#include "plexus/membership/internal.hpp"

namespace plexus::membership {

std::vector<DigestEntry> Membership::digest() const { return map_.digest(); }

Result<Diff> Membership::diff(std::span<const DigestEntry> remote) const {
  if (remote.size() > entries_max) {
    return internal::error(errc::too_many_entries, "digest: " + std::to_string(remote.size()) +
                                                       " entries, at most " + std::to_string(entries_max));
  }
  return map_.diff(remote);
}

std::vector<Entry> Membership::entries_for(std::span<const std::string> names) const {
  return map_.entries_for(names);
}

bool Membership::observe(std::string_view peer, std::span<const DigestEntry> remote) {
  if (peer == local_.name || remote.size() > entries_max) return false;
  const Entry* member = find(peer);
  if (member == nullptr || member->removed) return false;
  // The report must come from the life our view holds: another process under
  // that name (or a previous life) proves nothing about this member's state.
  const DigestEntry* own = replica::Map<Members>::latest(remote, member->spec.name);
  if (own == nullptr || own->removed || own->instance_id != member->spec.instance_id) return false;
  return map_.observe(peer, member->spec.instance_id, remote);
}

std::vector<replica::Life> Membership::peer_lives() const {
  std::vector<replica::Life> lives;
  for (const auto& [name, entry] : map_) {
    if (!entry.removed && name != local_.name) lives.push_back({name, entry.spec.instance_id});
  }
  return lives;
}

std::vector<std::string> Membership::observers_of(const Entry& tombstone) const {
  return map_.observers_of(tombstone, peer_lives());
}

std::size_t Membership::collect_garbage() {
  if (PLEXUS_FAULT("membership.gc.defer")) return 0;  // keeping tombstones longer is always safe
  // Our own tombstone stays: it is what tells this life it was removed.
  return map_.collect_garbage(peer_lives(), [this](const std::string& name) { return name == local_.name; });
}

}  // namespace plexus::membership
