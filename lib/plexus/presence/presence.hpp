// plexus::presence — the presence tracker: Phoenix.Tracker's semantics,
// replicated through the Plexus peer service. The one public header of the
// component (it includes types.hpp and errors.hpp for the value types).
//
// A Tracker runs options.pool_size shards on one node. Shard i owns the
// topics with shard_for_topic(topic, pool_size) == i and talks only to shard
// i on the other nodes: server "presence.<name>.<i>", channel
// options.channel with partition key i (so each shard has its own ordered
// connection). The replication protocol is the sans-IO presence::Shard
// (shard.hpp); this class is its Asio shell. See docs/presence.md.
//
// Threading: every method, Owner::close() and an Owner's destructor must run
// on the executor given to start() — the peer service's executor. handle_diff
// runs there too, posted (never from inside a Tracker call).
#pragma once

#include <asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "plexus/presence/errors.hpp"
#include "plexus/presence/types.hpp"

namespace plexus::peer {
class PeerService;
}

namespace plexus::presence {

struct ShardCounters;

/// Stand-in for a tracked process: closing or destroying it untracks
/// everything it tracked, on this node and, through the next delta,
/// everywhere. Move-only; an Owner outliving its Tracker does nothing.
class Owner {
 public:
  Owner() = default;
  ~Owner();
  Owner(Owner&& other) noexcept;
  Owner& operator=(Owner&& other) noexcept;
  Owner(const Owner&) = delete;
  Owner& operator=(const Owner&) = delete;

  /// Untrack everything; later calls with this Owner fail with closed_owner.
  void close();
  [[nodiscard]] bool is_open() const noexcept { return id_ != 0 && !tracker_.expired(); }
  /// Unique per Tracker; other nodes see it in Presence::owner.id.
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

  struct Impl;

 private:
  friend class Tracker;
  Owner(std::weak_ptr<void> tracker, std::uint64_t id) : tracker_(std::move(tracker)), id_(id) {}
  std::weak_ptr<void> tracker_;
  std::uint64_t id_ = 0;
};

/// Snapshot of a Tracker's counters.
struct TrackerMetrics {
  std::size_t presences = 0;      ///< held on this node, all shards, hidden ones included
  std::size_t local_presences = 0;
  std::uint64_t deltas_sent = 0;
  std::uint64_t deltas_merged = 0;
  std::uint64_t gaps = 0;
  std::uint64_t transfer_requests_sent = 0;
  std::uint64_t transfers_sent_delta = 0;
  std::uint64_t transfers_sent_full = 0;
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t bad_messages = 0;
  std::uint64_t pool_size_mismatches = 0;
  std::uint64_t send_failures = 0;  ///< forward_message refusals (peer not connected, ...)
};

class Tracker {
 public:
  /// Called with {topic -> (joins, leaves)} for local and remote changes.
  using DiffHandler = std::function<void(const Diff&)>;
  using Visitor = std::function<void(std::string_view key, const MetaPtr& meta, Ref ref)>;
  using MetaFn = std::function<nlohmann::json(const nlohmann::json&)>;

  /// Validate `options`, register the shards' servers and watches on
  /// `service` and start the timer. The peer service must serve
  /// options.channel (add it to peer::Config::channels, e.g. parallelism
  /// pool_size). Errors: invalid_option naming the option; plexus::errc
  /// invalid_field when a server name is taken (two trackers with one name).
  static Result<std::shared_ptr<Tracker>> start(asio::any_io_executor executor,
                                                std::shared_ptr<peer::PeerService> service, Options options,
                                                DiffHandler handle_diff = {});
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  /// A new owner (a tracked "process").
  Owner open_owner();

  /// Track `key` in `topic` for `owner` with `meta`. Errors: already_tracked,
  /// closed_owner, stopped.
  Result<Ref> track(const Owner& owner, std::string_view topic, std::string_view key, const nlohmann::json& meta);
  /// Errors: not_tracked, closed_owner, stopped.
  Result<void> untrack(const Owner& owner, std::string_view topic, std::string_view key);
  /// Untrack everything `owner` tracked (all shards); returns how many.
  std::size_t untrack(const Owner& owner);
  /// Replace the meta; the presence gets a new ref. Errors: not_tracked, closed_owner, stopped.
  Result<Ref> update(const Owner& owner, std::string_view topic, std::string_view key, const nlohmann::json& meta);
  /// Replace the meta with fn(current meta).
  Result<Ref> update(const Owner& owner, std::string_view topic, std::string_view key, const MetaFn& fn);

  /// Presences of `topic` on every up replica: key, shared meta, ref.
  [[nodiscard]] std::vector<Listed> list(std::string_view topic) const;
  /// As list() without building a vector: visit(key, meta, ref) per presence.
  void for_each(std::string_view topic, const Visitor& visit) const;
  /// Presences of `key` in `topic` (one per owner that tracks it).
  [[nodiscard]] std::vector<Presence> get_by_key(std::string_view topic, std::string_view key) const;
  /// Tell every node to drop this node's presences now, drop them here, and
  /// stop replicating (later tracks fail with stopped).
  void graceful_permdown();
  /// Unregister from the peer service and stop the timer (no permdown: other
  /// nodes see this node go down). Idempotent; the destructor calls it.
  void stop();

  [[nodiscard]] const Options& options() const noexcept;
  /// The shard index of `topic`.
  [[nodiscard]] std::uint32_t shard_for(std::string_view topic) const noexcept;
  [[nodiscard]] TrackerMetrics metrics() const;
  /// The last problems reported by the shards (pool size mismatches, bad
  /// messages), newest last, at most 64. Each is also logged.
  [[nodiscard]] std::vector<Error> recent_errors() const;

  struct Impl;

 private:
  explicit Tracker(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace plexus::presence
