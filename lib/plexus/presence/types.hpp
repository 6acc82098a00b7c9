// Value types shared by the presence tracker's sans-IO core and its Asio
// shell: options (Phoenix.Tracker's names), replica identity, refs,
// presences, diffs, and the stable topic -> shard routing.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "plexus/core/result.hpp"
#include "plexus/presence/errors.hpp"
#include "plexus/presence/key.hpp"

namespace plexus::presence {

using Millis = std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;
/// A replica's logical clock (the presence docs' "clock"): its change
/// sequence number, one tick per local track, untrack or update. Not a time.
using Sequence = std::uint64_t;

/// Meta of a presence. Identical metas are shared (hash-consed): many
/// presences hold the same immutable object, so it is never copied per entry.
using MetaPtr = std::shared_ptr<const nlohmann::json>;

/// Tracker options, with Phoenix.Tracker's names. Defaults are Plexus's; see
/// docs/presence.md for why each differs from Phoenix's.
struct Options {
  /// Tracker name: shards register as "presence.<name>.<i>".
  std::string name = "presence";
  /// Peer-service channel the shards talk on (shard i uses partition key i);
  /// the peer service must serve it (peer::Config::channels).
  std::string channel = "_presence";
  /// Number of shards; every node must use the same value.
  std::uint32_t pool_size = 1;
  /// Heartbeat period while anything changed (Phoenix: 1500 ms).
  Millis broadcast_period{100};
  /// An idle shard still heartbeats every max_silent_periods broadcast periods.
  std::uint32_t max_silent_periods = 10;
  /// A replica silent this long is down: its presences are hidden (leaves).
  /// Must be at least 2 x broadcast_period. (Phoenix: 30 s.)
  Millis down_period{2000};
  /// A replica down this long is dropped with its presences. Must be > down_period.
  Millis permdown_period{1'200'000};
  /// Heartbeats that must show a replica ahead of us before we ask it for a transfer.
  std::uint32_t clock_sample_periods = 2;
  /// Catch-up delta generations (in changes) kept before falling back to full state.
  std::vector<std::size_t> max_delta_sizes{100, 1000, 10'000};
  /// Local changes are coalesced this long, then sent as one delta per shard.
  Millis delta_flush_period{2};
  /// Most changes in one delta message; a bigger flush is split in consecutive deltas.
  std::size_t max_delta_entries = 16'384;
  /// Most entries in one full-state message; a bigger state is sent in parts.
  std::size_t max_transfer_entries = 65'536;
  /// Dropped replicas remembered (so their stale data is never merged back).
  std::size_t max_replica_tombstones = 4096;
};

/// Validation as Phoenix's validate_down_period / validate_permdown_period,
/// plus ranges for the Plexus-only fields. The error names the option.
Result<void> validate(const Options& options);

/// One shard incarnation: node, shard index and a random instance id.
struct Replica {
  std::string node;
  std::uint32_t shard = 0;
  std::uint64_t instance = 0;
  friend bool operator==(const Replica&, const Replica&) = default;
  friend auto operator<=>(const Replica&, const Replica&) = default;
};

/// Identifies one version of a presence cluster-wide: the replica instance
/// that tracked it and the clock of the track/update.
struct Ref {
  std::uint64_t instance = 0;
  Sequence clock = 0;
  friend bool operator==(const Ref&, const Ref&) = default;
  friend auto operator<=>(const Ref&, const Ref&) = default;
  /// "<instance hex>.<clock>", as carried in JSON.
  [[nodiscard]] std::string str() const;
};

/// Who tracked a presence: the node and the owner's id there.
struct OwnerId {
  std::string node;
  std::uint64_t id = 0;
  friend bool operator==(const OwnerId&, const OwnerId&) = default;
};

/// One presence as list() returns it (Phoenix's {key, meta} with the ref):
/// 64 bytes, no allocation for keys up to 30 bytes, meta shared.
struct Listed {
  Key key;  ///< converts to std::string_view; .str() for a std::string
  MetaPtr meta;
  Ref ref;
};

/// One presence with its owner, as get_by_key() returns it and diffs carry it.
struct Presence {
  Key key;  ///< converts to std::string_view; .str() for a std::string
  MetaPtr meta;
  Ref ref;
  OwnerId owner;
};

/// Joins and leaves of one topic.
struct TopicDiff {
  std::vector<Presence> joins;
  std::vector<Presence> leaves;
};
/// handle_diff's argument: topic -> (joins, leaves).
using Diff = std::map<std::string, TopicDiff, std::less<>>;

/// Append `more` to `diff`.
void append(Diff& diff, Diff&& more);

/// Stable 64-bit FNV-1a of the topic (identical on every node and build).
std::uint64_t topic_hash(std::string_view topic) noexcept;
/// Shard index of a topic: topic_hash(topic) % pool_size.
std::uint32_t shard_for_topic(std::string_view topic, std::uint32_t pool_size) noexcept;
/// Server name of shard n: "presence.<name>.<n>" (Phoenix's name_for_number).
std::string name_for_number(std::string_view name, std::uint32_t n);
/// Server name of the shard owning `topic` (Phoenix's name_for_topic).
std::string name_for_topic(std::string_view name, std::string_view topic, std::uint32_t pool_size);

}  // namespace plexus::presence
