// The definitions of replica::Map's larger members (included by map.hpp):
// writes, merge, anti-entropy and tombstone GC. The laws are in map.hpp.
#pragma once

#include <utility>

namespace plexus::replica {

template <Schema S>
std::vector<typename S::Entry> Map<S>::entries() const {
  std::vector<Entry> all;
  all.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) all.push_back(entry);
  return all;
}

template <Schema S>
Result<std::uint64_t> Map<S>::put(Entry entry) {
  const auto it = entries_.find(S::key(entry));
  if (it == entries_.end() && entries_.size() >= limits_.entries_max) {
    return make_error(errc::too_many_entries, "entries: already " + std::to_string(limits_.entries_max));
  }
  // An absent key may have been collected: write above every collected tombstone.
  const std::uint64_t current = it == entries_.end() ? version_floor_ : it->second.version;
  if (current >= limits_.version_max) return make_error(errc::version_exhausted, "version: at version_max");
  entry.version = current + 1;
  entry.removed = false;
  if (it != entries_.end()) {
    it->second = std::move(entry);
  } else {
    Key key = S::key(entry);
    entries_.emplace(std::move(key), std::move(entry));
  }
  return current + 1;
}

template <Schema S>
template <class K>
Result<bool> Map<S>::remove(const K& key) {
  const auto it = entries_.find(key);
  if (it == entries_.end() || it->second.removed) return false;
  if (it->second.version >= limits_.version_max) {
    return make_error(errc::version_exhausted, "version: at version_max");
  }
  ++it->second.version;
  it->second.removed = true;
  return true;
}

template <Schema S>
Result<void> Map<S>::check(std::span<const Entry> batch) const {
  if (batch.size() > limits_.entries_max) {
    return make_error(errc::too_many_entries, "entries: " + std::to_string(batch.size()) +
                                                  " in one batch, at most " + std::to_string(limits_.entries_max));
  }
  std::set<const Key*, ByKey> fresh;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const Entry& entry = batch[i];
    if (entry.version < 1 || entry.version > limits_.version_max) {
      return make_error(errc::invalid_version, "entries[" + std::to_string(i) + "].version: must be 1.." +
                                                   std::to_string(limits_.version_max));
    }
    if (!entries_.contains(S::key(entry))) fresh.insert(&S::key(entry));
  }
  if (entries_.size() + fresh.size() > limits_.entries_max) {
    return make_error(errc::too_many_entries, "entries: " + std::to_string(entries_.size()) + " held + " +
                                                  std::to_string(fresh.size()) + " new > " +
                                                  std::to_string(limits_.entries_max));
  }
  return {};
}

template <Schema S>
template <class OnReplace>
Result<std::size_t> Map<S>::merge(std::span<const Entry> batch, OnReplace&& replaced) {
  if (auto ok = check(batch); !ok) return ok.error();
  std::size_t taken = 0;
  for (const Entry& entry : batch) {
    const auto it = entries_.find(S::key(entry));
    if (it == entries_.end()) {
      replaced(static_cast<const Entry*>(nullptr), entry);
      entries_.emplace(S::key(entry), entry);
    } else {
      if (compare(entry, it->second) <= 0) continue;
      replaced(static_cast<const Entry*>(&it->second), entry);
      it->second = entry;
    }
    ++taken;
  }
  return taken;
}

template <Schema S>
std::vector<typename S::Digest> Map<S>::digest() const {
  std::vector<Digest> out;
  out.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) out.push_back(S::digest(entry));
  return out;
}

template <Schema S>
typename Map<S>::DigestIndex Map<S>::index(std::span<const Digest> digest) {
  DigestIndex index;
  for (const Digest& entry : digest) {
    // Of duplicate keys (a faulty peer) the greatest wins.
    const auto [it, inserted] = index.try_emplace(&S::key(entry), &entry);
    if (!inserted && compare(entry, *it->second) > 0) it->second = &entry;
  }
  return index;
}

template <Schema S>
const typename S::Digest* Map<S>::latest(std::span<const Digest> digest, const Key& key) {
  const Digest* best = nullptr;
  for (const Digest& entry : digest) {
    if (S::key(entry) == key && (best == nullptr || compare(entry, *best) > 0)) best = &entry;
  }
  return best;
}

