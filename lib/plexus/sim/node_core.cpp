// NodeCore links, membership exchange and timers; mirrors peer/links.cpp,
// status.cpp and gossip.cpp (see node_core.hpp).
#include "plexus/sim/node_core.hpp"

#include <nlohmann/json.hpp>

#include "plexus/peer/core/member_entries.hpp"
#include "plexus/peer/core/relay.hpp"

namespace plexus::sim {
namespace {

membership::Membership load(const NodeSpec& self, const nlohmann::json* data_dir) {
  if (data_dir) {
    auto loaded = membership::Membership::from_json(*data_dir, self);
    if (loaded) return std::move(*loaded);
  }
  return membership::Membership(self);
}

}  // namespace

std::string process_key(const std::string& node, std::uint64_t instance) {
  return node + "#" + std::to_string(instance);
}

void Effects::clear() {
  sends.clear();
  dials.clear();
  closes.clear();
  delivered.clear();
  completed.clear();
  transitions.clear();
}

NodeCore::NodeCore(NodeSpec self, NodeConfig config, Rng rng, const nlohmann::json* data_dir, Time now,
                   Effects& fx)
    : self_(std::move(self)),
      config_(config),
      rng_(rng),
      members_(load(self_, data_dir)),
      liveness_(config.liveness),
      acks_(config.acks),
      causal_(process_key(self_.name, self_.instance_id)) {
  last_anti_entropy_ = now;
  // Rejoin what the data directory remembers (PeerService::Impl::load_data_dir).
  std::vector<membership::Change> changes;
  for (const auto& spec : members_.members()) {
    if (spec.name != self_.name) changes.push_back({membership::ChangeKind::added, spec, std::nullopt});
  }
  for (const auto& e : members_.entries()) dirty_.insert(e.spec.name);
  mark_work(now);
  apply_changes(changes, now, fx);
}

void NodeCore::join(const NodeSpec& seed, Time now, Effects& fx) {
  auto added = members_.add(seed);
  if (added && *added) {
    dirty_.insert(seed.name);
    apply_changes({membership::Change{membership::ChangeKind::added, seed, std::nullopt}}, now, fx);
  }
}

void NodeCore::link_up(const NodeSpec& peer, Time now, Effects& fx) {
  // on_attach: a removed life is told and refused; anyone else is admitted.
  if (const auto* entry = members_.find(peer.name); entry && entry->removed && entry->spec.instance_id == peer.instance_id) {
    const std::string name = peer.name;
    send(name, wire::Envelope{wire::Gossip{peer::to_wire(members_.entries_for(std::span(&name, 1)))}}, now, fx);
    fx.closes.push_back(name);
    return;
  }
  if (auto added = members_.add(peer); !added) {
    fx.closes.push_back(peer.name);
    return;
  } else if (*added) {
    dirty_.insert(peer.name);
    apply_changes({membership::Change{membership::ChangeKind::added, peer, std::nullopt}}, now, fx);
  }
  if (!peers_.contains(peer.name)) {
    fx.closes.push_back(peer.name);
    return;
  }
  // The handshake proved this life alive: every other life of the name is over.
  lives_[peer.name].insert(peer.instance_id);
  if (config_.bug != Bug::retire_on_flip) {
    retire_lives(peer.name, peer.instance_id, peer.name + " restarted before acknowledging", now, fx);
  }
  liveness_.link_up(peer.name, now);
  send(peer.name, wire::Envelope{wire::Gossip{peer::to_wire(members_.entries())}}, now, fx);
  evaluate(now, fx);
}

void NodeCore::link_down(const std::string& peer, Time now, Effects& fx) {
  liveness_.link_down(peer);
  evaluate(now, fx);
}

void NodeCore::drop_link(const std::string& peer, Time now, Effects& fx) {
  if (liveness_.attached(peer)) fx.closes.push_back(peer);
  liveness_.link_down(peer);
  evaluate(now, fx);
}

void NodeCore::send(const std::string& peer, wire::Envelope envelope, Time now, Effects& fx) {
  if (!liveness_.attached(peer)) return;  // send_frame: not_connected
  liveness_.sent(peer, now);
  fx.sends.emplace_back(peer, std::move(envelope));
}

void NodeCore::evaluate(Time now, Effects& fx) {
  for (auto& t : liveness_.evaluate(now)) fx.transitions.push_back(std::move(t));
}

void NodeCore::mark_work(Time now) {
  if (!work_since_) work_since_ = now;
}

void NodeCore::apply_changes(const std::vector<membership::Change>& changes, Time now, Effects& fx) {
  for (const auto& change : changes) {
    const std::string& name = change.spec.name;
    if (name == self_.name) continue;
    dirty_.insert(name);
    mark_work(now);
    if (change.kind == membership::ChangeKind::removed) {
      drop_link(name, now, fx);
      peers_.erase(name);
      liveness_.remove_peer(name);
      lives_[name].insert(change.spec.instance_id);
      retire_lives(name, std::nullopt, name + " left the cluster", now, fx);
      continue;
    }
    if (change.kind == membership::ChangeKind::updated && change.previous &&
        change.previous->instance_id != change.spec.instance_id) {
      drop_link(name, now, fx);
      // Membership orders lives by version, not by age: it may flip to an
      // older, dead life and back. A life is retired only once another one
      // proves itself alive by attaching (link_up), unless the old switch is on.
      if (config_.bug == Bug::retire_on_flip) {
        retire_lives(name, change.spec.instance_id, name + " restarted before acknowledging", now, fx);
      }
    }
    lives_[name].insert(change.spec.instance_id);
    peers_.insert(name);
    liveness_.add_peer(name, now);
    liveness_.reset_backoff(name, now);
  }
}

void NodeCore::retire_lives(const std::string& name, std::optional<std::uint64_t> keep, const std::string& why,
                            Time now, Effects& fx) {
  auto it = lives_.find(name);
  if (it == lives_.end()) return;
  for (const auto instance : it->second) {
    if (instance == keep) continue;
    const auto process = process_key(name, instance);
    fail_target(process, why, fx);
    forget_process(process, now, fx);
    dedupe_.forget_instance(instance);
  }
  if (keep) it->second = {*keep};
  else lives_.erase(it);
}

void NodeCore::on_gossip(const std::string& from, wire::Gossip gossip, Time now, Effects& fx) {
  if (auto* entries = std::get_if<std::vector<wire::MemberEntry>>(&gossip.body)) {
    std::vector<membership::Entry> batch;
    batch.reserve(entries->size());
    for (auto& e : *entries) batch.push_back({std::move(e.spec), e.version, e.removed});
    if (auto changes = members_.merge(batch)) apply_changes(*changes, now, fx);
  } else if (auto* digest = std::get_if<std::vector<wire::DigestEntry>>(&gossip.body)) {
    const auto remote = peer::from_wire(*digest);
    members_.observe(from, remote);
    auto diff = members_.diff(remote);
    if (!diff) return;
    if (!diff->push.empty()) send(from, wire::Envelope{wire::Gossip{peer::to_wire(diff->push)}}, now, fx);
    if (!diff->pull.empty()) send(from, wire::Envelope{wire::Gossip{std::move(diff->pull)}}, now, fx);
    (void)members_.collect_garbage();
  } else {
    const auto& names = std::get<std::vector<std::string>>(gossip.body);
    send(from, wire::Envelope{wire::Gossip{peer::to_wire(members_.entries_for(names))}}, now, fx);
  }
}

void NodeCore::receive(const std::string& from, wire::Envelope envelope, Time now, Effects& fx) {
  if (!peers_.contains(from)) return;  // find_peer failed: not a member (any more)
  liveness_.heard(from, now);
  std::visit(
      [&](auto&& kind) {
        using Kind = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<Kind, wire::Gossip>) on_gossip(from, std::move(kind), now, fx);
        else if constexpr (std::is_same_v<Kind, wire::Message>) on_message(std::move(kind), now, fx);
        else if constexpr (std::is_same_v<Kind, wire::Ack>) on_ack(std::move(kind), now, fx);
      },
      std::move(envelope));
  evaluate(now, fx);
}

