// Messages of the peer service: forward/cast to named servers, routing
// (direct, or relayed when `transitive`), and batched dispatch to each
// server's strand. What to ack, dedupe, order and relay is the core's
// (peer/core/receive.cpp); this file moves the bytes.
#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include "plexus/core/errors.hpp"
#include "plexus/core/fault.hpp"
#include "plexus/delivery/errors.hpp"
#include "plexus/peer/service_impl.hpp"

namespace plexus::peer {
namespace {

// Room in a frame around the payload for the message's own fields.
constexpr std::size_t message_overhead_bytes = 4096;

const char* outcome_name(SendOutcome outcome) {
  switch (outcome) {
    case SendOutcome::sent: return "sent";
    case SendOutcome::partitioned: return "partitioned";
    case SendOutcome::not_connected: return "not_connected";
    case SendOutcome::outbox_full: return "outbox_full";
    case SendOutcome::too_large: return "frame_too_large";
  }
  return "not_connected";
}

errc outcome_code(SendOutcome outcome) {
  switch (outcome) {
    case SendOutcome::partitioned: return errc::partitioned;
    case SendOutcome::outbox_full: return errc::outbox_full;
    case SendOutcome::too_large: return errc::frame_too_large;
    default: return errc::not_connected;
  }
}

}  // namespace

delivery::Time PeerService::Impl::now_ns() const {
  return std::chrono::duration_cast<delivery::Time>(SteadyClock::now().time_since_epoch());
}

void PeerService::Impl::count_drop(const std::string& reason) { ++metrics.drops[reason]; }

Result<void> PeerService::Impl::forward(const std::string& node, const std::string& server,
                                        std::span<const std::uint8_t> payload, const ForwardOptions& options,
                                        bool cast, Completion done) {
  if (left || stopping) return make_error(errc::shutting_down, "this node left or is stopping");
  if (payload.size() + message_overhead_bytes > config.transport.max_frame_bytes) {
    count_drop("frame_too_large");
    return make_error(errc::frame_too_large, std::to_string(payload.size()) + " bytes of payload, frames up to " +
                                                 std::to_string(config.transport.max_frame_bytes));
  }
  // The payload is encoded straight from the caller's bytes; it is copied into
  // the message only to deliver it here or to relay it.
  wire::Message m;
  m.origin = self.name;
  m.origin_instance = self.instance_id;
  m.target = node;
  m.server = server;
  m.cast = cast;
  m.channel = options.channel;
  m.partition_key = options.partition_key;
  m.hops_left = options.transitive ? config.relay_hops_max : 0;
  m.causal_label = options.causal_label;
  if (node == self.name) {
    if (dispatcher.backlog() >= config.dispatch_queue_max) {
      count_drop("dispatch_queue_full");
      return make_error(errc::outbox_full, "dispatch queue full: " + std::to_string(dispatcher.backlog()) +
                                               " messages wait for handlers (dispatch_queue_max)");
    }
    m.payload.assign(payload.begin(), payload.end());
    deliver(m);
    flush_dispatch();
    if (done) done({});
    return {};
  }
  PeerLinks* peer = find_peer(node);
  if (!peer) {
    count_drop("unknown_node");
    return make_error(errc::unknown_node, node + " is not a member");
  }
  if (!peer->channels.count(options.channel)) {
    count_drop("unknown_channel");
    return make_error(errc::unknown_channel, "channel " + options.channel + " is not served by both " +
                                                 self.name + " and " + node);
  }
  m.target_instance = peer->spec.instance_id;
  // Causal order needs every message to arrive, so a causal message is acked.
  if (options.ack || !options.causal_label.empty()) {
    // The core gives it an ack id (and a causal stamp) and keeps the frame for retransmission.
    const auto token = next_token++;
    auto frame = core.track(m, payload, token, now_ns());
    drain();  // counts a refusal
    if (!frame) return frame.error();
    if (done) completions[token] = std::move(done);
    route(m, OutFrame::ready(*frame), peer, payload);  // a failed first try is retransmitted
    wake();
    return {};
  }
  // A plain message is written straight into the connection's outbox.
  std::vector<std::uint8_t> encoded;
  OutFrame frame{nullptr, &m, payload, wire::encoded_bytes_in_place(m, payload)};
  if (frame.size == 0) {
    encoded = wire::encode(m, payload);
    frame = OutFrame::ready(encoded);
  }
  if (const auto outcome = route(m, frame, peer, payload); outcome != SendOutcome::sent) {
    count_drop(outcome_name(outcome));
    return make_error(outcome_code(outcome), "to " + node);
  }
  if (done) done({});
  return {};
}

// Send directly when the link is up and not cut, else relay if allowed.
SendOutcome PeerService::Impl::route(wire::Message& message, const OutFrame& frame, PeerLinks* target,
                                     std::span<const std::uint8_t> payload) {
  SendOutcome outcome = SendOutcome::not_connected;
  PeerLinks* peer = target ? target : find_peer(message.target);
  if (peer && peer->up) {
    auto slots = peer->channels.find(message.channel);
    if (slots != peer->channels.end() && !slots->second.empty()) {
      const auto index = std::uint16_t(message.partition_key.value_or(0) % slots->second.size());
      if (message.partition_key && message.ack_id == 0) {  // a monotonic channel keeps the newest per key
        const auto mine = self.channels.find(message.channel);
        if (mine != self.channels.end() && mine->second.monotonic) {
          std::vector<std::uint8_t> storage;
          return send_monotonic(*peer, message.channel, index, *message.partition_key, frame.bytes_in(storage))
                     ? SendOutcome::sent : SendOutcome::not_connected;
        }
      }
      outcome = send_on(*peer, slots->first, slots->second, index, frame, false);
      if (outcome == SendOutcome::sent) return outcome;
    }
  } else if (peer) {
    if (cut_outbound(message.target)) outcome = SendOutcome::partitioned;
  }
  if (message.hops_left > 0) {
    if (message.payload.empty()) message.payload.assign(payload.begin(), payload.end());  // encoded apart
    if (relay(message)) return SendOutcome::sent;
  }
  return outcome;
}

// A monotonic channel that is behind keeps only the newest frame per key.
bool PeerService::Impl::send_monotonic(PeerLinks& peer, const std::string& channel, std::uint16_t index,
                                       std::uint64_t key, const std::vector<std::uint8_t>& frame) {
  const Slot& slot = peer.channels[channel][index];
  if (!slot.attached) return false;
  const auto id = std::make_tuple(peer.spec.name, channel, index);
  auto waiting = monotonic.find(id);
  const bool behind = slot.connection->outbox_bytes() >= config.monotonic_behind_bytes;
  if (!behind && (waiting == monotonic.end() || waiting->second.empty())) {
    return send_frame(peer, channel, index, frame, false) == SendOutcome::sent;
  }
  if (waiting == monotonic.end()) waiting = monotonic.emplace(id, MonotonicBuffer(config.monotonic_max_keys)).first;
  const auto evicted_before = waiting->second.evicted();
  if (waiting->second.put(key, frame)) count_drop("monotonic_replaced");
  if (waiting->second.evicted() != evicted_before) count_drop("monotonic_evicted");
  return true;
}

void PeerService::Impl::drain_monotonic() {
  for (auto it = monotonic.begin(); it != monotonic.end();) {
    const auto& [name, channel, index] = it->first;
    PeerLinks* peer = find_peer(name);
    if (!peer || !peer->channels.count(channel)) {
      it = monotonic.erase(it);
      continue;
    }
    Slot& slot = peer->channels[channel][index];
    if (slot.attached) {
      it->second.drain([&](const std::vector<std::uint8_t>& frame) {
        return slot.connection->outbox_bytes() < config.monotonic_behind_bytes &&
               send_frame(*peer, channel, index, frame, false) == SendOutcome::sent;
      });
    }
    it = it->second.empty() ? monotonic.erase(it) : std::next(it);
  }
}

bool PeerService::Impl::relay(wire::Message message) {
  const auto chosen = core.choose_relay(message);
  if (!chosen) return false;
  PeerLinks& via = *find_peer(*chosen);
  message.via.push_back(self.name);
  const std::string channel = via.channels.count(message.channel) ? message.channel : std::string(control_channel);
  const auto index = std::uint16_t(message.partition_key.value_or(0));
  return send_frame(via, channel, index, wire::encode(wire::Envelope{message}), false) == SendOutcome::sent;
}

void PeerService::Impl::on_message(PeerLinks& from, LinkContext& link, wire::Message& message,
                                   std::size_t frame_bytes) {
  if (!link.cached_traffic) link.cached_traffic = &from.traffic_on(link.channel);  // reset with cached_peer
  Traffic& traffic = *link.cached_traffic;
  ++traffic.messages_received;
  traffic.bytes_received += frame_bytes;
  // The receive order (relay, stale target, unknown server, causal admit,
  // dedupe, ack) is the core's. What it asks for (deliveries, relays) is
  // carried out once the connection's read is done (flush_dispatch drains
  // the core), not per frame: a read of many small frames drains once.
  core.set_dispatch_backlog(dispatcher.backlog());  // the core refuses past dispatch_queue_max
  core.take_message(message, coarse_ticks());
}

void PeerService::Impl::deliver(wire::Message& message) { dispatcher.queue(message); }

// Carry out what the core still holds (the deliveries and relays of a read),
// then hand each server its batch (Dispatcher::flush); what inline handlers
// kept queueing (messages to self) goes on after other work.
void PeerService::Impl::flush_dispatch() {
  drain();
  if (dispatcher.flush()) {
    std::weak_ptr<Impl> weak = shared_from_this();
    asio::post(executor, [weak] {
      if (auto self = weak.lock()) self->flush_dispatch();
    });
  }
  wake();  // acks to flush, gossip to pass on: tick soon
}

// Every completion still waiting gets a definite answer (stop, leave, destruction).
void PeerService::Impl::fail_completions(const Error& why) {
  auto pending = std::move(completions);
  completions.clear();
  for (auto& [key, done] : pending) done(why);
}

}  // namespace plexus::peer
