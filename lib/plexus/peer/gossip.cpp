// Membership exchange of the peer service: applying changes to the link
// table, broadcasting what changed (batched per tick), anti-entropy by
// digest, leave notifications, and persistence in the data directory.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <utility>
#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/peer/core/member_entries.hpp"
#include "plexus/peer/service_impl.hpp"

namespace plexus::peer {

void PeerService::Impl::apply_changes(const std::vector<membership::Change>& changes, Source source) {
  const auto now = SteadyClock::now();
  for (const auto& change : changes) {
    const std::string& name = change.spec.name;
    if (name == self.name) continue;
    (source == Source::gossip ? rumors : dirty).insert(name);
    if (change.kind == membership::ChangeKind::removed) {
      if (PeerLinks* peer = find_peer(name)) {
        drop_links(*peer, "left the cluster");
        retire_traffic(*peer);
        peers.erase(name);
        ++peers_epoch;
        liveness.remove_peer(name);
      }
      lives[name].insert(change.spec.instance_id);
      retire_lives(name, std::nullopt, name + " left the cluster");
      continue;
    }
    PeerLinks& peer = peers[name];
    if (change.kind == membership::ChangeKind::updated && change.previous &&
        change.previous->instance_id != change.spec.instance_id) {
      spdlog::info("{} restarted (instance {:x} -> {:x}): replacing its stale spec", name,
                   change.previous->instance_id, change.spec.instance_id);
      peer.spec = change.spec;
      drop_links(peer, "stale spec");
      // The old life is retired when another one attaches (on_attach), not
      // here: membership may flip to an older, dead life and back (plexus-sim).
    }
    lives[name].insert(change.spec.instance_id);
    peer.spec = change.spec;
    watch(name);
    // Heard of through gossip, the peer most likely heard of us too: the
    // smaller name dials at once, the larger waits before nudging so that a
    // cluster-wide join does not open a redundant nudge per pair.
    if (source == Source::gossip && !dials(self.name, name)) {
      const auto delay = config.nudge_delay + Millis(jitter_ms(config.nudge_delay.count() / 2));
      liveness.reset_backoff(name, ticks(now + delay));  // first dial (nudge) due then
    }
    ensure_links(peer);
    reconcile(peer, now);
  }
  if (members.removed_self()) removed_self();
  persist();
  wake();
}

long PeerService::Impl::jitter_ms(long max) { return std::uniform_int_distribution<long>(0, std::max<long>(0, max))(rng); }

void PeerService::Impl::merge_entries(const std::vector<wire::MemberEntry>& entries) {
  std::vector<membership::Entry> batch;
  batch.reserve(entries.size());
  for (const auto& e : entries) batch.push_back({e.spec, e.version, e.removed});
  auto changes = members.merge(batch);
  if (!changes) {
    spdlog::warn("ignoring gossip: {}", changes.error().message());
    return;
  }
  apply_changes(*changes, Source::gossip);
}

void PeerService::Impl::on_gossip(PeerLinks& peer, wire::Gossip gossip) {
  if (auto* entries = std::get_if<std::vector<wire::MemberEntry>>(&gossip.body)) {
    merge_entries(*entries);
  } else if (auto* digest = std::get_if<std::vector<wire::DigestEntry>>(&gossip.body)) {
    const auto remote = from_wire(*digest);
    members.observe(peer.spec.name, remote);
    auto diff = members.diff(remote);
    if (!diff) return;
    if (!diff->push.empty()) send_control(peer, wire::Envelope{wire::Gossip{to_wire(diff->push)}});
    if (!diff->pull.empty()) send_control(peer, wire::Envelope{wire::Gossip{std::move(diff->pull)}});
    if (members.collect_garbage() > 0) persist();
  } else {
    const auto& names = std::get<std::vector<std::string>>(gossip.body);
    send_control(peer, wire::Envelope{wire::Gossip{to_wire(members.entries_for(names))}});
  }
}

// What changed since the last tick: one message per peer per tick however
// many changes came in. Changes seen here first (a join, an attach, a leave)
// go to every member; changes learned from gossip go on as a rumor to
// gossip_fanout random members only — their source already told everyone it
// is connected to, so re-sending to all would be n^2 messages per change.
void PeerService::Impl::broadcast_dirty() {
  if (!dirty.empty()) {
    for (const auto& name : dirty) rumors.erase(name);
    std::vector<PeerLinks*> all;
    for (auto& [name, peer] : peers) all.push_back(&peer);
    gossip_entries(std::exchange(dirty, {}), all);
  }
  if (rumors.empty()) return;
  std::vector<PeerLinks*> up;
  for (auto& [name, peer] : peers) if (peer.up) up.push_back(&peer);
  std::shuffle(up.begin(), up.end(), rng);
  if (up.size() > config.gossip_fanout) up.resize(config.gossip_fanout);
  gossip_entries(std::exchange(rumors, {}), up);
}

// The current entries for `names`, encoded once, to each of `targets`.
void PeerService::Impl::gossip_entries(const std::set<std::string>& names, const std::vector<PeerLinks*>& targets) {
  if (targets.empty()) return;
  const std::vector<std::string> list(names.begin(), names.end());
  const auto frame = wire::encode(wire::Envelope{wire::Gossip{to_wire(members.entries_for(list))}});
  for (auto* peer : targets) send_frame(*peer, control_channel, 0, frame, true);
}

// A digest (name, version, instance, spec hash per member) rather than every
// spec: the peer answers with what we lack and asks for what it lacks, so a
// cluster-wide join costs each attach a few bytes per member, not a full
// state to decode and merge.
void PeerService::Impl::send_digest(PeerLinks& peer) {
  send_control(peer, wire::Envelope{wire::Gossip{digest_frame_body()}});
}

std::vector<wire::DigestEntry> PeerService::Impl::digest_frame_body() const {
  return to_wire(members.digest());
}

void PeerService::Impl::anti_entropy() {
  std::vector<PeerLinks*> candidates;
  for (auto& [name, peer] : peers) if (peer.up) candidates.push_back(&peer);
  if (candidates.empty()) return;
  send_digest(*candidates[std::uniform_int_distribution<std::size_t>(0, candidates.size() - 1)(rng)]);
}

void PeerService::Impl::on_leave_message(PeerLinks& peer, const wire::Leave& leave) {
  if (leave.node == self.name && leave.instance_id == self.instance_id) {
    spdlog::warn("{} says this node was removed from the cluster", peer.spec.name);
    if (!members.removed_self()) (void)members.remove(self.name);
    removed_self();
  } else if (leave.node == peer.spec.name) {
    // The peer leaves: drop it now; its tombstone gossip follows the same path.
    if (auto removed = members.remove(leave.node); removed && *removed) {
      apply_changes({membership::Change{membership::ChangeKind::removed, peer.spec, std::nullopt}});
    }
  }
}

void PeerService::Impl::removed_self() {
  if (left) return;
  left = true;
  // Removed by another node: learned from its Leave or from the tombstone
  // gossip sent just before it, whichever is read first.
  spdlog::warn(leaving_by_choice ? "this node is no longer a member; stopping cluster traffic"
                                 : "this node was removed from the cluster; stopping cluster traffic");
  for (auto& [name, peer] : peers) drop_links(peer, "this node left");
  for (auto& w : sync_joins) if (w.done) w.done(make_error(errc::shutting_down, "this node left"));
  sync_joins.clear();
  fail_completions(make_error(errc::shutting_down, "this node left the cluster"));
  if (!leaving_by_choice && on_removed_fn) on_removed_fn();
}

void PeerService::Impl::persist() {
  if (config.data_dir.empty()) return;
  const auto path = config.data_dir / "membership.json";
  const auto temp = config.data_dir / "membership.json.tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << members.to_json().dump(1);
    if (!out) {
      spdlog::error("cannot write {}: membership not saved", temp.string());
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) spdlog::error("cannot replace {}: {}", path.string(), ec.message());
}

Result<void> PeerService::Impl::load_data_dir() {
  if (config.data_dir.empty()) return {};
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return make_error(errc::io_error, "data dir " + config.data_dir.string() + ": " + ec.message());
  const auto path = config.data_dir / "membership.json";
  if (!std::filesystem::exists(path)) return {};
  std::ifstream in(path);
  auto json = nlohmann::json::parse(in, nullptr, false);
  if (json.is_discarded()) return make_error(errc::invalid_json, path.string() + ": not JSON");
  auto loaded = membership::Membership::from_json(json, self, members.options());
  if (!loaded) return make_error(errc::invalid_field, path.string() + ": " + loaded.error().message());
  members = std::move(*loaded);
  std::vector<membership::Change> changes;
  for (const auto& spec : members.members()) {
    if (spec.name != self.name) changes.push_back({membership::ChangeKind::added, spec, std::nullopt});
  }
  spdlog::info("rejoining {} members from {}", changes.size(), path.string());
  for (const auto& e : members.entries()) dirty.insert(e.spec.name);
  apply_changes(changes);
  return {};
}

}  // namespace plexus::peer