void NodeCore::broadcast_dirty(Time now, Effects& fx) {
  if (dirty_.empty()) return;
  const std::vector<std::string> names(dirty_.begin(), dirty_.end());
  dirty_.clear();
  const wire::Envelope gossip{wire::Gossip{peer::to_wire(members_.entries_for(names))}};
  for (const auto& peer : peers_) send(peer, gossip, now, fx);
}

void NodeCore::anti_entropy(Time now, Effects& fx) {
  std::vector<const std::string*> candidates;
  for (const auto& peer : peers_) if (up(peer)) candidates.push_back(&peer);
  if (candidates.empty()) return;
  const std::string& peer = *candidates[rng_.below(candidates.size())];
  send(peer, wire::Envelope{wire::Gossip{peer::to_wire(members_.digest())}}, now, fx);
}

void NodeCore::tick(Time now, Effects& fx) {
  evaluate(now, fx);
  for (const auto& peer : liveness_.heartbeats_due(now)) {
    fx.sends.emplace_back(peer, wire::Envelope{wire::Heartbeat{++heartbeat_sequence_}});
  }
  for (const auto& peer : peers_) {
    if (liveness_.attached(peer) || !liveness_.dial_due(peer, now)) continue;
    liveness_.dial_attempted(peer, now, rng_);
    fx.dials.push_back(peer);  // the simulated network connects either way (dial or nudge)
  }
  if (work_since_ && now >= *work_since_ + config_.tick_interval) {
    work_since_.reset();
    broadcast_dirty(now, fx);
    flush_acks(now, fx);
  }
  if (now - last_anti_entropy_ >= config_.gossip_interval) {
    last_anti_entropy_ = now;
    anti_entropy(now, fx);
  }
  retransmit(now, fx);
}

std::optional<Time> NodeCore::next_wakeup() const {
  std::optional<Time> soonest = liveness_.next_wakeup();
  auto consider = [&soonest](Time t) { soonest = soonest ? std::min(*soonest, t) : t; };
  if (auto ack = acks_.next_deadline()) consider(*ack);
  if (work_since_) consider(*work_since_ + config_.tick_interval);
  if (!peers_.empty()) consider(last_anti_entropy_ + config_.gossip_interval);
  return soonest;
}

nlohmann::json NodeCore::persisted() const { return members_.to_json(); }

}  // namespace plexus::sim
