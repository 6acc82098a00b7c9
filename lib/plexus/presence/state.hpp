// State: the sans-IO presence CRDT of one tracker shard (Phoenix.Tracker.State).
//
// An add-wins observed-remove set. Every replica (node + shard + instance)
// numbers its own changes with a clock; a presence is identified by the dot
// (replica, clock) of the track or update that made it. The context is a
// version vector: knowing clock c of replica r means knowing every change of r
// up to c, so a dot of r at or below c that we do not hold was removed.
// Only a replica changes its own presences (single writer per replica), and
// every local change — track, untrack, update — takes a new clock, so a
// receiver that missed a removal sees from the clock alone that it is behind.
//
// Replication is by Batch: the changes of one replica over a clock range
// (start, end]: the presences it holds with dots in the range, plus the dots
// at or below start that changes in the range removed. A full state is the
// batch (0, clock]. merge() is the lattice join restricted to that range, so it
// is idempotent, commutative and associative, refuses a batch whose start is
// past our knowledge (a gap), and never moves knowledge backwards: a stale
// batch can neither delete newer presences nor bring back removed ones
// (phoenix_pubsub #148).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "plexus/presence/store.hpp"
#include "plexus/presence/types.hpp"

namespace plexus::presence {

/// The changes of one replica over (start, end]; a full state has start 0.
/// Items are sorted by clock; topics and metas are tables items index into.
struct Batch {
  struct Item {
    std::uint64_t owner = 0;
    Sequence clock = 0;
    std::uint32_t topic = 0;
    std::uint32_t meta = 0;
    Key key;
  };
  Replica replica;
  Sequence start = 0;
  Sequence end = 0;
  std::vector<Sequence> removed;  ///< dots <= start removed by changes in the range
  std::vector<std::string> topics;
  std::vector<MetaPtr> metas;
  std::vector<Item> items;
};

/// A replica as this State knows it.
struct ReplicaInfo {
  Replica id;
  Sequence clock = 0;      ///< context: every change up to here is known
  bool up = true;       ///< false: its presences are hidden
  std::size_t size = 0; ///< presences held
};

class State {
 public:
  /// `removal_log_max`: local removals remembered for catch-up deltas;
  /// `tombstones_max`: dropped replicas remembered (oldest forgotten first).
  explicit State(Replica self, std::size_t removal_log_max = 10'000, std::size_t tombstones_max = 4096);
  State(State&&) noexcept;
  State& operator=(State&&) noexcept;
  ~State();

  [[nodiscard]] const Replica& self() const noexcept;
  [[nodiscard]] Sequence clock() const noexcept;  ///< our own replica's clock
  [[nodiscard]] std::size_t size() const noexcept;  ///< presences held, hidden ones too

  // ---- local changes (append joins/leaves to `diff` when not null) ----
  Result<Ref> track(std::uint64_t owner, std::string_view topic, std::string_view key,
                    const nlohmann::json& meta, Diff* diff);
  Result<Ref> update(std::uint64_t owner, std::string_view topic, std::string_view key,
                     const nlohmann::json& meta, Diff* diff);
  Result<Ref> update(std::uint64_t owner, std::string_view topic, std::string_view key,
                     const std::function<nlohmann::json(const nlohmann::json&)>& change, Diff* diff);
  Result<void> untrack(std::uint64_t owner, std::string_view topic, std::string_view key, Diff* diff);
  /// Untrack everything `owner` tracked; returns how many.
  std::size_t untrack(std::uint64_t owner, Diff* diff);
  /// Remove all our own presences (graceful permdown), each as a change.
  void clear_local(Diff* diff);

  // ---- queries (presences of down replicas are hidden) ----
  using Visitor = std::function<void(std::string_view key, const MetaPtr& meta, Ref ref,
                                     const Replica& replica, std::uint64_t owner)>;
  void for_each(std::string_view topic, const Visitor& visit) const;
  [[nodiscard]] std::vector<Listed> list(std::string_view topic) const;
  [[nodiscard]] std::vector<Presence> get_by_key(std::string_view topic, std::string_view key) const;
  /// Presences of `owner` (local) in `topic` with `key`, if tracked.
  [[nodiscard]] std::optional<Presence> get_local(std::uint64_t owner, std::string_view topic,
                                                  std::string_view key) const;
  [[nodiscard]] std::size_t topic_size(std::string_view topic) const;

  // ---- replication ----
  /// Our changes over (start, clock()] in batches of at most max_items, or
  /// nothing when the removal log no longer reaches back to `start`.
  [[nodiscard]] std::optional<std::vector<Batch>> delta_since(Sequence start, std::size_t max_items) const;
  /// Full state of `replica` (ours by default) as consecutive batches from 0.
  [[nodiscard]] std::vector<Batch> extract(std::uint64_t instance, std::size_t max_items) const;
  [[nodiscard]] std::vector<Batch> extract(std::size_t max_items) const { return extract(self().instance, max_items); }
  /// Join `batch` into this state. Errors: delta_gap (start beyond our
  /// knowledge), unknown_replica (a dropped replica). A new instance of a
  /// known (node, shard) drops the old instance first (leaves in `diff`).
  Result<void> merge(const Batch& batch, Diff* diff);

  // ---- replicas ----
  [[nodiscard]] std::vector<ReplicaInfo> replicas() const;  ///< self first
  [[nodiscard]] std::optional<ReplicaInfo> replica(std::uint64_t instance) const;
  /// Our knowledge of `instance` (0 when unknown).
  [[nodiscard]] Sequence known_clock(std::uint64_t instance) const;
  /// Register a replica (no-op when known); drops an older instance of the
  /// same (node, shard). Errors: unknown_replica when it was dropped.
  Result<void> add_replica(const Replica& replica, Diff* diff);
  /// Hide (down) or show (up) a replica's presences, reporting leaves/joins.
  void set_up(std::uint64_t instance, bool up, Diff* diff);
  /// Drop a replica and its presences (permdown); remembered so its data is
  /// never merged again. Leaves are reported for visible presences.
  void drop_replica(std::uint64_t instance, Diff* diff);
  [[nodiscard]] bool is_dropped(std::uint64_t instance) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace plexus::presence
