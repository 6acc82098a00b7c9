// Core messages: the receive order (relay, stale target, unknown server,
// causal admit, dedupe, ack, causal buffering, delivery), acks with refusals
// and retransmission, forward and routing (see core.hpp).
#include <algorithm>

#include "plexus/core/errors.hpp"
#include "plexus/delivery/errors.hpp"
#include "plexus/peer/core/core.hpp"
#include "plexus/peer/core/relay.hpp"

namespace plexus::peer::core {
namespace {

delivery::Stamp stamp_of(const wire::Message& message) {
  delivery::Stamp stamp{message.causal_clock, {}};
  for (const auto& d : message.causal_deps) stamp.order.emplace_back(d.process, d.clock);
  return stamp;
}

// The old CausalLabel::forget_process erased a retired sender from every ORD
// row, so nothing about it was left in our stamps (Bug::forget_retired_order).
void drop_retired_senders(delivery::Stamp& stamp, const delivery::Dedupe& dedupe) {
  for (auto& [destination, senders] : stamp.order) {
    std::erase_if(senders, [&dedupe](const auto& entry) {
      const auto hash = entry.first.rfind('#');
      return hash != std::string::npos && dedupe.forgotten(std::stoull(entry.first.substr(hash + 1)));
    });
  }
  std::erase_if(stamp.order, [](const auto& row) { return row.second.empty(); });
}

}  // namespace

void Core::receive(const std::string& from, wire::Envelope envelope, Time now) {
  if (!peers_.contains(from)) return;  // not a member (any more)
  liveness_.heard(from, now);
  std::visit(
      [&](auto&& kind) {
        using Kind = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<Kind, wire::Gossip>) on_gossip(from, std::move(kind), now);
        else if constexpr (std::is_same_v<Kind, wire::Message>) take_message(kind, now);
        else if constexpr (std::is_same_v<Kind, wire::Ack>) on_ack(std::move(kind));
        else if constexpr (std::is_same_v<Kind, wire::Leave>) on_leave(from, kind, now);
        // Heartbeats only count as heard.
      },
      std::move(envelope));
  evaluate(now);
}

// The receive order. Each step either drops (with a reason), answers, or
// passes the message on; the order matters (see docs/peer-service.md).
void Core::take_message(wire::Message& message, Time now) {
  now_ = now;
  if (message.target != self_.name) {  // we are a relay
    if (message.hops_left == 0) return drop("hops_exhausted");
    --message.hops_left;
    if (!route(std::move(message))) drop("relay_no_path");
    return;
  }
  if (message.target_instance != 0 && message.target_instance != self_.instance_id) {
    return drop("stale_target");  // meant for a previous life of this node
  }
  const bool acked = message.ack_id != 0;
  // Built only when an ack or the causal order needs it, not per plain message.
  std::string origin;
  if (acked || !message.causal_label.empty()) origin = process_key(message.origin, message.origin_instance);
  const bool causal = !message.causal_label.empty() && config_.bug != Bug::causal_on_arrival;
  // A causal message to an unknown server still takes its place in the causal
  // order (its successors must not wait for it forever) and is refused when
  // its turn comes (take_causal).
  if (!causal && !serves(message)) {
    drop("unknown_server");
    if (acked) answer(origin, message);  // a definite no: the sender's completion fails at once
    return;
  }
  // The handlers are behind: refuse it unacked, before dedupe records it, so
  // an acked message is retransmitted (and delivered) once they caught up.
  if (config_.dispatch_queue_max != 0 &&
      dispatch_backlog_ + out_.deliveries.size() >= config_.dispatch_queue_max) {
    return drop("dispatch_queue_full");
  }
  if (causal) {
    switch (admit_causal(message, origin)) {
      case CausalAdmit::accept: break;
      case CausalAdmit::duplicate:  // delivered (or refused) before; its answer was lost
        drop("duplicate");
        return answer(origin, message);
      case CausalAdmit::waiting: return drop("duplicate");  // still buffered: acked on delivery
      case CausalAdmit::full: return drop("causal_buffer_full");  // no ack: retransmitted later
    }
  }
  if (acked) {
    switch (dedupe_.check(message.origin_instance, message.origin, message.ack_id)) {
      case delivery::Verdict::deliver: break;
      case delivery::Verdict::duplicate:
        if (config_.bug == Bug::skip_dedupe) break;  // deliver it again
        drop("duplicate");
        return answer(origin, message);
      case delivery::Verdict::overflow: return drop("dedupe_overflow");
      case delivery::Verdict::stale: return drop("stale_sender");
    }
    // A causal message is acked when delivered, not when buffered: it may wait
    // forever for a predecessor lost for good (found by plexus-sim).
    if (!causal || config_.bug == Bug::causal_ack_on_buffer) ack(origin, message.ack_id);
  }
  if (!causal) return deliver_served(message);  // its server was checked above
  buffer_causal(std::move(message), origin);
}