template <Schema S>
Result<typename Map<S>::Diff> Map<S>::diff(std::span<const Digest> remote) const {
  if (remote.size() > limits_.entries_max) {
    return make_error(errc::too_many_entries, "digest: " + std::to_string(remote.size()) + " entries, at most " +
                                                  std::to_string(limits_.entries_max));
  }
  const DigestIndex theirs = index(remote);
  Diff diff;
  for (const auto& [key, entry] : entries_) {
    const auto it = theirs.find(key);
    const auto order = it == theirs.end() ? std::partial_ordering::greater : compare(S::digest(entry), *it->second);
    // Unordered (the digests cannot tell): exchange both ways and let merge's
    // total order settle it on each side.
    if (order > 0 || order == std::partial_ordering::unordered) diff.push.push_back(entry);
    if (order < 0 || order == std::partial_ordering::unordered) diff.pull.push_back(key);
  }
  for (const auto& [key, digest] : theirs) {
    if (!entries_.contains(*key)) diff.pull.push_back(*key);
  }
  std::sort(diff.pull.begin(), diff.pull.end());
  return diff;
}

template <Schema S>
std::vector<typename S::Entry> Map<S>::entries_for(std::span<const Key> keys) const {
  std::set<const Key*, ByKey> wanted;
  for (const Key& key : keys) wanted.insert(&key);
  std::vector<Entry> out;
  for (const Key* key : wanted) {
    if (const Entry* entry = find(*key)) out.push_back(*entry);
  }
  return out;
}

template <Schema S>
bool Map<S>::observe(std::string_view peer, std::uint64_t instance, std::span<const Digest> remote) {
  if (remote.size() > limits_.entries_max) return false;
  const DigestIndex theirs = index(remote);
  auto found = observations_.find(peer);
  if (found == observations_.end()) found = observations_.emplace(std::string(peer), Observation{}).first;
  Observation& observation = found->second;
  if (observation.instance != instance) observation = {instance, {}};
  // Evidence only grows for one life: a peer seen holding a tombstone holds it
  // (or something greater) forever after, or collected it under this same
  // rule. Keeping it lets a tombstone that bounces back after we collected it
  // be collected again, instead of waiting for peers that no longer hold it.
  // Evidence about a key that both sides now lack is no longer needed.
  std::erase_if(observation.held, [&](const auto& held) {
    return !entries_.contains(held.first) && !theirs.contains(held.first);
  });
  for (const auto& [key, entry] : entries_) {
    if (!entry.removed) continue;
    Digest ours = S::digest(entry);
    const auto reported = theirs.find(key);
    // Holding something greater counts too: it supersedes our tombstone, so
    // that peer can never send an entry older than it either.
    if (reported != theirs.end() && compare(*reported->second, ours) >= 0) {
      observation.held.insert_or_assign(key, std::move(ours));
    }
  }
  return true;
}

template <Schema S>
std::vector<std::string> Map<S>::observers_of(const Entry& tombstone, std::span<const Life> peers) const {
  const Digest ours = S::digest(tombstone);
  std::vector<std::string> observers;
  for (const Life& life : peers) {
    const auto seen = observations_.find(life.peer);
    // An observation made of a previous life of this peer proves nothing
    // about the state the current life restarted from.
    if (seen == observations_.end() || seen->second.instance != life.instance) continue;
    const auto held = seen->second.held.find(S::key(tombstone));
    if (held != seen->second.held.end() && held->second == ours) observers.emplace_back(life.peer);
  }
  return observers;
}

template <Schema S>
template <class Pinned>
std::size_t Map<S>::collect_garbage(std::span<const Life> peers, Pinned&& pinned) {
  std::size_t dropped = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& entry = it->second;
    if (entry.removed && !pinned(it->first) && observers_of(entry, peers).size() == peers.size()) {
      version_floor_ = std::max(version_floor_, entry.version);
      it = entries_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  // Forget evidence that can no longer count: of peers not live (or restarted
  // since), and about keys live again (a write superseded the tombstone).
  // Evidence about collected keys stays (see observe()).
  std::map<std::string_view, std::uint64_t> live;
  for (const Life& life : peers) live.emplace(life.peer, life.instance);
  for (auto it = observations_.begin(); it != observations_.end();) {
    const auto life = live.find(it->first);
    if (life == live.end() || life->second != it->second.instance) {
      it = observations_.erase(it);
      continue;
    }
    std::erase_if(it->second.held, [this](const auto& held) {
      const Entry* entry = find(held.first);
      return entry != nullptr && !entry->removed;
    });
    ++it;
  }
  return dropped;
}

}  // namespace plexus::replica
