// Internal: Tracker::Impl, the presence tracker's shell: a replica::Host that
// carries the sans-IO Shards over the peer service (it feeds them messages,
// up/down events and timer ticks and forwards what they send), plus what is
// presence's own: diffs coalesced and posted to handle_diff, and owner ids.
// Everything runs on the peer service executor.
#pragma once

#include "plexus/presence/presence.hpp"

#include <asio/post.hpp>

#include "plexus/peer/peer_service.hpp"
#include "plexus/presence/shard.hpp"
#include "plexus/replica/host.hpp"

namespace plexus::presence {

struct Tracker::Impl : std::enable_shared_from_this<Tracker::Impl> {
  /// The host's output handler: a shard's diff to take_diff(). A type of its
  /// own, not a std::function, as it runs after every track.
  struct TakeDiff {
    Impl* impl = nullptr;
    void operator()(std::uint32_t, Output& out) const { impl->take_diff(out); }
  };
  using Host = replica::Host<Shard, TakeDiff>;

  Impl(asio::any_io_executor ex, Options o, DiffHandler handler)
      : executor(std::move(ex)), options(std::move(o)), handle_diff(std::move(handler)) {}

  asio::any_io_executor executor;
  Options options;
  DiffHandler handle_diff;
  std::shared_ptr<Host> host;
  Diff pending_diff;
  bool diff_posted = false;
  std::uint64_t next_owner = 0;  // the last id given; a random start (Tracker::start)

  static TimePoint now() { return Host::now(); }
  [[nodiscard]] bool stopped() const { return host->stopped(); }
  Shard& shard(std::uint32_t index) { return host->core(index); }
  void drain(std::uint32_t index) { host->drain(index); }

  /// The host's output handler: a shard's diff, once its sends went out.
  void take_diff(Output& out) {
    if (!out.diff.empty() && handle_diff) {
      append(pending_diff, std::move(out.diff));
      post_diff();
    }
  }

  // Diffs are coalesced and delivered from the executor, never inside a Tracker call.
  void post_diff() {
    if (diff_posted) return;
    diff_posted = true;
    asio::post(executor, [weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self) return;
      self->diff_posted = false;
      Diff diff = std::move(self->pending_diff);
      self->pending_diff.clear();
      if (!diff.empty() && self->handle_diff) self->handle_diff(diff);
    });
  }

  Shard& shard_of(std::string_view topic) { return shard(shard_for_topic(topic, options.pool_size)); }
  void drain_topic(std::string_view topic) { drain(shard_for_topic(topic, options.pool_size)); }

  std::size_t close_owner(std::uint64_t id) {
    std::size_t count = 0;
    const TimePoint t = now();
    for (std::uint32_t i = 0; i < host->size(); ++i) {
      const std::size_t removed = shard(i).untrack(id, t);
      count += removed;
      if (removed > 0) drain(i);
    }
    return count;
  }

  void stop() { host->stop(); }
};

}  // namespace plexus::presence