// May a causal message enter the buffer? One already delivered is a duplicate
// (re-ack it); one still buffered waits for its delivery's ack; a full buffer
// refuses it unacked, so the sender retransmits once the buffer drained.
Core::CausalAdmit Core::admit_causal(const wire::Message& message, const std::string& origin) {
  auto label = causal_.label(message.causal_label);
  if (!label) return CausalAdmit::full;
  causal_labels_.insert(message.causal_label);
  auto admitted = (*label)->admit(origin, stamp_of(message));
  if (admitted) return CausalAdmit::accept;
  if (admitted.error().code != delivery::errc::stale_clock) return CausalAdmit::full;
  const bool waiting = causal_waiting_.contains({origin, message.ack_id}) && config_.bug != Bug::causal_ack_on_buffer;
  return waiting ? CausalAdmit::waiting : CausalAdmit::duplicate;
}

// Buffer until its causal past is delivered, then deliver what is ready, in order.
void Core::buffer_causal(wire::Message message, const std::string& origin) {
  auto* label = causal_.find(message.causal_label);
  const auto handle = next_causal_handle_++;
  const auto ack_id = message.ack_id;
  delivery::Stamp stamp = stamp_of(message);
  causal_waiting_.insert({origin, ack_id});
  causal_held_.emplace(handle, std::move(message));
  if (!label->receive(origin, std::move(stamp), handle)) {
    causal_held_.erase(handle);
    causal_waiting_.erase({origin, ack_id});
    drop("causal_rejected");
  }
  take_causal(*label);
}

void Core::take_causal(delivery::CausalLabel& label) {
  for (const auto ready : label.take_deliverable()) {
    auto it = causal_held_.find(ready);
    if (it == causal_held_.end()) continue;
    wire::Message message = std::move(it->second);
    causal_held_.erase(it);
    const auto origin = process_key(message.origin, message.origin_instance);
    causal_waiting_.erase({origin, message.ack_id});
    if (message.ack_id != 0 && config_.bug != Bug::causal_ack_on_buffer) answer(origin, message);
    deliver(std::move(message));
  }
}

void Core::deliver(wire::Message message) {
  if (!serves(message)) return drop("unknown_server");
  out_.deliveries.push_back(std::move(message));
}

void Core::ack(const std::string& origin, std::uint64_t id) {
  ack_batcher_.add(origin, id);
  mark_work(now_);  // flushed at the next tick
}

void Core::answer(const std::string& origin, const wire::Message& message) {
  if (serves(message)) return ack(origin, message.ack_id);
  refused_acks_[origin].push_back(message.ack_id);
  mark_work(now_);
}

void Core::forget_process(const std::string& process) {
  for (const auto& [label, handle] : causal_.forget_process(process)) {
    auto it = causal_held_.find(handle);
    if (it == causal_held_.end()) continue;
    causal_waiting_.erase({process_key(it->second.origin, it->second.origin_instance), it->second.ack_id});
    causal_held_.erase(it);
  }
  // A retired process no longer holds anything back: deliver what it blocked.
  for (const auto& name : causal_labels_) {
    if (auto* label = causal_.find(name)) take_causal(*label);
  }
}

void Core::on_ack(wire::Ack ack) {
  if (ack.origin != self_.name) {  // relay it on towards the origin
    const std::string origin = ack.origin;
    if (reachable(origin)) return emit(origin, wire::Envelope{std::move(ack)});
    if (ack.hops_left == 0) return drop("hops_exhausted");
    --ack.hops_left;
    for (const auto& peer : peers_) {
      if (peer != ack.acker && reachable(peer)) return emit(peer, wire::Envelope{std::move(ack)});
    }
    return drop("relay_no_path");
  }
  if (ack.origin_instance != self_.instance_id) return;  // for a previous life of this node
  const auto acker = process_key(ack.acker, ack.acker_instance);
  for (const auto id : ack.ids) {
    if (acks_.acknowledge(acker, id)) complete(acker, id, Result<void>());
  }
  for (const auto id : ack.refused) {
    if (acks_.acknowledge(acker, id)) {
      complete(acker, id, make_error(errc::unknown_server, "no such server on " + ack.acker));
    }
  }
}

void Core::flush_acks() {
  auto send = [this](const std::string& origin, std::vector<std::uint64_t> ids, std::vector<std::uint64_t> refused) {
    const auto hash = origin.rfind('#');
    wire::Ack ack;
    ack.origin = origin.substr(0, hash);
    ack.origin_instance = std::stoull(origin.substr(hash + 1));
    ack.acker = self_.name;
    ack.acker_instance = self_.instance_id;
    ack.ids = std::move(ids);
    ack.refused = std::move(refused);
    ack.hops_left = config_.relay_hops_max;
    on_ack(std::move(ack));  // routes it: direct, else through a relay
  };
  for (auto& batch : ack_batcher_.drain()) {
    auto refused = refused_acks_.extract(batch.origin);
    send(batch.origin, std::move(batch.ids), refused ? std::move(refused.mapped()) : std::vector<std::uint64_t>{});
  }
  for (auto& [origin, ids] : refused_acks_) send(origin, {}, std::move(ids));
  refused_acks_.clear();
}

