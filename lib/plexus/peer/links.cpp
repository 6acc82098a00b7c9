// Connections of the peer service: listening, dialing (the smaller name
// dials; the larger nudges it: nudge.cpp), and the attach exchange that
// binds a connection to (peer, channel, index). Status and the tick: status.cpp.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include "plexus/core/errors.hpp"
#include "plexus/peer/core/member_entries.hpp"
#include "plexus/peer/service_impl.hpp"

namespace plexus::peer {

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
    // Admission (transport/admission.hpp) reserves slots for members' addresses and keeps
    // handshakes whose hello names a member longest.
    (*listener)->set_known({[weak](const asio::ip::address& address) {
                              auto self = weak.lock();
                              if (!self) return false;
                              for (const auto& [name, peer] : self->peers) {
                                for (const auto& listen : peer.spec.listen_addrs) {
                                  std::error_code ec;
                                  if (asio::ip::make_address(listen.ip, ec) == address && !ec) return true;
                                }
                              }
                              return false;
                            },
                            [weak](const std::string& name) {
                              auto self = weak.lock();
                              return self && self->peers.contains(name);
                            }});
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
  // The frame handler is owned and called only by the connection itself, so
  // the connection is alive whenever it runs: no lock of it per frame.
  connection->start(
      [weak, context, raw = connection.get()](std::span<const std::uint8_t> body) {
        if (auto self = weak.lock()) self->on_frame(context, *raw, body);
      },
      [weak, context, weak_connection](const Error& why) {
        auto self = weak.lock();
        auto c = weak_connection.lock();
        if (!self || !c) return;
        self->on_connection_closed(context, c, why);
        self->check_stopped();
      });
}

void PeerService::Impl::decode_on_bulk_thread(const transport::ConnectionPtr& connection,
                                              const std::shared_ptr<LinkContext>& context) {
  std::weak_ptr<Impl> weak = shared_from_this();
  connection->set_preparer(
      [limits = wire_limits()](std::span<const std::uint8_t> body) -> transport::Connection::Prepared {
        return std::make_shared<Result<wire::Envelope>>(wire::decode(body, limits));  // pure: any thread
      },
      // Owned and called only by the connection: it is alive whenever this runs.
      [weak, context, raw = connection.get()](transport::Connection::Prepared item, std::size_t frame_bytes) {
        auto self = weak.lock();
        if (!self) return;
        auto& decoded = *static_cast<Result<wire::Envelope>*>(item.get());
        self->on_decoded(context, *raw, std::move(decoded), frame_bytes);
      });
}

void PeerService::Impl::on_accepted(transport::ConnectionPtr connection) {
  if (stopping || left) {
    connection->close();
    return;
  }
  if (unattached_incoming >= config.unattached_incoming_max) {
    // Idle connections must not crowd out members: the newcomer goes. One
    // log line a second at most: a flood must not flood the log too.
    ++metrics.unattached_refused;
    const auto now = SteadyClock::now();
    if (now - unattached_refused_logged >= std::chrono::seconds(1)) {
      spdlog::warn("closing connection from {}: {} accepted connections wait to attach (unattached_incoming_max); "
                   "{} refused so far",
                   connection->peer().name, unattached_incoming, metrics.unattached_refused);
      unattached_refused_logged = now;
    }
    connection->close();
    return;
  }
  auto context = std::make_shared<LinkContext>();
  context->peer = connection->peer().name;
  add_unattached(connection, true);
  start_connection(connection, context);
}

void PeerService::Impl::add_unattached(const transport::ConnectionPtr& connection, bool incoming) {
  if (unattached.emplace(connection, Unattached{SteadyClock::now(), incoming}).second && incoming) {
    ++unattached_incoming;
  }
}

