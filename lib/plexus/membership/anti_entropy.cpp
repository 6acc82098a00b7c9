// Anti-entropy decisions (digest, diff, entries_for) and tombstone garbage
// collection (observe, collect_garbage). Why GC is safe, and its limits, is
// in membership.hpp.
#include <algorithm>

#include "plexus/core/fault.hpp"
#include "plexus/membership/internal.hpp"

namespace plexus::membership {
namespace {

using internal::compare_digest;
using DigestIndex = std::map<std::string_view, const DigestEntry*>;

/// Name -> digest entry; of duplicate names (a faulty peer) the greatest wins.
DigestIndex index_digest(std::span<const DigestEntry> digest) {
  DigestIndex index;
  for (const DigestEntry& entry : digest) {
    const auto [it, inserted] = index.try_emplace(entry.name, &entry);
    if (!inserted && compare_digest(entry, *it->second) > 0) it->second = &entry;
  }
  return index;
}

}  // namespace

std::vector<DigestEntry> Membership::digest() const {
  std::vector<DigestEntry> out;
  out.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) out.push_back(digest_of(entry));
  return out;
}

Result<Diff> Membership::diff(std::span<const DigestEntry> remote) const {
  if (remote.size() > entries_max) {
    return internal::error(errc::too_many_entries, "digest: " + std::to_string(remote.size()) +
                                                       " entries, at most " + std::to_string(entries_max));
  }
  const DigestIndex theirs = index_digest(remote);
  Diff diff;
  for (const auto& [name, entry] : entries_) {
    const auto it = theirs.find(name);
    const auto order = it == theirs.end() ? std::partial_ordering::greater
                                          : compare_digest(digest_of(entry), *it->second);
    // Unordered (same version, liveness and instance, other spec): exchange
    // both ways and let merge's total order settle it on each side.
    if (order > 0 || order == std::partial_ordering::unordered) diff.push.push_back(entry);
    if (order < 0 || order == std::partial_ordering::unordered) diff.pull.push_back(name);
  }
  for (const auto& [name, digest] : theirs) {
    if (!entries_.contains(name)) diff.pull.emplace_back(name);
  }
  std::sort(diff.pull.begin(), diff.pull.end());
  return diff;
}

std::vector<Entry> Membership::entries_for(std::span<const std::string> names) const {
  std::set<std::string_view> wanted(names.begin(), names.end());
  std::vector<Entry> out;
  for (const std::string_view name : wanted) {
    if (const Entry* entry = find(name)) out.push_back(*entry);
  }
  return out;
}

bool Membership::observe(std::string_view peer, std::span<const DigestEntry> remote) {
  if (peer == local_.name || remote.size() > entries_max) return false;
  const Entry* member = find(peer);
  if (member == nullptr || member->removed) return false;
  const DigestIndex theirs = index_digest(remote);
  // The report must come from the life our view holds: another process under
  // that name (or a previous life) proves nothing about this member's state.
  const auto own = theirs.find(peer);
  if (own == theirs.end() || own->second->removed || own->second->instance_id != member->spec.instance_id) {
    return false;
  }
  Observation& observation = observations_[std::string(peer)];
  if (observation.instance_id != member->spec.instance_id) observation = {member->spec.instance_id, {}};
  // Evidence only grows for one life: a peer seen holding a tombstone holds it
  // (or something greater) forever after, or collected it under this same
  // rule. Keeping it lets a tombstone that bounces back after we collected it
  // be collected again, instead of waiting for peers that no longer hold it.
  // Evidence about a name that both sides now lack is no longer needed.
  std::erase_if(observation.tombstones, [&](const auto& held) {
    return !entries_.contains(held.first) && !theirs.contains(held.first);
  });
  for (const auto& [name, entry] : entries_) {
    if (!entry.removed) continue;
    const DigestEntry ours = digest_of(entry);
    const auto reported = theirs.find(name);
    // Holding something greater counts too: it supersedes our tombstone, so
    // that peer can never send an entry older than it either.
    if (reported != theirs.end() && compare_digest(*reported->second, ours) >= 0) {
      observation.tombstones.insert_or_assign(name, ours);
    }
  }
  return true;
}

std::vector<std::string> Membership::observers_of(const Entry& tombstone) const {
  const DigestEntry ours = digest_of(tombstone);
  std::vector<std::string> observers;
  for (const auto& [name, entry] : entries_) {
    if (entry.removed || name == local_.name) continue;
    const auto seen = observations_.find(name);
    // An observation made of a previous life of this peer proves nothing
    // about the state the current life restarted from.
    if (seen == observations_.end() || seen->second.instance_id != entry.spec.instance_id) continue;
    const auto held = seen->second.tombstones.find(tombstone.spec.name);
    if (held != seen->second.tombstones.end() && held->second == ours) observers.push_back(name);
  }
  return observers;
}

std::size_t Membership::collect_garbage() {
  if (PLEXUS_FAULT("membership.gc.defer")) return 0;  // keeping tombstones longer is always safe
  std::size_t peers = live_count();
  if (!entries_.find(local_.name)->second.removed) --peers;
  std::size_t dropped = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& entry = it->second;
    // Our own tombstone stays: it is what tells this life it was removed.
    const bool collectable = entry.removed && entry.spec.name != local_.name &&
                             observers_of(entry).size() == peers;
    if (collectable) {
      version_floor_ = std::max(version_floor_, entry.version);
      it = entries_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  // Forget evidence that can no longer count: of peers that are not live (or
  // restarted since), and about names that are live again (a re-add superseded
  // the tombstone). Evidence about collected names stays (see observe()).
  for (auto it = observations_.begin(); it != observations_.end();) {
    const Entry* member = find(it->first);
    if (member == nullptr || member->removed || member->spec.instance_id != it->second.instance_id) {
      it = observations_.erase(it);
      continue;
    }
    std::erase_if(it->second.tombstones, [this](const auto& held) {
      const Entry* entry = find(held.first);
      return entry != nullptr && !entry->removed;
    });
    ++it;
  }
  return dropped;
}

}  // namespace plexus::membership
