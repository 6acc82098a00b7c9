// Connections of the peer service: listening, dialing (the smaller name
// dials; the larger nudges it), the attach exchange that binds a connection
// to (peer, channel, index), up/down status and its watchers, and the tick
// that drives timers.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include "plexus/core/errors.hpp"
#include "plexus/peer/service_impl.hpp"

namespace plexus::peer {
namespace {

asio::ip::tcp::endpoint endpoint_of(const ListenAddr& addr) {
  return {asio::ip::make_address(addr.ip), addr.port};
}

// Setup frames on a connection not yet in the slot table. A failure here
// (outbox full, closing) means the connection is going away anyway, and its
// close handler does the bookkeeping.
void send_now(const transport::ConnectionPtr& connection, const wire::Envelope& envelope) {
  (void)connection->send(wire::encode(envelope));
}

}  // namespace

std::map<std::string, std::uint32_t, std::less<>> shared_channels(const NodeSpec& self, const NodeSpec& peer) {
  std::map<std::string, std::uint32_t, std::less<>> out{{std::string(control_channel), 1}};
  for (const auto& [name, mine] : self.channels) {
    auto theirs = peer.channels.find(name);
    if (theirs != peer.channels.end()) out[name] = std::min(mine.parallelism, theirs->second.parallelism);
  }
  return out;
}

Result<void> PeerService::Impl::open_listeners() {
  std::weak_ptr<Impl> weak = shared_from_this();
  std::vector<ListenAddr> bound;
  for (const auto& addr : config.listen) {
    asio::ip::tcp::endpoint where;
    try {
      where = endpoint_of(addr);
    } catch (const std::exception&) {
      return make_error(errc::invalid_field, "listen: bad address " + to_string(addr));
    }
    auto listener = transport::Listener::open(executor, where, identity, config.transport, counters,
                                              [weak](transport::ConnectionPtr c) {
                                                if (auto self = weak.lock()) self->on_accepted(std::move(c));
                                              });
    if (!listener) return listener.error();
    bound.push_back({addr.ip, (*listener)->local_endpoint().port()});
    listeners.push_back(*listener);
  }
  self.listen_addrs = bound;
  return {};
}

void PeerService::Impl::start_connection(const transport::ConnectionPtr& connection,
                                         std::shared_ptr<LinkContext> context) {
  std::weak_ptr<Impl> weak = shared_from_this();
  std::weak_ptr<transport::Connection> weak_connection = connection;
  connection->set_on_read_done([weak] {
    if (auto self = weak.lock()) self->flush_dispatch();
  });
  connection->start(
      [weak, context, weak_connection](std::span<const std::uint8_t> body) {
        auto self = weak.lock();
        auto c = weak_connection.lock();
        if (self && c) self->on_frame(context, c, body);
      },
      [weak, context, weak_connection](const Error& why) {
        auto self = weak.lock();
        auto c = weak_connection.lock();
        if (self && c) self->on_connection_closed(context, c, why);
      });
}

void PeerService::Impl::on_accepted(transport::ConnectionPtr connection) {
  if (stopping || left) {
    connection->close();
    return;
  }
  auto context = std::make_shared<LinkContext>();
  context->peer = connection->peer().name;
  unattached.emplace(connection, Clock::now());
  start_connection(connection, context);
}

PeerLinks* PeerService::Impl::find_peer(std::string_view name) {
  auto it = peers.find(name);
  return it == peers.end() ? nullptr : &it->second;
}

// Make the slot table match the channels shared with the peer's current spec.
void PeerService::Impl::ensure_links(PeerLinks& peer) {
  const auto shared = shared_channels(self, peer.spec);
  for (auto it = peer.channels.begin(); it != peer.channels.end();) {
    if (!shared.count(it->first)) {
      for (auto& slot : it->second) if (slot.connection) slot.connection->close();
      it = peer.channels.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, parallelism] : shared) {
    auto& slots = peer.channels[name];
    for (std::size_t i = parallelism; i < slots.size(); ++i) {
      if (slots[i].connection) slots[i].connection->close();
    }
    slots.resize(parallelism);
  }
}

void PeerService::Impl::on_attach(const std::shared_ptr<LinkContext>& context,
                                  const transport::ConnectionPtr& connection, wire::Attach attach) {
  if (attach.spec.name != connection->peer().name || attach.spec.instance_id != connection->peer().instance_id) {
    spdlog::warn("closing connection from {}: attach names {} instance {:x}, handshake said {} {:x}",
                 connection->peer().name, attach.spec.name, attach.spec.instance_id,
                 connection->peer().name, connection->peer().instance_id);
    connection->abort(make_error(errc::malformed_message, "attach does not match the handshake"));
    return;
  }
  if (const auto* entry = members.find(attach.spec.name);
      entry && entry->removed && entry->spec.instance_id == attach.spec.instance_id) {
    // A removed life that never heard of its removal: tell it, refuse it.
    const std::string name = attach.spec.name;
    std::vector<wire::MemberEntry> tombstone;
    for (const auto& e : members.entries_for(std::span(&name, 1))) tombstone.push_back({e.spec, e.version, e.removed});
    send_now(connection, wire::Envelope{wire::Gossip{std::move(tombstone)}});
    send_now(connection, wire::Envelope{wire::Leave{name, attach.spec.instance_id, "removed"}});
    connection->close();
    return;
  }
  // Attaching is joining: whoever connects with the key and a valid spec is a member.
  if (auto added = members.add(attach.spec); !added) {
    spdlog::warn("refusing {}: {}", attach.spec.name, added.error().message());
    connection->close();
    return;
  } else if (*added) {
    dirty.insert(attach.spec.name);
    apply_changes({membership::Change{membership::ChangeKind::added, attach.spec, std::nullopt}});
  }
  PeerLinks* peer = find_peer(attach.spec.name);
  if (!peer) {  // membership refused to make it live (e.g. removed_self)
    connection->close();
    return;
  }
  if (context->nudge || attach.nudge) {
    // A short contact: answer with our spec and state, and let it close.
    context->nudge = true;  // its gossip follows the attach on this connection
    if (!context->dialer) {
      send_now(connection, wire::Envelope{wire::Attach{self, std::string(control_channel), 0, true}});
      std::vector<wire::MemberEntry> entries;
      for (const auto& e : members.entries()) entries.push_back({e.spec, e.version, e.removed});
      send_now(connection, wire::Envelope{wire::Gossip{std::move(entries)}});
      connection->close();
    }
    peer->next_dial = Clock::now();
    reconcile(*peer, Clock::now());
    return;
  }
  auto slots = peer->channels.find(attach.channel);
  if (slots == peer->channels.end() || attach.index >= slots->second.size()) {
    spdlog::warn("closing connection from {}: no slot {}[{}]", attach.spec.name, attach.channel, attach.index);
    connection->close();
    return;
  }
  Slot& slot = slots->second[attach.index];
  if (slot.connection && slot.connection != connection) slot.connection->close();
  if (!context->dialer) {
    send_now(connection, wire::Envelope{wire::Attach{self, attach.channel, attach.index, false}});
  }
  unattached.erase(connection);
  context->peer = attach.spec.name;
  context->channel = attach.channel;
  context->index = attach.index;
  context->attached = true;
  slot.connection = connection;
  slot.attached = true;
  slot.dialing = false;
  const auto now = Clock::now();
  if (attach.channel == control_channel) {
    peer->last_heard = now;
    peer->backoff = Millis(0);
    send_full_state(*peer);
  }
  refresh(*peer, now);
}

void PeerService::Impl::on_connection_closed(const std::shared_ptr<LinkContext>& context,
                                             const transport::ConnectionPtr& connection, const Error& why) {
  unattached.erase(connection);
  if (context->on_nudge_reply) {
    auto done = std::move(context->on_nudge_reply);
    context->on_nudge_reply = nullptr;
    done(make_error(errc::connection_closed, "no answer: " + why.message()));
  }
  PeerLinks* peer = find_peer(context->peer);
  if (!peer || !context->attached) return;
  auto slots = peer->channels.find(context->channel);
  if (slots == peer->channels.end() || context->index >= slots->second.size()) return;
  Slot& slot = slots->second[context->index];
  if (slot.connection != connection) return;
  slot = Slot{};
  if (why.code && why.code != errc::peer_closed) {
    spdlog::info("connection to {} ({}[{}]) lost: {}", peer->spec.name, context->channel, context->index,
                 why.message());
  }
  refresh(*peer, Clock::now());
}

void PeerService::Impl::dial_slot(const std::string& peer_name, const std::string& channel, std::uint16_t index) {
  PeerLinks* peer = find_peer(peer_name);
  if (!peer || peer->spec.listen_addrs.empty()) return;
  peer->channels[channel][index].dialing = true;
  const auto target = endpoint_of(peer->spec.listen_addrs.front());
  const std::uint64_t instance = peer->spec.instance_id;
  auto self_ptr = shared_from_this();
  asio::co_spawn(executor, [self_ptr, peer_name, channel, index, target, instance]() -> asio::awaitable<void> {
    auto& s = *self_ptr;
    auto result = co_await transport::dial(s.executor, target, s.identity, s.config.transport, s.counters);
    PeerLinks* peer = s.find_peer(peer_name);
    Slot* slot = nullptr;
    if (peer) {
      auto it = peer->channels.find(channel);
      if (it != peer->channels.end() && index < it->second.size()) slot = &it->second[index];
    }
    if (slot) slot->dialing = false;
    if (!result) {
      spdlog::debug("dial {} {}[{}]: {}", peer_name, channel, index, result.error().message());
      co_return;
    }
    auto connection = *result;
    if (!slot || s.stopping || s.left || connection->peer().name != peer_name ||
        connection->peer().instance_id != instance) {
      connection->close();  // gone, replaced, or someone else answers at that address
      co_return;
    }
    auto context = std::make_shared<LinkContext>();
    context->peer = peer_name;
    context->channel = channel;
    context->index = index;
    context->dialer = true;
    s.unattached.emplace(connection, Clock::now());
    s.start_connection(connection, context);
    send_now(connection, wire::Envelope{wire::Attach{s.self, channel, index, false}});
  }, asio::detached);
}

void PeerService::Impl::nudge(const ListenAddr& address, Completion done) {
  auto self_ptr = shared_from_this();
  asio::co_spawn(executor, [self_ptr, address, done = std::move(done)]() mutable -> asio::awaitable<void> {
    auto& s = *self_ptr;
    asio::ip::tcp::endpoint target;
    try {
      target = endpoint_of(address);
    } catch (const std::exception&) {
      if (done) done(make_error(errc::invalid_field, "bad address " + to_string(address)));
      co_return;
    }
    auto result = co_await transport::dial(s.executor, target, s.identity, s.config.transport, s.counters);
    if (!result) {
      if (done) done(result.error());
      co_return;
    }
    auto connection = *result;
    auto context = std::make_shared<LinkContext>();
    context->peer = connection->peer().name;
    context->dialer = true;
    context->nudge = true;
    context->on_nudge_reply = std::move(done);
    s.unattached.emplace(connection, Clock::now());
    s.start_connection(connection, context);
    send_now(connection, wire::Envelope{wire::Attach{s.self, std::string(control_channel), 0, true}});
    std::vector<wire::MemberEntry> entries;
    for (const auto& e : s.members.entries()) entries.push_back({e.spec, e.version, e.removed});
    send_now(connection, wire::Envelope{wire::Gossip{std::move(entries)}});
  }, asio::detached);
}

// Dial what is missing (when we are the dialer), or nudge the peer to dial us.
void PeerService::Impl::reconcile(PeerLinks& peer, Clock::time_point now) {
  if (stopping || left || now < peer.next_dial) return;
  bool missing = false;
  bool any_dialing = false;
  for (auto& [channel, slots] : peer.channels) {
    for (auto& slot : slots) {
      missing |= !slot.connection && !slot.dialing;
      any_dialing |= slot.dialing;
    }
  }
  if (!missing || any_dialing) return;
  std::uniform_int_distribution<long> jitter(0, std::max<long>(1, peer.backoff.count() / 2));
  peer.backoff = std::clamp(peer.backoff * 2, config.redial_min, config.redial_max);
  peer.next_dial = now + peer.backoff + Millis(jitter(rng));
  if (dials(self.name, peer.spec.name)) {
    for (auto& [channel, slots] : peer.channels) {
      for (std::size_t i = 0; i < slots.size(); ++i) {
        if (!slots[i].connection && !slots[i].dialing) dial_slot(peer.spec.name, channel, std::uint16_t(i));
      }
    }
  } else if (!peer.channels[std::string(control_channel)][0].attached && !peer.spec.listen_addrs.empty()) {
    nudge(peer.spec.listen_addrs.front(), {});
  }
}

namespace {

bool partitioned(const std::map<std::uint64_t, Partition>& table, std::string_view node, Direction way) {
  for (const auto& [ref, p] : table) {
    if (p.node == node && (p.direction == Direction::both || p.direction == way)) return true;
  }
  return false;
}

}  // namespace

// Hand one frame to a link. Callers count what did not go out, once.
SendOutcome PeerService::Impl::send_frame(PeerLinks& peer, std::string_view channel, std::uint16_t index,
                                          const std::vector<std::uint8_t>& frame, bool control) {
  if (partitioned(partition_table, peer.spec.name, Direction::outbound)) return SendOutcome::partitioned;
  auto it = peer.channels.find(channel);
  if (it == peer.channels.end() || it->second.empty()) return SendOutcome::not_connected;
  Slot& slot = it->second[index % it->second.size()];
  if (!slot.attached) return SendOutcome::not_connected;
  if (auto sent = slot.connection->send(frame); !sent) {
    if (sent.error().code == errc::outbox_full) return SendOutcome::outbox_full;
    if (sent.error().code == errc::frame_too_large) return SendOutcome::too_large;
    return SendOutcome::not_connected;
  }
  if (!control) {
    const auto key = metric_key(peer.spec.name, channel);
    ++metrics.messages_sent[key];
    metrics.bytes_sent[key] += frame.size();
  }
  return SendOutcome::sent;
}

bool PeerService::Impl::send_control(PeerLinks& peer, const wire::Envelope& envelope) {
  return send_frame(peer, control_channel, 0, wire::encode(envelope), true) == SendOutcome::sent;
}

// Accepted or nudge connections that never attach are closed after the
// handshake timeout: they hold a socket and memory each.
void PeerService::Impl::close_stale_unattached(Clock::time_point now) {
  std::vector<transport::ConnectionPtr> stale;
  for (const auto& [connection, since] : unattached) {
    if (now - since > config.transport.handshake_timeout) stale.push_back(connection);
  }
  for (const auto& connection : stale) {
    spdlog::warn("closing connection from {}: no attach within {} ms", connection->peer().name,
                 config.transport.handshake_timeout.count());
    unattached.erase(connection);
    connection->abort(make_error(errc::timed_out, "no attach"));
  }
}

void PeerService::Impl::on_frame(const std::shared_ptr<LinkContext>& context,
                                 const transport::ConnectionPtr& connection, std::span<const std::uint8_t> body) {
  wire::Limits limits;
  limits.max_frame_bytes = config.transport.max_frame_bytes;
  auto decoded = wire::decode(body, limits);
  if (!decoded) {
    spdlog::warn("closing connection from {}: {}", connection->peer().name, decoded.error().message());
    connection->abort(decoded.error());
    return;
  }
  if (auto* attach = std::get_if<wire::Attach>(&*decoded)) {
    if (context->on_nudge_reply) {  // join_address / nudge: the peer introduced itself
      auto done = std::move(context->on_nudge_reply);
      context->on_nudge_reply = nullptr;
      auto added = attach->spec.name == self.name ? Result<bool>(false) : members.add(attach->spec);
      if (added && *added) {
        dirty.insert(attach->spec.name);
        apply_changes({membership::Change{membership::ChangeKind::added, attach->spec, std::nullopt}});
      }
      done(added ? Result<void>() : Result<void>(added.error()));
      return;
    }
    if (context->attached) return;  // a repeated attach changes nothing
    on_attach(context, connection, std::move(*attach));
    return;
  }
  if (!context->attached && !context->nudge) {
    connection->abort(make_error(errc::malformed_message, "message before attach"));
    return;
  }
  PeerLinks* peer = find_peer(context->peer);
  if (!peer) return;
  if (partitioned(partition_table, peer->spec.name, Direction::inbound)) {
    if (std::holds_alternative<wire::Message>(*decoded)) count_drop("partitioned");
    return;
  }
  peer->last_heard = Clock::now();
  std::visit(
      [&](auto&& kind) {
        using Kind = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<Kind, wire::Gossip>) on_gossip(*peer, std::move(kind));
        else if constexpr (std::is_same_v<Kind, wire::Message>) on_message(*peer, context->channel, std::move(kind), body.size());
        else if constexpr (std::is_same_v<Kind, wire::Ack>) on_ack(std::move(kind));
        else if constexpr (std::is_same_v<Kind, wire::Leave>) on_leave_message(*peer, kind);
        // Heartbeats only refresh last_heard; Data/Goodbye are not peer-service kinds.
      },
      std::move(*decoded));
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
void PeerService::Impl::refresh(PeerLinks& peer, Clock::time_point now) {
  const auto& control = peer.channels[std::string(control_channel)];
  const bool node_up = !control.empty() && control[0].attached && now - peer.last_heard <= config.peer_timeout;
  const std::string name = peer.spec.name;
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
  refresh(peer, Clock::now());
}

void PeerService::Impl::check_sync_joins(Clock::time_point now) {
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

void PeerService::Impl::tick() {
  const auto now = Clock::now();
  for (auto it = partition_table.begin(); it != partition_table.end();) {
    it = (it->second.expires && now >= *it->second.expires) ? partition_table.erase(it) : std::next(it);
  }
  if (now - last_heartbeat >= config.heartbeat_interval) {
    last_heartbeat = now;
    ++heartbeat_sequence;
    const auto frame = wire::encode(wire::Envelope{wire::Heartbeat{heartbeat_sequence}});
    for (auto& [name, peer] : peers) send_frame(peer, control_channel, 0, frame, true);
  }
  for (auto& [name, peer] : peers) {
    refresh(peer, now);
    reconcile(peer, now);
  }
  broadcast_dirty();
  close_stale_unattached(now);
  if (now - last_anti_entropy >= config.gossip_interval) {
    last_anti_entropy = now;
    anti_entropy();
  }
  retransmit(now);
  drain_monotonic();
  flush_acks();
  check_sync_joins(now);
}

void PeerService::Impl::arm_tick() {
  tick_timer.expires_after(config.tick_interval);
  std::weak_ptr<Impl> weak = shared_from_this();
  tick_timer.async_wait([weak](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopping) return;
    self->tick();
    self->arm_tick();
  });
}

}  // namespace plexus::peer
