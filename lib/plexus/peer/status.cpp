// Status of the peer service's links: sending and receiving frames on them,
// up/down per node and channel with exactly-once watcher events, sync_join
// completion, and the tick that drives heartbeats, dials and timers.
#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "plexus/core/errors.hpp"
#include "plexus/core/fault.hpp"
#include "plexus/peer/service_impl.hpp"

namespace plexus::peer {

namespace {

bool partitioned(const std::map<std::uint64_t, Partition>& table, std::string_view node, Direction way) {
  for (const auto& [ref, p] : table) {
    if (p.node == node && (p.direction == Direction::both || p.direction == way)) return true;
  }
  return false;
}

}  // namespace

bool PeerService::Impl::cut_outbound(std::string_view node) const {
  return !partition_table.empty() && partitioned(partition_table, node, Direction::outbound);
}

wire::Limits PeerService::Impl::wire_limits() const {
  wire::Limits limits;
  limits.max_frame_bytes = config.transport.max_frame_bytes;
  return limits;
}

// Hand one frame to a link. Callers count what did not go out, once.
SendOutcome PeerService::Impl::send_frame(PeerLinks& peer, std::string_view channel, std::uint16_t index,
                                          const std::vector<std::uint8_t>& frame, bool control) {
  auto it = peer.channels.find(channel);
  if (it == peer.channels.end()) {
    return cut_outbound(peer.spec.name) ? SendOutcome::partitioned : SendOutcome::not_connected;
  }
  return send_on(peer, it->first, it->second, index, OutFrame::ready(frame), control);
}

SendOutcome PeerService::Impl::send_on(PeerLinks& peer, std::string_view channel, std::vector<Slot>& slots,
                                       std::uint16_t index, const OutFrame& frame, bool control) {
  if (cut_outbound(peer.spec.name)) return SendOutcome::partitioned;
  if (slots.empty()) return SendOutcome::not_connected;
  Slot& slot = slots[index % slots.size()];
  if (!slot.attached) return SendOutcome::not_connected;
  if (PLEXUS_FAULT("peer.send_frame.outbox_full")) return SendOutcome::outbox_full;
  auto sent = frame.bytes ? slot.connection->send(*frame.bytes)
                          : slot.connection->send_in_place(frame.size, [&frame](std::span<std::uint8_t> body) {
                              wire::encode_in_place(body, *frame.message, frame.payload);
                            });
  if (!sent) {
    if (sent.error().code == errc::outbox_full) return SendOutcome::outbox_full;
    if (sent.error().code == errc::frame_too_large) return SendOutcome::too_large;
    return SendOutcome::not_connected;
  }
  if (const auto now = coarse_ticks(); now.count() != peer.sent_mark) {
    liveness.sent(peer.spec.name, now);
    peer.sent_mark = now.count();
  }
  if (!control) {
    if (!slot.traffic) slot.traffic = &peer.traffic_on(channel);
    ++slot.traffic->messages_sent;
    slot.traffic->bytes_sent += frame.size;
  }
  return SendOutcome::sent;
}

bool PeerService::Impl::send_control(PeerLinks& peer, const wire::Envelope& envelope) {
  return send_frame(peer, control_channel, 0, wire::encode(envelope), true) == SendOutcome::sent;
}

// Accepted or nudge connections that never attach are closed after the
// handshake timeout: they hold a socket and memory each.
void PeerService::Impl::close_stale_unattached(SteadyClock::time_point now) {
  std::vector<transport::ConnectionPtr> stale;
  for (const auto& [connection, waiting] : unattached) {
    if (now - waiting.since > config.transport.handshake_timeout) stale.push_back(connection);
  }
  for (const auto& connection : stale) {
    spdlog::warn("closing connection from {}: no attach within {} ms", connection->peer().name,
                 config.transport.handshake_timeout.count());
    forget_unattached(connection);
    connection->abort(make_error(errc::timed_out, "no attach"));
  }
}

PeerLinks* PeerService::Impl::peer_of(LinkContext& context) {
  if (context.cached_epoch != peers_epoch || !context.cached_peer) {
    context.cached_peer = find_peer(context.peer);
    context.cached_traffic = nullptr;
    context.cached_epoch = peers_epoch;
  }
  return context.cached_peer;
}

void PeerService::Impl::on_frame(const std::shared_ptr<LinkContext>& context,
                                 transport::Connection& connection, std::span<const std::uint8_t> body) {
  on_decoded(context, connection, wire::decode(body, wire_limits()), body.size());
}

void PeerService::Impl::on_decoded(const std::shared_ptr<LinkContext>& context, transport::Connection& connection,
                                   Result<wire::Envelope> decoded, std::size_t frame_bytes) {
  if (!decoded) {
    spdlog::warn("closing connection from {}: {}", connection.peer().name, decoded.error().message());
    connection.abort(decoded.error());
    return;
  }
  if (auto* attach = std::get_if<wire::Attach>(&*decoded)) {
    if (context->on_nudge_reply) {  // join_address / nudge: the peer introduced itself
      auto done = std::move(context->on_nudge_reply);
      context->on_nudge_reply = nullptr;
      auto added = core.admit(attach->spec, ticks(SteadyClock::now()));
      drain();
      wake();
      done(added ? Result<void>() : Result<void>(added.error()));
      return;
    }
    if (context->attached) return;  // a repeated attach changes nothing
    if (!partition_table.empty() && partitioned(partition_table, attach->spec.name, Direction::inbound)) {
      // Cut off as its other frames are: binding it would count the peer as
      // heard, up, and down again peer_timeout later (links dropped) — a flap.
      connection.close();
      return;
    }
    on_attach(context, connection.shared_from_this(), std::move(*attach));
    return;
  }
  if (!context->attached && !context->nudge) {
    connection.abort(make_error(errc::malformed_message, "message before attach"));
    return;
  }
  PeerLinks* peer = peer_of(*context);
  if (!peer) return;
  if (!partition_table.empty() && partitioned(partition_table, peer->spec.name, Direction::inbound)) {
    if (std::holds_alternative<wire::Message>(*decoded)) count_drop("partitioned");
    return;
  }
  // Heard at a coarse time already reported changes nothing: one lookup per
  // clock step, not one per frame.
  if (const auto now = coarse_ticks(); now.count() != context->heard_mark) {
    liveness.heard(peer->spec.name, now);
    context->heard_mark = now.count();
  }
  if (context->nudge && !context->dialer) {  // a nudge we answer: its digest, then we close
    if (auto* gossip = std::get_if<wire::Gossip>(&*decoded)) {
      if (auto* digest = std::get_if<std::vector<wire::DigestEntry>>(&gossip->body)) {
        answer_nudge(*peer, connection.shared_from_this(), *digest);
        return;
      }
    }
  }
  if (auto* message = std::get_if<wire::Message>(&*decoded)) {
    return on_message(*peer, *context, *message, frame_bytes);
  }
  const std::string from = peer->spec.name;  // the core may drop the peer's links
  std::visit(
      [&](auto&& kind) {
        using Kind = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<Kind, wire::Gossip>) core.on_gossip(from, std::move(kind), ticks(SteadyClock::now()));
        else if constexpr (std::is_same_v<Kind, wire::Ack>) core.on_ack(std::move(kind));
        else if constexpr (std::is_same_v<Kind, wire::Leave>) core.on_leave(from, kind, ticks(SteadyClock::now()));
        // Heartbeats only count as heard; Data/Goodbye are not peer-service kinds.
      },
      std::move(*decoded));
  drain();
  wake();
}

