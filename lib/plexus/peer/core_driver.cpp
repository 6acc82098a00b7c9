// The shell's side of the core: carrying out its Output (link table changes,
// frames, deliveries, completions), outbound partitions as the core sees
// them, persistence in the data directory and the end of membership.
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
  core.apply_changes(changes, source, ticks(SteadyClock::now()));
  drain();
  flush_dispatch();  // causal messages a retired life held back; wakes the tick
}

void PeerService::Impl::drain() {
  // The outermost drain reuses one buffer; a drain inside it (a completion
  // or handler that calls back in) takes its own.
  if (!core.has_output()) return;  // most frames leave nothing to carry out
  ++drain_depth;
  for (int round = 0; round < 64 && core.has_output(); ++round) {
    if (drain_depth == 1) {
      core.take_into(drain_buffer);
      carry_out(drain_buffer);
    } else {
      auto out = core.take();
      carry_out(out);
    }
  }
  --drain_depth;
}

void PeerService::Impl::carry_out(core::Output& out) {
  for (const auto& change : out.changes) apply_link_change(change);
  for (const auto& name : out.closes) {
    if (PeerLinks* peer = find_peer(name)) drop_links(*peer, "down (silent for peer_timeout)");
  }
  // Broadcasts share one frame: encode it once.
  const wire::Envelope* encoded_for = nullptr;
  std::vector<std::uint8_t> frame;
  for (const auto& send : out.sends) {
    if (send.frame.get() != encoded_for) {
      frame = wire::encode(*send.frame);
      encoded_for = send.frame.get();
    }
    send_core_frame(send, frame);
  }
  for (auto& message : out.deliveries) deliver(message);
  for (const char* reason : out.drops) count_drop(reason);
  metrics.retransmits += out.retransmits;
  if (out.persist) persist();
  for (auto& [token, outcome] : out.completions) {
    if (auto it = completions.find(token); it != completions.end()) {
      auto done = std::move(it->second);
      completions.erase(it);
      done(outcome);
    }
  }
  if (out.removed_self) removed_self();
  // Deliveries are dispatched by whoever fed the core: after a read
  // (Connection::set_on_read_done), a tick or a command.
}

// The link table follows membership: a removed member's links go, a member's
// new life drops the stale ones, and every live member gets its slots.
void PeerService::Impl::apply_link_change(const core::LinkChange& change) {
  const std::string& name = change.spec.name;
  if (change.kind == membership::ChangeKind::removed) {
    if (PeerLinks* peer = find_peer(name)) {
      drop_links(*peer, "left the cluster");
      retire_traffic(*peer);
      peers.erase(name);
      ++peers_epoch;
    }
    return;
  }
  PeerLinks& peer = peers[name];
  if (change.restarted && !peer.spec.name.empty()) {
    spdlog::info("{} restarted (instance {:x} -> {:x}): replacing its stale spec", name, peer.spec.instance_id,
                 change.spec.instance_id);
    peer.spec = change.spec;
    drop_links(peer, "stale spec");
  }
  peer.spec = change.spec;
  ensure_links(peer);
  reconcile(peer, SteadyClock::now());
}

void PeerService::Impl::send_core_frame(const core::Send& send, const std::vector<std::uint8_t>& frame) {
  PeerLinks* peer = find_peer(send.peer);
  if (!peer) return;
  if (send.channel.empty()) {
    send_frame(*peer, control_channel, 0, frame, true);
    return;
  }
  const auto& message = std::get<wire::Message>(*send.frame);
  // A plain keyed message on a monotonic channel keeps the newest per key.
  if (message.partition_key && message.ack_id == 0 && send.peer == message.target) {
    const auto mine = self.channels.find(message.channel);
    auto slots = peer->channels.find(message.channel);
    if (mine != self.channels.end() && mine->second.monotonic && slots != peer->channels.end() &&
        !slots->second.empty()) {
      const auto index = std::uint16_t(*message.partition_key % slots->second.size());
      if (send_monotonic(*peer, message.channel, index, *message.partition_key, frame)) return;
    }
  }
  const std::string_view channel = peer->channels.count(send.channel) ? std::string_view(send.channel) : control_channel;
  if (send_frame(*peer, channel, send.index, frame, false) == SendOutcome::sent || !send.reroute) return;
  if (!core.reroute(message) && message.origin != self.name) count_drop("relay_no_path");
}

void PeerService::Impl::sync_cut() {
  std::set<std::string> cut;
  for (const auto& [ref, p] : partition_table) {
    if (p.direction == Direction::both || p.direction == Direction::outbound) cut.insert(p.node);
  }
  core.set_cut(std::move(cut));
}

std::vector<wire::DigestEntry> PeerService::Impl::digest_frame_body() const {
  return to_wire(members.digest());
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
  const auto before = members.members().size();
  if (auto loaded = core.load(json, ticks(SteadyClock::now())); !loaded) {
    return make_error(errc::invalid_field, path.string() + ": " + loaded.error().message());
  }
  spdlog::info("rejoining {} members from {}", members.members().size() - std::min(before, members.members().size()),
               path.string());
  drain();
  wake();
  return {};
}

}  // namespace plexus::peer
