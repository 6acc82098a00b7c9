// NodeCore messages: forward, routing and relay, acks with retransmission,
// dedupe and causal order; mirrors peer/messaging.cpp (see node_core.hpp).
#include <algorithm>

#include "plexus/core/errors.hpp"
#include "plexus/delivery/errors.hpp"
#include "plexus/peer/core/relay.hpp"
#include "plexus/sim/node_core.hpp"

namespace plexus::sim {
namespace {

delivery::Stamp stamp_of(const wire::Message& message) {
  delivery::Stamp stamp{message.causal_clock, {}};
  for (const auto& d : message.causal_deps) stamp.order.emplace_back(d.process, d.clock);
  return stamp;
}

}  // namespace

Result<void> NodeCore::forward(const std::string& target, std::vector<std::uint8_t> payload,
                               const SendOptions& options, std::uint64_t token, Time now, Effects& fx) {
  if (members_.removed_self()) return make_error(errc::shutting_down, "this node left");
  if (target == self_.name || !peers_.contains(target)) {
    return make_error(errc::unknown_node, target + " is not a member");
  }
  const auto* entry = members_.find(target);
  wire::Envelope envelope{wire::Message{}};
  auto& m = std::get<wire::Message>(envelope);
  m.origin = self_.name;
  m.origin_instance = self_.instance_id;
  m.target = target;
  m.target_instance = entry->spec.instance_id;
  m.payload = std::move(payload);
  m.channel = std::string(default_channel);
  m.hops_left = options.transitive ? config_.relay_hops_max : 0;
  m.causal_label = options.causal_label;
  if (!options.ack && options.causal_label.empty()) {
    if (!route(m, nullptr, now, fx)) return make_error(errc::not_connected, "to " + target);
    fx.completed.emplace_back(token, Result<void>());
    return {};
  }
  const auto process = process_key(target, m.target_instance);
  m.ack_id = acks_.next_id(process);
  if (!m.causal_label.empty()) {
    auto label = causal_.label(m.causal_label);
    if (!label) return label.error();
    causal_labels_.insert(m.causal_label);
    auto stamped = (*label)->stamp_send(process);
    if (!stamped) return stamped.error();
    if (config_.bug == Bug::forget_retired_order) drop_retired_senders(*stamped);
    m.causal_clock = std::move(stamped->time);
    for (auto& [proc, clock] : stamped->order) m.causal_deps.push_back({proc, std::move(clock)});
  }
  auto frame = wire::encode(envelope);
  auto added = acks_.add(process, frame, now);
  if (!added) return added.error();
  completions_[{process, *added}] = token;
  route(m, &frame, now, fx);  // a failed first try is retransmitted
  return {};
}

// The old CausalLabel::forget_process erased a retired sender from every ORD
// row, so nothing about it left in our stamps: the same, done at send time.
void NodeCore::drop_retired_senders(delivery::Stamp& stamp) const {
  for (auto& [destination, senders] : stamp.order) {
    std::erase_if(senders, [this](const auto& entry) {
      const auto hash = entry.first.rfind('#');
      return hash != std::string::npos && dedupe_.forgotten(std::stoull(entry.first.substr(hash + 1)));
    });
  }
  std::erase_if(stamp.order, [](const auto& row) { return row.second.empty(); });
}

// Directly when the link is up, else through a relay when hops are left.
bool NodeCore::route(wire::Message& message, const std::vector<std::uint8_t>*, Time now, Effects& fx) {
  if (up(message.target)) {
    send(message.target, wire::Envelope{message}, now, fx);
    return true;
  }
  return message.hops_left > 0 && relay(message, now, fx);
}

bool NodeCore::relay(wire::Message message, Time now, Effects& fx) {
  std::vector<peer::RelayCandidate> candidates;
  for (const auto& peer : peers_) candidates.push_back({peer, up(peer), false});
  const auto chosen = peer::choose_relay(candidates, message.target, message.origin, message.via, rng_);
  if (!chosen) return false;
  message.via.push_back(self_.name);
  send(*chosen, wire::Envelope{std::move(message)}, now, fx);
  return true;
}

void NodeCore::on_message(wire::Message message, Time now, Effects& fx) {
  if (message.target != self_.name) {  // we are a relay
    if (message.hops_left == 0) return;
    --message.hops_left;
    route(message, nullptr, now, fx);
    return;
  }
  if (message.target_instance != 0 && message.target_instance != self_.instance_id) return;  // stale target
  const auto origin = process_key(message.origin, message.origin_instance);
  const bool causal = !message.causal_label.empty() && config_.bug != Bug::causal_on_arrival;
  delivery::CausalLabel* label = nullptr;
  if (causal) {
    auto found = causal_.label(message.causal_label);
    if (!found) return;
    label = *found;
    causal_labels_.insert(message.causal_label);
    if (auto admitted = label->admit(origin, stamp_of(message)); !admitted) {
      // A duplicate of a delivered message is re-acked; one still waiting in
      // the buffer is not acked yet (its ack goes out on delivery); a full
      // buffer refuses, and the sender retransmits later.
      const bool waiting = causal_waiting_.contains({origin, message.ack_id}) && config_.bug != Bug::causal_ack_on_buffer;
      if (admitted.error().code == delivery::errc::stale_clock && !waiting) ack_batcher_.add(origin, message.ack_id);
      mark_work(now);
      return;
    }
  }
  if (message.ack_id != 0) {
    const auto verdict = dedupe_.check(message.origin_instance, message.origin, message.ack_id);
    const bool again = verdict == delivery::Verdict::duplicate && config_.bug == Bug::skip_dedupe;
    if (verdict == delivery::Verdict::duplicate) ack_batcher_.add(origin, message.ack_id);
    if (verdict != delivery::Verdict::deliver && !again) {
      mark_work(now);
      return;
    }
    // A causal message is acknowledged when it is delivered, not when it enters
    // the buffer: a buffered one may wait forever for a predecessor that was lost.
    if (!causal || config_.bug == Bug::causal_ack_on_buffer) ack_batcher_.add(origin, message.ack_id);
    mark_work(now);
  }
  if (!causal) {
    fx.delivered.push_back(std::move(message));
    return;
  }
  const auto handle = next_causal_handle_++;
  delivery::Stamp stamp = stamp_of(message);
  causal_waiting_.insert({origin, message.ack_id});
  causal_held_.emplace(handle, std::move(message));
  if (!label->receive(origin, std::move(stamp), handle)) release_causal(handle);
  take_causal(*label, now, fx);
}

wire::Message NodeCore::release_causal(std::uint64_t handle) {
  auto it = causal_held_.find(handle);
  wire::Message message = std::move(it->second);
  causal_held_.erase(it);
  causal_waiting_.erase({process_key(message.origin, message.origin_instance), message.ack_id});
  return message;
}

void NodeCore::take_causal(delivery::CausalLabel& label, Time now, Effects& fx) {
  for (const auto ready : label.take_deliverable()) {
    if (!causal_held_.contains(ready)) continue;
    wire::Message message = release_causal(ready);
    if (message.ack_id != 0 && config_.bug != Bug::causal_ack_on_buffer) {
      ack_batcher_.add(process_key(message.origin, message.origin_instance), message.ack_id);
      mark_work(now);
    }
    fx.delivered.push_back(std::move(message));
  }
}

void NodeCore::on_ack(wire::Ack ack, Time now, Effects& fx) {
  if (ack.origin != self_.name) {  // relay it on towards the origin
    const std::string origin = ack.origin;  // the envelope below takes the ack apart
    if (up(origin)) return send(origin, wire::Envelope{std::move(ack)}, now, fx);
    if (ack.hops_left == 0) return;
    --ack.hops_left;
    for (const auto& peer : peers_) {
      if (up(peer) && peer != ack.acker) return send(peer, wire::Envelope{std::move(ack)}, now, fx);
    }
    return;
  }
  if (ack.origin_instance != self_.instance_id) return;
  const auto acker = process_key(ack.acker, ack.acker_instance);
  for (const auto id : ack.ids) {
    if (acks_.acknowledge(acker, id)) complete(acker, id, Result<void>(), fx);
  }
  for (const auto id : ack.refused) {
    if (acks_.acknowledge(acker, id)) complete(acker, id, make_error(errc::unknown_server, ack.acker), fx);
  }
}

void NodeCore::complete(const std::string& target, std::uint64_t id, Result<void> outcome, Effects& fx) {
  if (auto it = completions_.find({target, id}); it != completions_.end()) {
    fx.completed.emplace_back(it->second, std::move(outcome));
    completions_.erase(it);
  }
}

void NodeCore::flush_acks(Time now, Effects& fx) {
  for (auto& batch : ack_batcher_.drain()) {
    const auto hash = batch.origin.rfind('#');
    wire::Ack ack;
    ack.origin = batch.origin.substr(0, hash);
    ack.origin_instance = std::stoull(batch.origin.substr(hash + 1));
    ack.acker = self_.name;
    ack.acker_instance = self_.instance_id;
    ack.ids = std::move(batch.ids);
    ack.hops_left = config_.relay_hops_max;
    on_ack(std::move(ack), now, fx);
  }
}

void NodeCore::retransmit(Time now, Effects& fx) {
  for (const auto& due : acks_.due(now, config_.retransmits_per_tick_max)) {
    auto decoded = wire::decode(due.payload);
    if (!decoded) continue;  // our own encoding: cannot fail
    route(std::get<wire::Message>(*decoded), nullptr, now, fx);
  }
  for (auto& failed : acks_.expired(now)) {
    complete(failed.target, failed.id, make_error(errc::delivery_failed, failed.reason.message()), fx);
  }
}

void NodeCore::fail_target(const std::string& process, const std::string& why, Effects& fx) {
  for (auto& failed : acks_.fail_target(process)) {
    complete(failed.target, failed.id, make_error(errc::connection_closed, why), fx);
  }
}

void NodeCore::forget_process(const std::string& process, Time now, Effects& fx) {
  for (const auto& [label, handle] : causal_.forget_process(process)) {
    if (causal_held_.contains(handle)) release_causal(handle);
  }
  for (const auto& name : causal_labels_) {
    if (auto* label = causal_.find(name)) take_causal(*label, now, fx);
  }
}

}  // namespace plexus::sim
