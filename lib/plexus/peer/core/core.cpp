// Core: membership changes and exchange, the attach policy, the nudge answer,
// lives, and the timers (see core.hpp). Messages and acks: receive.cpp.
#include "plexus/peer/core/core.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/peer/core/member_entries.hpp"

namespace plexus::peer::core {

std::string process_key(std::string_view node, std::uint64_t instance) {
  return std::string(node) + "#" + std::to_string(instance);
}

void Output::clear() {
  sends.clear();
  changes.clear();
  deliveries.clear();
  completions.clear();
  drops.clear();
  transitions.clear();
  closes.clear();
  retransmits = 0;
  persist = false;
  removed_self = false;
}

void Output::swap(Output& other) noexcept {
  sends.swap(other.sends);
  changes.swap(other.changes);
  deliveries.swap(other.deliveries);
  completions.swap(other.completions);
  drops.swap(other.drops);
  transitions.swap(other.transitions);
  closes.swap(other.closes);
  std::swap(retransmits, other.retransmits);
  std::swap(persist, other.persist);
  std::swap(removed_self, other.removed_self);
}

Core::Core(NodeSpec self, CoreConfig config, std::uint64_t seed, Time now)
    : self_(std::move(self)),
      config_(std::move(config)),
      rng_(seed),
      members_(self_, config_.membership),
      liveness_(config_.liveness),
      acks_(config_.acks),
      causal_(process_key(self_.name, self_.instance_id), config_.causal),
      last_anti_entropy_(now) {}

Result<void> Core::load(const nlohmann::json& data_dir, Time now) {
  auto loaded = membership::Membership::from_json(data_dir, self_, config_.membership);
  if (!loaded) return loaded.error();
  members_ = std::move(*loaded);
  std::vector<membership::Change> changes;
  for (const auto& spec : members_.members()) {
    if (spec.name != self_.name) changes.push_back({membership::ChangeKind::added, spec, std::nullopt});
  }
  for (const auto& e : members_.entries()) dirty_.insert(e.spec.name);
  apply_changes(changes, Source::local, now);
  return {};
}

Result<bool> Core::admit(const NodeSpec& spec, Time now) {
  if (spec.name == self_.name) return false;
  auto added = members_.add(spec);
  if (added && *added) {
    dirty_.insert(spec.name);
    apply_changes({membership::Change{membership::ChangeKind::added, spec, std::nullopt}}, Source::local, now);
  }
  return added;
}

void Core::apply_changes(const std::vector<membership::Change>& changes, Source source, Time now) {
  now_ = now;
  for (const auto& change : changes) {
    const std::string& name = change.spec.name;
    if (name == self_.name) continue;
    (source == Source::gossip ? rumors_ : dirty_).insert(name);
    mark_work(now);
    if (change.kind == membership::ChangeKind::removed) {
      if (peers_.erase(name)) {
        out_.changes.push_back({change.kind, change.spec, false});
        liveness_.link_down(name);
        liveness_.remove_peer(name);
      }
      lives_[name].insert(change.spec.instance_id);
      retire_lives(name, std::nullopt, name + " left the cluster");
      continue;
    }
    const bool restarted = change.kind == membership::ChangeKind::updated && change.previous &&
                           change.previous->instance_id != change.spec.instance_id;
    if (restarted) {
      liveness_.link_down(name);  // its links are stale: the driver drops them
      // Membership orders lives by version, not by age: it may flip to an
      // older, dead life and back. A life is retired only once another one
      // proves itself alive by attaching (attach()).
      if (config_.bug == Bug::retire_on_flip) {
        retire_lives(name, change.spec.instance_id, name + " restarted before acknowledging");
      }
    }
    lives_[name].insert(change.spec.instance_id);
    peers_.insert(name);
    out_.changes.push_back({change.kind, change.spec, restarted});
    liveness_.add_peer(name, now);
    liveness_.reset_backoff(name, now);
    // Heard of through gossip, the peer most likely heard of us too: the
    // smaller name dials at once, the larger waits before nudging so that a
    // cluster-wide join does not open a redundant nudge per pair.
    if (source == Source::gossip && !dials(self_.name, name)) {
      const auto half_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.nudge_delay).count() / 2;
      const auto jitter = std::chrono::milliseconds(
          std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(0, half_ms))(rng_));
      liveness_.reset_backoff(name, now + config_.nudge_delay + jitter);
    }
  }
  if (members_.removed_self() && !left_) {
    left_ = true;
    out_.removed_self = true;
  }
  out_.persist = true;
}

