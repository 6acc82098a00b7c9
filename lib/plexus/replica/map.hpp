// replica::Map: a replicated versioned map, the state-based CRDT under
// membership and the cluster-wide registries. Sans-IO: no sockets, clocks,
// threads or randomness; a replica core owns one and feeds it.
//
// State: one entry per key, live or a tombstone, at a version. Two entries of
// one key are ordered TOTALLY: higher version; then live over removed (add
// wins on ties); then the schema's tie (schema.hpp). merge() keeps, per key,
// the greater of the local and the remote entry: the state is a product of
// total orders under max, a join-semilattice, so merge is idempotent,
// commutative and associative, and replicas that have seen the same entries
// hold the same state whatever order and grouping they met them in.
//
// Local writes (put, remove) write at the current version + 1, so they beat
// the entry they replace; a key that is absent is written above
// version_floor() (see below).
//
// Anti-entropy: replicas swap digest()s; diff() says which entries to push and
// which keys to pull; entries_for() fetches the pushed ones; merge() applies.
//
// Tombstone GC: observe() records, from a live peer's digest, which of our
// tombstones that peer holds (or has superseded); collect_garbage() drops a
// tombstone once every live peer it is given was observed holding it, and
// raises version_floor() to its version. Safe because entries only grow in
// the order: a peer that holds the tombstone (or more) never again sends
// anything smaller for that key, so once every live peer is past it nobody
// can bring the removed value back; and a later write of the key goes above
// the floor, so it beats any copy of the tombstone still held elsewhere.
// Lacking the key does NOT count as holding it. Evidence is tied to the
// peer's instance (a restarted peer must report again) and only grows for one
// life. The caller's duties (merge and observe only from peers whose life it
// knows; persist before showing a digest) are membership.hpp's (a)-(d).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/replica/errors.hpp"
#include "plexus/replica/schema.hpp"

namespace plexus::replica {

/// Bounds of one Map.
struct Limits {
  /// Most entries (live + tombstones) a state, a merge batch or a digest may hold.
  std::size_t entries_max = 16384;
  /// Highest version; 2^53 - 1 is exact in every JSON reader.
  std::uint64_t version_max = (std::uint64_t{1} << 53) - 1;
};

/// One life of a live peer, for GC: its name and its instance id.
struct Life {
  std::string_view peer;
  std::uint64_t instance = 0;
};

/// What to send and what to ask for after comparing digests.
template <class Entry, class Key>
struct Diff {
  std::vector<Entry> push;  ///< ours is greater, or the remote lacks the key
  std::vector<Key> pull;    ///< theirs is greater, or we lack the key; sorted
};

/// A replica of the map (see the file comment). Not thread-safe: owned by one actor.
template <Schema S>
class Map {
 public:
  using Key = typename S::Key;
  using Entry = typename S::Entry;
  using Digest = typename S::Digest;
  using Diff = replica::Diff<Entry, Key>;
  using Storage = std::map<Key, Entry, std::less<>>;

  explicit Map(Limits limits = {}) : limits_(limits) {}

  /// The total order on two entries of one key; equal iff identical.
  static std::strong_ordering compare(const Entry& a, const Entry& b) {
    if (const auto c = a.version <=> b.version; c != 0) return c;
    if (const auto c = !a.removed <=> !b.removed; c != 0) return c;  // add wins
    return S::tie(a, b);
  }
  /// The same order on digests; unordered where the digests cannot tell.
  static std::partial_ordering compare(const Digest& a, const Digest& b) {
    if (const auto c = a.version <=> b.version; c != 0) return c;
    if (const auto c = !a.removed <=> !b.removed; c != 0) return c;
    return S::tie(a, b);
  }

