// Internal: the representation behind presence::State, shared by state.cpp
// (local changes, queries) and state_merge.cpp (replication, replicas).
#pragma once

#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "plexus/presence/slot_table.hpp"
#include "plexus/presence/state.hpp"

namespace plexus::presence {

struct State::Impl {
  /// Key of the local index: one presence per (owner, topic, key).
  struct LocalKey {
    std::uint64_t owner;
    std::uint32_t topic;
    std::string_view key;
  };
  struct LocalTraits {
    const detail::EntryStore* store;
    static std::size_t mix(std::uint64_t owner, std::uint32_t topic, std::string_view key) noexcept {
      std::size_t h = std::hash<std::string_view>{}(key);
      h ^= (owner * 0x9e3779b97f4a7c15ull) + topic + (h << 6) + (h >> 2);
      return h;
    }
    std::size_t hash(const LocalKey& k) const noexcept { return mix(k.owner, k.topic, k.key); }
    std::size_t hash_slot(std::uint32_t slot) const noexcept {
      const auto& e = (*store)[slot];
      return mix(e.owner, e.topic, e.key);
    }
    bool equal(const LocalKey& k, std::uint32_t slot) const noexcept {
      const auto& e = (*store)[slot];
      return e.owner == k.owner && e.topic == k.topic && e.key == k.key;
    }
  };
  /// Dots of one replica: clock -> slot, the clock read from the entry.
  struct DotTraits {
    const detail::EntryStore* store = nullptr;
    static std::size_t mix(Sequence c) noexcept {
      c *= 0x9e3779b97f4a7c15ull;
      return static_cast<std::size_t>(c ^ (c >> 29));
    }
    std::size_t hash(Sequence c) const noexcept { return mix(c); }
    std::size_t hash_slot(std::uint32_t slot) const noexcept { return mix((*store)[slot].clock); }
    bool equal(Sequence c, std::uint32_t slot) const noexcept { return (*store)[slot].clock == c; }
  };
  using Dots = detail::SlotTable<DotTraits>;

  struct ReplicaSlot {
    ReplicaInfo info;
    Dots dots;
    bool live = true;
  };

  Impl(Replica self, std::size_t removal_log_max, std::size_t tombstones_max);

  // Entries.
  [[nodiscard]] ReplicaSlot make_replica(const Replica& id) const {
    return ReplicaSlot{ReplicaInfo{id, 0, true, 0}, Dots(DotTraits{&store}), true};
  }
  std::uint32_t add_entry(std::uint32_t replica, Sequence clock, std::uint64_t owner, std::uint32_t topic,
                          std::string_view key, MetaPtr meta, Diff* diff);
  void remove_entry(std::uint32_t slot, Diff* diff);
  [[nodiscard]] Presence presence(const detail::Entry& e) const;
  void report(const detail::Entry& e, bool join, Diff* diff) const;
  [[nodiscard]] std::uint32_t find_local(std::uint64_t owner, std::string_view topic, std::string_view key) const;
  [[nodiscard]] std::uint32_t find_local(std::uint64_t owner, std::uint32_t topic, std::string_view key) const;
  /// A local removal: takes a clock and is logged for catch-up deltas.
  void remove_local(std::uint32_t slot, Diff* diff);
  void log_removal(Sequence event, Sequence removed);

  // Replicas.
  [[nodiscard]] std::uint32_t replica_index(std::uint64_t instance) const;  ///< detail::no_slot if unknown
  Result<std::uint32_t> ensure_replica(const Replica& replica, Diff* diff);
  void drop(std::uint32_t index, Diff* diff);

  std::size_t removal_log_max;
  std::size_t tombstones_max;
  detail::EntryStore store;
  detail::Topics topics;
  detail::MetaPool metas;
  std::vector<ReplicaSlot> replicas;  ///< [0] is self
  std::vector<std::uint32_t> free_replicas;
  std::unordered_map<std::uint64_t, std::uint32_t> by_instance;
  std::deque<std::uint64_t> dropped_order;
  std::unordered_set<std::uint64_t> dropped;
  detail::SlotTable<LocalTraits> local;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> owners;
  std::deque<std::pair<Sequence, Sequence>> removal_log;  ///< (change clock, removed dot)
  Sequence log_floor = 0;  ///< removals by changes at or below this are forgotten
};

}  // namespace plexus::presence