// Watchers run from the executor's queue, not inside the loop that found the
// transition, so a callback may call back into the service (leave, join...).
void PeerService::Impl::fire(bool up, const std::string& node, const std::string& channel) {
  if (channel.empty()) ++(up ? metrics.up_transitions : metrics.down_transitions);
  for (const auto& [id, w] : watches) {
    if (w.up == up && w.channel == channel && (w.node.empty() || w.node == node)) {
      asio::post(executor, [fn = w.fn, node, channel] { fn(node, channel); });
    }
  }
}

// Recompute up/down for a peer and fire exactly the transitions.
void PeerService::Impl::refresh(PeerLinks& peer, SteadyClock::time_point now) {
  const std::string name = peer.spec.name;
  const bool node_up = liveness.evaluate(name, ticks(now));
  if (node_up != peer.up) {
    peer.up = node_up;
    spdlog::info("{} {}", name, node_up ? "up" : "down");
    if (!node_up) {  // channels go down first, then the node
      for (auto& [channel, was_up] : peer.channel_up) {
        if (was_up) {
          was_up = false;
          fire(false, name, channel);
        }
      }
    }
    fire(node_up, name, "");
  }
  for (const auto& [channel, slots] : peer.channels) {
    if (channel == control_channel) continue;
    bool full = node_up;
    for (const auto& slot : slots) full = full && slot.attached;
    bool& was = peer.channel_up[channel];
    if (full != was) {
      was = full;
      fire(full, name, channel);
    }
  }
}

void PeerService::Impl::drop_links(PeerLinks& peer, const char* why) {
  spdlog::info("dropping links to {}: {}", peer.spec.name, why);
  for (auto& [channel, slots] : peer.channels) {
    for (auto& slot : slots) {
      if (slot.connection) slot.connection->close();
      slot = Slot{};
    }
  }
  liveness.link_down(peer.spec.name);
  refresh(peer, SteadyClock::now());
}

