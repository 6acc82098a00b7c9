// Liveness: see liveness.hpp for what it decides and why.
#include "plexus/liveness/liveness.hpp"

#include "plexus/core/fault.hpp"

namespace plexus::liveness {

Liveness::Peer* Liveness::find(std::string_view peer) {
  const auto it = peers_.find(peer);
  return it == peers_.end() ? nullptr : &it->second;
}

const Liveness::Peer* Liveness::find(std::string_view peer) const {
  const auto it = peers_.find(peer);
  return it == peers_.end() ? nullptr : &it->second;
}

void Liveness::add_peer(std::string_view peer, Time now) {
  if (find(peer)) return;
  Peer fresh;
  fresh.next_dial = now;
  peers_.emplace(std::string(peer), fresh);
}

void Liveness::remove_peer(std::string_view peer) {
  if (const auto it = peers_.find(peer); it != peers_.end()) peers_.erase(it);
}

void Liveness::reset_backoff(std::string_view peer, Time now) {
  if (Peer* p = find(peer)) {
    p->backoff = Time{0};
    p->next_dial = now;
  }
}

void Liveness::link_up(std::string_view peer, Time now) {
  Peer* p = find(peer);
  if (!p) return;
  p->attached = true;
  p->last_heard = std::max(p->last_heard, now);
  p->backoff = Time{0};
  p->next_dial = std::min(p->next_dial, now);  // a deferral (defer_dial) is over
}

void Liveness::link_down(std::string_view peer) {
  if (Peer* p = find(peer)) p->attached = false;
}

void Liveness::heard(std::string_view peer, Time now) {
  if (Peer* p = find(peer)) p->last_heard = std::max(p->last_heard, now);
}

void Liveness::sent(std::string_view peer, Time now) {
  if (Peer* p = find(peer)) p->last_sent = std::max(p->last_sent, now);
}

std::vector<Transition> Liveness::evaluate(Time now) {
  std::vector<Transition> out;
  for (auto& [name, p] : peers_) {
    const bool was = p.up;
    if (evaluate(name, now) != was) out.push_back({name, p.up});
  }
  return out;
}

bool Liveness::evaluate(std::string_view peer, Time now) {
  Peer* p = find(peer);
  if (!p) return false;
  p->up = p->attached && now - p->last_heard <= options_.peer_timeout;
  return p->up;
}

std::vector<std::string> Liveness::heartbeats_due(Time now) {
  std::vector<std::string> out;
  const auto due = [&](const Peer& p, Time slack) {
    return p.attached && now + slack - p.last_sent >= options_.heartbeat_interval;
  };
  const bool any = std::any_of(peers_.begin(), peers_.end(), [&](const auto& e) { return due(e.second, Time{0}); });
  if (!any) return out;
  for (auto& [name, p] : peers_) {
    if (due(p, options_.heartbeat_coalesce)) {
      // A late heartbeat: the peer may suspect us for a while, never wrongly for long.
      if (PLEXUS_FAULT("liveness.heartbeat.delay")) continue;
      p.last_sent = now;
      out.push_back(name);
    }
  }
  return out;
}

bool Liveness::dial_due(std::string_view peer, Time now) const {
  const Peer* p = find(peer);
  return p && now >= p->next_dial;
}

void Liveness::dial_now(std::string_view peer, Time now) {
  if (Peer* p = find(peer)) p->next_dial = now;
}

void Liveness::defer_dial(std::string_view peer, Time until) {
  if (Peer* p = find(peer)) p->next_dial = std::max(p->next_dial, until);
}

void Liveness::schedule_dial(Peer& peer, Time now, Time jitter) {
  peer.backoff = std::clamp(peer.backoff * 2, options_.redial_min, options_.redial_max);
  peer.next_dial = now + peer.backoff + jitter;
}

bool Liveness::up(std::string_view peer) const {
  const Peer* p = find(peer);
  return p && p->up;
}

bool Liveness::attached(std::string_view peer) const {
  const Peer* p = find(peer);
  return p && p->attached;
}

Time Liveness::backoff(std::string_view peer) const {
  const Peer* p = find(peer);
  return p ? p->backoff : Time{0};
}

std::optional<Time> Liveness::next_wakeup() const {
  std::optional<Time> soonest;
  auto consider = [&soonest](Time t) { soonest = soonest ? std::min(*soonest, t) : t; };
  for (const auto& [name, p] : peers_) {
    if (p.attached) {
      consider(p.last_sent + options_.heartbeat_interval);
      // Up turns down just after the timeout; an attached silent peer only
      // comes up again when heard(), an event rather than a time.
      if (p.up) consider(p.last_heard + options_.peer_timeout + Time{1});
    } else {
      // A detached peer still marked up goes down at the next evaluate(); a
      // due dial stays due until dial_attempted().
      consider(p.up ? p.last_heard : p.next_dial);
    }
  }
  return soonest;
}

}  // namespace plexus::liveness