void Core::retire_lives(const std::string& name, std::optional<std::uint64_t> keep, const std::string& why) {
  auto it = lives_.find(name);
  if (it == lives_.end()) return;
  for (const auto instance : it->second) {
    if (instance == keep) continue;
    const auto process = process_key(name, instance);
    fail_target(process, why);
    forget_process(process);
    dedupe_.forget_instance(instance);
  }
  if (keep) it->second = {*keep};
  else lives_.erase(it);
}

void Core::on_gossip(const std::string& from, wire::Gossip gossip, Time now) {
  if (auto* entries = std::get_if<std::vector<wire::MemberEntry>>(&gossip.body)) {
    std::vector<membership::Entry> batch;
    batch.reserve(entries->size());
    for (auto& e : *entries) batch.push_back({std::move(e.spec), e.version, e.removed});
    auto changes = members_.merge(batch);
    if (!changes) return drop("bad_gossip");
    apply_changes(*changes, Source::gossip, now);
  } else if (auto* digest = std::get_if<std::vector<wire::DigestEntry>>(&gossip.body)) {
    const auto remote = from_wire(*digest);
    members_.observe(from, remote);
    auto diff = members_.diff(remote);
    if (!diff) return;
    if (!diff->push.empty()) emit(from, wire::Envelope{wire::Gossip{to_wire(diff->push)}});
    if (!diff->pull.empty()) emit(from, wire::Envelope{wire::Gossip{std::move(diff->pull)}});
  } else {
    const auto& names = std::get<std::vector<std::string>>(gossip.body);
    emit(from, wire::Envelope{wire::Gossip{to_wire(members_.entries_for(names))}});
  }
}

void Core::on_leave(const std::string& from, const wire::Leave& leave, Time now) {
  if (leave.node == self_.name && leave.instance_id == self_.instance_id) {
    // Removed by another node: learned from its Leave or from the tombstone
    // gossip sent just before it, whichever is read first.
    if (!members_.removed_self()) (void)members_.remove(self_.name);
    if (!left_) {
      left_ = true;
      out_.removed_self = true;
    }
  } else if (leave.node == from) {
    // The peer leaves: drop it now; its tombstone gossip follows the same path.
    const auto* entry = members_.find(from);
    const NodeSpec spec = entry ? entry->spec : NodeSpec{};
    if (auto removed = members_.remove(leave.node); removed && *removed) {
      apply_changes({membership::Change{membership::ChangeKind::removed, spec, std::nullopt}}, Source::local, now);
    }
  }
}

std::vector<wire::Envelope> Core::answer_nudge(const std::string& from,
                                               const std::vector<wire::DigestEntry>& digest) {
  const auto remote = from_wire(digest);
  members_.observe(from, remote);
  std::vector<wire::Envelope> replies;
  if (auto diff = members_.diff(remote); diff && !diff->push.empty()) {
    replies.emplace_back(wire::Gossip{to_wire(diff->push)});
  }
  return replies;
}

std::vector<wire::MemberEntry> Core::entries_of(const std::string& name) const {
  return to_wire(members_.entries_for(std::span(&name, 1)));
}