void PeerService::Impl::forget_unattached(const transport::ConnectionPtr& connection) {
  auto it = unattached.find(connection);
  if (it == unattached.end()) return;
  if (it->second.incoming) --unattached_incoming;
  unattached.erase(it);
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

// The attach policy is the core's (core::Core::attach); the shell carries
// out its verdict on the connection and binds the slot.
void PeerService::Impl::on_attach(const std::shared_ptr<LinkContext>& context,
                                  const transport::ConnectionPtr& connection, wire::Attach attach) {
  const auto now = SteadyClock::now();
  core::AttachFacts facts{connection->peer().name, connection->peer().instance_id, attach, context->nudge,
                          context->dialer};
  auto decision = core.attach(facts, ticks(now));
  drain();  // a new member gets its PeerLinks; a retired life's sends fail
  switch (decision.verdict) {
    case core::AttachVerdict::mismatch:
      spdlog::warn("closing connection from {}: attach names {} instance {:x}, handshake said {} {:x}",
                   connection->peer().name, attach.spec.name, attach.spec.instance_id, connection->peer().name,
                   connection->peer().instance_id);
      connection->abort(make_error(errc::malformed_message, decision.why));
      return;
    case core::AttachVerdict::removed_life:
      for (const auto& reply : decision.replies) send_now(connection, reply);
      connection->close();
      return;
    case core::AttachVerdict::refused:
      spdlog::warn("refusing {}: {}", attach.spec.name, decision.why);
      connection->close();
      return;
    case core::AttachVerdict::not_member:
      connection->close();
      return;
    case core::AttachVerdict::nudge:
    case core::AttachVerdict::bind:
      break;
  }
  PeerLinks* peer = find_peer(attach.spec.name);
  if (!peer) {
    connection->close();
    return;
  }
  if (decision.verdict == core::AttachVerdict::nudge) {
    context->nudge = true;
    if (decision.answer) send_now(connection, wire::Envelope{wire::Attach{self, std::string(control_channel), 0, true}});
    reconcile(*peer, now);
    return;
  }
  if (cut_outbound(attach.spec.name)) {  // our answering Attach would cross the cut
    connection->close();
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
  if (decision.answer) send_now(connection, wire::Envelope{wire::Attach{self, attach.channel, attach.index, false}});
  forget_unattached(connection);
  context->peer = attach.spec.name;
  context->channel = attach.channel;
  context->index = attach.index;
  context->attached = true;
  slot.connection = connection;
  slot.attached = true;
  slot.dial_id = 0;
  if (attach.channel == control_channel) {
    core.link_up(attach.spec.name, ticks(now));  // and our digest to it
    drain();
  } else {
    connection->set_liveness(config.data_link_heartbeat, config.data_link_dead_timeout);
    // A bulk channel's I/O goes to the bulk thread (a dialer's went there before it started).
    if (!context->dialer && bulk_channel(attach.channel)) {
      decode_on_bulk_thread(connection, context);
      connection->move_io(bulk->executor(), bulk);
    }
  }
  refresh(*peer, now);
}

void PeerService::Impl::on_connection_closed(const std::shared_ptr<LinkContext>& context,
                                             const transport::ConnectionPtr& connection, const Error& why) {
  forget_unattached(connection);
  if (!context->nudge_for.empty()) nudge_ended(context->nudge_for);
  if (context->on_nudge_reply) {
    auto done = std::move(context->on_nudge_reply);
    context->on_nudge_reply = nullptr;
    done(make_error(errc::connection_closed, "no answer: " + why.message()));
  }
  PeerLinks* peer = find_peer(context->peer);
  if (peer && !context->attached && context->dial_id != 0) {  // our dial ended before attaching
    auto dialed = peer->channels.find(context->channel);
    if (dialed != peer->channels.end() && context->index < dialed->second.size()) {
      Slot& slot = dialed->second[context->index];
      if (slot.dial_id == context->dial_id) slot.dial_id = 0;
    }
  }
  if (!peer || !context->attached) return;
  auto slots = peer->channels.find(context->channel);
  if (slots == peer->channels.end() || context->index >= slots->second.size()) return;
  Slot& slot = slots->second[context->index];
  if (slot.connection != connection) return;
  slot = Slot{};
  if (context->channel == control_channel) core.link_down(peer->spec.name);
  sweep_by(SteadyClock::now() + config.tick_interval);  // redial what is missing
  if (why.code && why.code != errc::peer_closed) {
    spdlog::info("connection to {} ({}[{}]) lost: {}", peer->spec.name, context->channel, context->index,
                 why.message());
  }
  refresh(*peer, SteadyClock::now());
}

void PeerService::Impl::dial_slot(const std::string& peer_name, const std::string& channel, std::uint16_t index) {
  PeerLinks* peer = find_peer(peer_name);
  if (!peer || peer->spec.listen_addrs.empty()) return;
  Slot& dialed = peer->channels[channel][index];
  dialed.dial_id = next_dial_id++;
  const std::uint64_t dial_id = dialed.dial_id;
  const auto target = endpoint_of(peer->spec.listen_addrs.front());
  const std::uint64_t instance = peer->spec.instance_id;
  auto self_ptr = shared_from_this();
  asio::co_spawn(executor, [self_ptr, peer_name, channel, index, target, instance, dial_id]() -> asio::awaitable<void> {
    auto& s = *self_ptr;
    auto result = co_await transport::dial(s.executor, target, s.identity, s.config.transport, s.counters);
    PeerLinks* peer = s.find_peer(peer_name);
    Slot* slot = nullptr;
    if (peer) {
      auto it = peer->channels.find(channel);
      if (it != peer->channels.end() && index < it->second.size()) slot = &it->second[index];
    }
    if (slot && slot->dial_id != dial_id) slot = nullptr;  // the slot was reset and dialed anew meanwhile
    if (!result) {
      if (slot) slot->dial_id = 0;
      spdlog::debug("dial {} {}[{}]: {}", peer_name, channel, index, result.error().message());
      co_return;
    }
    auto connection = *result;
    // Cut outbound meanwhile: our Attach would be a frame through the cut.
    if (!slot || s.stopping || s.left || connection->peer().name != peer_name ||
        connection->peer().instance_id != instance || s.cut_outbound(peer_name)) {
      if (slot) slot->dial_id = 0;
      connection->close();  // gone, replaced, or someone else answers at that address
      co_return;
    }
    auto context = std::make_shared<LinkContext>();
    context->peer = peer_name;
    context->channel = channel;
    context->index = index;
    context->dialer = true;
    if (s.bulk_channel(channel)) {
      s.decode_on_bulk_thread(connection, context);
      connection->move_io(s.bulk->executor(), s.bulk);
    }
    context->dial_id = dial_id;  // the slot stays `dialing` until this attaches or closes
    s.add_unattached(connection, false);
    s.start_connection(connection, context);
    send_now(connection, wire::Envelope{wire::Attach{s.self, channel, index, false}});
  }, asio::detached);
}

// Dial what is missing (when we are the dialer), or nudge the peer to dial us.
void PeerService::Impl::reconcile(PeerLinks& peer, SteadyClock::time_point now) {
  if (stopping || left || !liveness.dial_due(peer.spec.name, ticks(now))) return;
  bool missing = false;
  bool any_dialing = false;
  for (auto& [channel, slots] : peer.channels) {
    for (auto& slot : slots) {
      missing |= !slot.connection && !slot.dialing();
      any_dialing |= slot.dialing();
    }
  }
  if (!missing || any_dialing) return;
  const bool dialer = dials(self.name, peer.spec.name);
  // The larger name nudges, but not while a nudge is under way, nor while
  // the peer's own dial is attaching (it knows us already).
  if (!dialer && (peer.nudging || inbound_pending(peer.spec.name))) return;
  liveness.dial_attempted(peer.spec.name, ticks(now), rng);
  if (dialer) {
    for (auto& [channel, slots] : peer.channels) {
      for (std::size_t i = 0; i < slots.size(); ++i) {
        if (!slots[i].connection && !slots[i].dialing()) dial_slot(peer.spec.name, channel, std::uint16_t(i));
      }
    }
  } else if (!peer.channels[std::string(control_channel)][0].attached && !peer.spec.listen_addrs.empty()) {
    nudge(peer.spec.listen_addrs.front(), {}, peer.spec.name);
  }
}

}  // namespace plexus::peer