void PeerService::Impl::check_sync_joins(SteadyClock::time_point now) {
  for (auto it = sync_joins.begin(); it != sync_joins.end();) {
    std::string missing;
    for (const auto& spec : members.members()) {
      if (spec.name == self.name) continue;
      const PeerLinks* peer = find_peer(spec.name);
      if (!peer || !peer->up) { missing = spec.name + " is not up"; break; }
      for (const auto& [channel, up] : peer->channel_up) {
        if (!up) { missing = spec.name + " channel " + channel + " not at full parallelism"; break; }
      }
      if (!missing.empty()) break;
    }
    const bool known = members.find(it->node) && !members.find(it->node)->removed;
    if (missing.empty() && known) {
      auto done = std::move(it->done);
      it = sync_joins.erase(it);
      if (done) done({});
    } else if (now >= it->deadline) {
      auto done = std::move(it->done);
      it = sync_joins.erase(it);
      if (done) done(make_error(errc::timed_out, "sync_join: " + (known ? missing : it->node + " unknown")));
    } else {
      ++it;
    }
  }
}

// Every tick: heartbeats, gossip, retransmits, monotonic drains, acks,
// sync_joins. The per-peer sweep (up/down by timeout, redials and nudges,
// partition TTLs, stale attaches) runs at most every sweep_interval: sweeping
// every peer every 10 ms was most of a large cluster's tick (and a join opens
// and closes a nudge connection per pair). The idle tick comes only when
// something is due.
void PeerService::Impl::tick() {
  const auto now = SteadyClock::now();
  if (now >= next_sweep) {
    next_sweep = now + config.sweep_interval;
    const auto before = partition_table.size();
    for (auto it = partition_table.begin(); it != partition_table.end();) {
      it = (it->second.expires && now >= *it->second.expires) ? partition_table.erase(it) : std::next(it);
    }
    if (partition_table.size() != before) sync_cut();
    for (auto& [name, peer] : peers) {
      if (core.close_if_silent(name, ticks(now))) drop_links(peer, "down (silent for peer_timeout)");
      refresh(peer, now);
      reconcile(peer, now);
    }
    close_stale_unattached(now);
  }
  // Heartbeats (only links that carried nothing from us for an interval),
  // gossip, anti-entropy, retransmits and acks: the core's.
  core.tick(ticks(now));
  drain();
  drain_monotonic();
  flush_dispatch();
  check_sync_joins(now);
}

// Work that needs the fast tick: changes to gossip, acks to flush or await,
// monotonic buffers to drain, sync_joins to complete, connections attaching.
// Redials (backoff >= redial_min) and timeouts are fine at the idle pace.
bool PeerService::Impl::has_timed_work() const {
  return core.has_timed_work() || !monotonic.empty() || !sync_joins.empty() || !unattached.empty();
}

SteadyClock::time_point PeerService::Impl::idle_due(SteadyClock::time_point now) const {
  auto due = now + config.idle_tick_interval;
  if (const auto wakeup = core.next_wakeup()) {
    // The core's time is the steady clock's nanoseconds since its epoch.
    due = std::min(due, SteadyClock::time_point(std::chrono::duration_cast<SteadyClock::duration>(*wakeup)));
  }
  for (const auto& [ref, partition] : partition_table) {
    if (partition.expires) due = std::min(due, *partition.expires);
  }
  // Not before the next sweep, which is what acts on most of these: a dial
  // that is due while one is in flight stays due, and must not make the tick spin.
  return std::max({due, next_sweep, now + config.tick_interval});
}

void PeerService::Impl::arm_tick() {
  const auto now = SteadyClock::now();
  const bool busy = has_timed_work();
  arm_tick_at(busy ? now + config.tick_interval : idle_due(now));
}

void PeerService::Impl::arm_tick_at(SteadyClock::time_point due) {
  tick_due = due;
  tick_timer.expires_at(tick_due);
  std::weak_ptr<Impl> weak = shared_from_this();
  tick_timer.async_wait([weak](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopping) return;  // cancelled: a re-arm or stop owns the timer now
    self->tick();
    self->arm_tick();
  });
}

void PeerService::Impl::wake() {
  if (stopping || tick_due - SteadyClock::now() <= config.tick_interval || !has_timed_work()) return;
  arm_tick();  // expires_at cancels the slow wait; its handler returns on the error
}

void PeerService::Impl::sweep_by(SteadyClock::time_point due) {
  if (stopping) return;
  if (const auto at = std::max(due, next_sweep); at < tick_due) arm_tick_at(at);
}

}  // namespace plexus::peer