AttachDecision Core::attach(const AttachFacts& facts, Time now) {
  const NodeSpec& spec = facts.attach.spec;
  AttachDecision decision;
  if (spec.name != facts.handshake_name || spec.instance_id != facts.handshake_instance) {
    decision.verdict = AttachVerdict::mismatch;
    decision.why = "attach does not match the handshake";
    return decision;
  }
  if (const auto* entry = members_.find(spec.name);
      entry && entry->removed && entry->spec.instance_id == spec.instance_id) {
    // A removed life that never heard of its removal: tell it, refuse it.
    decision.verdict = AttachVerdict::removed_life;
    decision.replies.emplace_back(wire::Gossip{entries_of(spec.name)});
    decision.replies.emplace_back(wire::Leave{spec.name, spec.instance_id, "removed"});
    return decision;
  }
  // Attaching is joining: whoever connects with the key and a valid spec is a member.
  if (auto added = admit(spec, now); !added) {
    decision.verdict = AttachVerdict::refused;
    decision.why = added.error().message();
    return decision;
  }
  if (!peers_.contains(spec.name)) {  // membership refused to make it live (e.g. removed_self)
    decision.verdict = AttachVerdict::not_member;
    return decision;
  }
  // The handshake proved this life alive: every other life of the name is over.
  lives_[spec.name].insert(spec.instance_id);
  if (config_.bug != Bug::retire_on_flip) {
    retire_lives(spec.name, spec.instance_id, spec.name + " restarted before acknowledging");
  }
  decision.answer = !facts.dialer;
  if (facts.nudge_link || facts.attach.nudge) {
    // A short contact: we answer with our spec now, and with the entries the
    // nudger lacks once its digest (which follows the attach) arrives.
    decision.verdict = AttachVerdict::nudge;
    if (facts.dialer && !dials(self_.name, spec.name)) {
      // Our nudge was answered: the peer knows us now and dials. Nudging it
      // again before that dial had time to finish only costs handshakes.
      liveness_.defer_dial(spec.name, now + config_.handshake_timeout);
    }
    if (dials(self_.name, spec.name)) liveness_.dial_now(spec.name, now);
    return decision;
  }
  decision.verdict = AttachVerdict::bind;
  return decision;
}

void Core::link_up(const std::string& peer, Time now) {
  liveness_.link_up(peer, now);
  emit(peer, wire::Envelope{wire::Gossip{to_wire(members_.digest())}});
}

void Core::link_down(const std::string& peer) { liveness_.link_down(peer); }

std::vector<std::string> Core::dials_due(Time now) {
  std::vector<std::string> due;
  if (left_) return due;
  for (const auto& peer : peers_) {
    if (liveness_.attached(peer) || !liveness_.dial_due(peer, now)) continue;
    liveness_.dial_attempted(peer, now, rng_);
    due.push_back(peer);
  }
  return due;
}

void Core::evaluate(Time now) {
  for (auto& t : liveness_.evaluate(now)) {
    if (!t.up && close_if_silent(t.peer, now)) out_.closes.push_back(t.peer);
    out_.transitions.push_back(std::move(t));
  }
}

// A peer silent for peer_timeout keeps its connections otherwise: the control
// link until the transport's dead-peer timeout, the data links until theirs
// (much longer). After a short silent cut, messages queued on those links
// wait for TCP's retransmission backoff instead of a fresh connection.
bool Core::close_if_silent(const std::string& peer, Time now) {
  if (!liveness_.attached(peer) || liveness_.evaluate(peer, now)) return false;
  liveness_.link_down(peer);
  return true;
}

bool Core::reachable(const std::string& peer) const {
  return liveness_.up(peer) && liveness_.attached(peer) && !cut_.contains(peer);
}

void Core::emit(const std::string& peer, wire::Envelope envelope) {
  emit_shared(peer, std::make_shared<const wire::Envelope>(std::move(envelope)));
}

// A frame on the control link: only to an attached link not cut off (the
// driver's send would fail anyway), counted as sent for the heartbeat timer.
void Core::emit_shared(const std::string& peer, const std::shared_ptr<const wire::Envelope>& frame) {
  if (!liveness_.attached(peer) || cut_.contains(peer)) return;
  out_.sends.push_back(Send{peer, frame, {}, 0, false});
}