  /// The entry for `key` or nullptr; valid until the next mutating call.
  template <class K>
  [[nodiscard]] const Entry* find(const K& key) const {
    const auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  /// Key -> entry pairs in key order, tombstones included.
  [[nodiscard]] auto begin() const { return entries_.begin(); }
  [[nodiscard]] auto end() const { return entries_.end(); }
  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  /// Every entry, tombstones included, in key order.
  [[nodiscard]] std::vector<Entry> entries() const;
  [[nodiscard]] const Limits& limits() const { return limits_; }
  /// The highest version of any tombstone this replica collected (0: none).
  [[nodiscard]] std::uint64_t version_floor() const { return version_floor_; }
  /// Raises version_floor() to at least `floor` (restoring a persisted state).
  void raise_version_floor(std::uint64_t floor) { version_floor_ = std::max(version_floor_, floor); }

  /// Writes `entry` live at (the key's current version, or version_floor()
  /// when absent) + 1; returns that version. Errors: too_many_entries (a new
  /// key in a full map), version_exhausted.
  Result<std::uint64_t> put(Entry entry);
  /// Tombstones a live `key` at version + 1, keeping its value. False when
  /// the key is absent or already removed. Error: version_exhausted.
  template <class K>
  Result<bool> remove(const K& key);

  /// Whether merge() would take `batch`: at most entries_max entries, versions
  /// 1..version_max, and room for its new keys.
  [[nodiscard]] Result<void> check(std::span<const Entry> batch) const;
  /// Keeps the greater entry per key. A bad batch (check()) changes nothing.
  /// `replaced(const Entry* before, const Entry& after)` runs before each
  /// entry is taken (before is nullptr for a new key). Returns how many were taken.
  template <class OnReplace>
  Result<std::size_t> merge(std::span<const Entry> batch, OnReplace&& replaced);
  Result<std::size_t> merge(std::span<const Entry> batch) {
    return merge(batch, [](const Entry*, const Entry&) {});
  }

  /// One digest per entry, in key order.
  [[nodiscard]] std::vector<Digest> digest() const;
  /// Compares with a peer's digest. Where the digests cannot tell the entries
  /// apart, the key is in both push and pull. Error: too_many_entries.
  [[nodiscard]] Result<Diff> diff(std::span<const Digest> remote) const;
  /// Our entries for those keys (duplicates once, unknown keys skipped), in key order.
  [[nodiscard]] std::vector<Entry> entries_for(std::span<const Key> keys) const;
  /// The greatest digest entry for `key` in `digest` (a faulty peer may
  /// repeat a key), or nullptr.
  static const Digest* latest(std::span<const Digest> digest, const Key& key);

  /// Records which of our tombstones `peer` (life `instance`) holds or has
  /// superseded, per its digest. False, recording nothing, when the digest
  /// exceeds entries_max. Checking that the peer is live is the caller's.
  bool observe(std::string_view peer, std::uint64_t instance, std::span<const Digest> remote);
  /// Of `peers`, those whose current life was observed holding `tombstone`.
  [[nodiscard]] std::vector<std::string> observers_of(const Entry& tombstone, std::span<const Life> peers) const;
  /// Drops every tombstone, but those `pinned(key)` keeps, that each of
  /// `peers` (every live peer but self) was observed holding; forgets
  /// evidence of lives not in `peers` and about keys live again. Returns how
  /// many were dropped.
  template <class Pinned>
  std::size_t collect_garbage(std::span<const Life> peers, Pinned&& pinned);

 private:
  /// What observe() learned from one peer life.
  struct Observation {
    std::uint64_t instance = 0;
    /// Key -> digest of our tombstone when the peer was seen holding it (or more).
    std::map<Key, Digest, std::less<>> held;
  };
  /// Orders key pointers by the keys they point at.
  struct ByKey {
    using is_transparent = void;
    bool operator()(const Key* a, const Key* b) const { return *a < *b; }
    bool operator()(const Key* a, const Key& b) const { return *a < b; }
    bool operator()(const Key& a, const Key* b) const { return a < *b; }
  };
  using DigestIndex = std::map<const Key*, const Digest*, ByKey>;
  static DigestIndex index(std::span<const Digest> digest);

  Limits limits_;
  Storage entries_;
  std::map<std::string, Observation, std::less<>> observations_;
  std::uint64_t version_floor_ = 0;
};

}  // namespace plexus::replica

#include "plexus/replica/map_impl.hpp"
