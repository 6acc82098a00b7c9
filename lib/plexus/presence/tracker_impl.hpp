// Internal: Tracker::Impl, the Asio shell around the sans-IO Shards. It feeds
// them peer-service messages, up/down events and timer ticks, forwards what
// they send, and hands their diffs to handle_diff. Everything runs on the peer
// service executor; server handlers (worker strands) post there.
#pragma once

#include "plexus/presence/presence.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <deque>

#include "plexus/peer/peer_service.hpp"
#include "plexus/presence/shard.hpp"

namespace plexus::presence {

struct Tracker::Impl : std::enable_shared_from_this<Tracker::Impl> {
  Impl(asio::any_io_executor ex, std::shared_ptr<peer::PeerService> svc, Options o, DiffHandler handler)
      : executor(std::move(ex)), service(std::move(svc)), options(std::move(o)), handle_diff(std::move(handler)),
        timer(executor) {}

  asio::any_io_executor executor;
  std::shared_ptr<peer::PeerService> service;
  Options options;
  DiffHandler handle_diff;
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<std::string> server_names;
  std::vector<std::uint64_t> watches;
  asio::steady_timer timer;
  std::optional<TimePoint> armed_at;
  Diff pending_diff;
  bool diff_posted = false;
  std::deque<Error> errors;
  std::uint64_t next_owner = 0;  // the last id given; a random start (Tracker::start)
  std::uint64_t send_failures = 0;
  bool stopped = false;

  static TimePoint now() { return std::chrono::steady_clock::now(); }

  void drain(std::uint32_t index) {
    Output out = shards[index]->take();
    if (!out.sends.empty()) {
      peer::ForwardOptions forward;
      forward.channel = options.channel;
      forward.partition_key = index;
      for (const auto& send : out.sends) {
        if (!service->forward_message(send.to, server_names[index], *send.bytes, forward)) ++send_failures;
      }
    }
    for (auto& error : out.errors) {
      spdlog::error("presence {}.{}: {}", options.name, index, error.message());
      errors.push_back(std::move(error));
      if (errors.size() > 64) errors.pop_front();
    }
    if (!out.diff.empty() && handle_diff) {
      append(pending_diff, std::move(out.diff));
      post_diff();
    }
    arm(shards[index]->next_deadline());
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

  void arm(TimePoint deadline) {
    if (stopped || (armed_at && *armed_at <= deadline)) return;
    armed_at = deadline;
    timer.expires_at(deadline);
    timer.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec == asio::error::operation_aborted) return;
      self->armed_at.reset();
      self->tick();
    });
  }

  void tick() {
    if (stopped) return;
    const TimePoint t = now();
    for (std::uint32_t i = 0; i < shards.size(); ++i) {
      shards[i]->on_tick(t);
      drain(i);
    }
  }

  void receive(std::uint32_t index, const std::string& from, const std::vector<std::uint8_t>& payload) {
    if (stopped) return;
    shards[index]->on_message(from, payload, now());
    drain(index);
  }

  void peer_event(const std::string& node, bool up) {
    if (stopped) return;
    const TimePoint t = now();
    for (std::uint32_t i = 0; i < shards.size(); ++i) {
      if (up) shards[i]->on_peer_up(node, t);
      else shards[i]->on_peer_down(node, t);
      drain(i);
    }
  }

  Shard& shard_of(std::string_view topic) { return *shards[shard_for_topic(topic, options.pool_size)]; }
  void drain_topic(std::string_view topic) { drain(shard_for_topic(topic, options.pool_size)); }

  std::size_t close_owner(std::uint64_t id) {
    std::size_t count = 0;
    const TimePoint t = now();
    for (std::uint32_t i = 0; i < shards.size(); ++i) {
      const std::size_t removed = shards[i]->untrack(id, t);
      count += removed;
      if (removed > 0) drain(i);
    }
    return count;
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    timer.cancel();
    for (const auto& name : server_names) service->unregister_server(name);
    for (auto id : watches) service->remove_watch(id);
    watches.clear();
  }
};

}  // namespace plexus::presence