void Core::retransmit(Time now) {
  for (const auto& due : acks_.due(now, config_.retransmits_per_tick_max)) {
    ++out_.retransmits;
    auto decoded = wire::decode(due.payload);
    if (!decoded) continue;  // our own encoding: cannot fail
    route(std::get<wire::Message>(std::move(*decoded)));
  }
  for (auto& failed : acks_.expired(now)) {
    complete(failed.target, failed.id, make_error(errc::delivery_failed, failed.reason.message()));
  }
}

void Core::complete(const std::string& target, std::uint64_t id, Result<void> outcome) {
  if (auto it = completions_.find({target, id}); it != completions_.end()) {
    out_.completions.emplace_back(it->second, std::move(outcome));
    completions_.erase(it);
  }
}

void Core::fail_target(const std::string& process, const std::string& why) {
  for (auto& failed : acks_.fail_target(process)) {
    complete(failed.target, failed.id, make_error(errc::connection_closed, why));
  }
}

bool Core::stamp(wire::Message& message, const std::string& target_process) {
  auto label = causal_.label(message.causal_label);
  if (!label) return false;
  causal_labels_.insert(message.causal_label);
  auto stamped = (*label)->stamp_send(target_process);
  if (!stamped) return false;
  if (config_.bug == Bug::forget_retired_order) drop_retired_senders(*stamped, dedupe_);
  message.causal_clock = std::move(stamped->time);
  for (auto& [process, clock] : stamped->order) message.causal_deps.push_back({process, std::move(clock)});
  return true;
}

Result<std::vector<std::uint8_t>> Core::track(wire::Message& message, std::span<const std::uint8_t> payload,
                                              std::uint64_t token, Time now) {
  const auto target = process_key(message.target, message.target_instance);
  // Checked before stamping: a causal stamp must only count sent messages.
  if (acks_.size() >= acks_.options().max_entries) {
    drop("ack_table_full");
    return make_error(errc::ack_table_full, std::to_string(acks_.size()) + " messages await acknowledgement");
  }
  message.ack_id = acks_.next_id(target);
  if (!message.causal_label.empty() && !stamp(message, target)) {
    return make_error(errc::invalid_field, "causal label " + message.causal_label + ": cannot stamp");
  }
  auto frame = wire::encode(message, payload);
  auto added = acks_.add(target, frame, now);
  if (!added) {
    drop("ack_table_full");
    return make_error(errc::ack_table_full, added.error().message());
  }
  completions_[{target, *added}] = token;
  return frame;
}

Result<void> Core::forward(const std::string& target, std::vector<std::uint8_t> payload, const SendOptions& options,
                           std::uint64_t token, Time now) {
  if (left_) return make_error(errc::shutting_down, "this node left");
  if (target == self_.name || !peers_.contains(target)) {
    return make_error(errc::unknown_node, target + " is not a member");
  }
  wire::Message m;
  m.origin = self_.name;
  m.origin_instance = self_.instance_id;
  m.target = target;
  m.target_instance = members_.find(target)->spec.instance_id;
  m.server = options.server;
  m.channel = options.channel;
  m.partition_key = options.partition_key;
  m.hops_left = options.transitive ? config_.relay_hops_max : 0;
  m.causal_label = options.causal_label;
  // Causal order needs every message to arrive, so a causal message is acked.
  now_ = now;
  if (!options.ack && options.causal_label.empty()) {
    m.payload = std::move(payload);
    if (!route(std::move(m))) return make_error(errc::not_connected, "to " + target);
    out_.completions.emplace_back(token, Result<void>());
    return {};
  }
  auto frame = track(m, payload, token, now);
  if (!frame) return frame.error();
  m.payload = std::move(payload);
  route(std::move(m));  // a failed first try is retransmitted
  return {};
}

bool Core::route(wire::Message message) {
  if (reachable(message.target)) {
    const std::string target = message.target;
    const std::string channel = message.channel;
    const auto index = static_cast<std::uint16_t>(message.partition_key.value_or(0));
    out_.sends.push_back(Send{target, std::make_shared<const wire::Envelope>(std::move(message)), channel, index,
                              true});
    return true;
  }
  return reroute(std::move(message));
}

bool Core::reroute(wire::Message message) {
  if (message.hops_left == 0) return false;
  const auto chosen = choose_relay(message);
  if (!chosen) return false;
  message.via.push_back(self_.name);
  const std::string channel = message.channel;
  const auto index = static_cast<std::uint16_t>(message.partition_key.value_or(0));
  out_.sends.push_back(Send{*chosen, std::make_shared<const wire::Envelope>(std::move(message)), channel, index,
                            false});
  return true;
}

std::optional<std::string> Core::choose_relay(const wire::Message& message) {
  std::vector<RelayCandidate> candidates;
  candidates.reserve(peers_.size());
  for (const auto& peer : peers_) candidates.push_back({peer, reachable(peer), false});
  return plexus::peer::core::choose_relay(candidates, message.target, message.origin, message.via, rng_);
}

}  // namespace plexus::peer::core