void Core::mark_work(Time now) {
  if (!work_since_) work_since_ = now;
}

// What changed since the last tick: one message per peer per tick however
// many changes came in. Changes seen here first go to every member; changes
// learned from gossip go on as a rumor to gossip_fanout random up members
// only — their source already told everyone it is connected to.
void Core::broadcast_dirty() {
  if (!dirty_.empty()) {
    for (const auto& name : dirty_) rumors_.erase(name);
    const std::vector<std::string> names(dirty_.begin(), dirty_.end());
    dirty_.clear();
    auto frame = std::make_shared<const wire::Envelope>(wire::Gossip{to_wire(members_.entries_for(names))});
    for (const auto& peer : peers_) emit_shared(peer, frame);
  }
  if (rumors_.empty()) return;
  std::vector<std::string> up;
  for (const auto& peer : peers_) if (liveness_.up(peer)) up.push_back(peer);
  std::shuffle(up.begin(), up.end(), rng_);
  if (up.size() > config_.gossip_fanout) up.resize(config_.gossip_fanout);
  const std::vector<std::string> names(rumors_.begin(), rumors_.end());
  rumors_.clear();
  if (up.empty()) return;
  auto frame = std::make_shared<const wire::Envelope>(wire::Gossip{to_wire(members_.entries_for(names))});
  for (const auto& peer : up) emit_shared(peer, frame);
}

// Tombstones are collected right AFTER our digest goes out, never on receipt
// of one. A tombstone we collected comes back whenever a peer that still holds
// it pushes it to us; that peer collects only once it has seen us hold it. If
// we dropped the copy when the peer's next digest arrived, our own digests
// would never show it and the peer would keep its tombstone forever (two
// survivors of a removal did exactly that). Collecting after sending means
// each copy we hold is shown at least once, to a random peer.
void Core::anti_entropy() {
  std::vector<const std::string*> candidates;
  for (const auto& peer : peers_) if (liveness_.up(peer)) candidates.push_back(&peer);
  if (!candidates.empty()) {
    const auto pick = std::uniform_int_distribution<std::size_t>(0, candidates.size() - 1)(rng_);
    emit(*candidates[pick], wire::Envelope{wire::Gossip{to_wire(members_.digest())}});
  }
  if (members_.collect_garbage() > 0) out_.persist = true;
}

void Core::tick(Time now) {
  now_ = now;
  if (const auto due = liveness_.heartbeats_due(now); !due.empty()) {
    auto frame = std::make_shared<const wire::Envelope>(wire::Heartbeat{++heartbeat_sequence_});
    for (const auto& peer : due) emit_shared(peer, frame);
  }
  work_since_.reset();
  broadcast_dirty();
  if (now - last_anti_entropy_ >= config_.gossip_interval) {
    last_anti_entropy_ = now;
    anti_entropy();
  }
  retransmit(now);
  flush_acks();
}

void Core::flush(Time now) {
  now_ = now;
  work_since_.reset();
  broadcast_dirty();
  flush_acks();
}

std::optional<Time> Core::next_wakeup() const {
  std::optional<Time> soonest = liveness_.next_wakeup();
  auto consider = [&soonest](Time t) { soonest = soonest ? std::min(*soonest, t) : t; };
  if (auto ack = acks_.next_deadline()) consider(*ack);
  if (work_since_) consider(*work_since_ + config_.tick_interval);
  if (!peers_.empty()) consider(last_anti_entropy_ + config_.gossip_interval);
  return soonest;
}

bool Core::has_timed_work() const {
  return !dirty_.empty() || !rumors_.empty() || acks_.size() > 0 || ack_batcher_.pending() > 0 ||
         !refused_acks_.empty();
}

}  // namespace plexus::peer::core
