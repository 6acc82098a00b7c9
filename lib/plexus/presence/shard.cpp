// presence::Shard: local calls, flushes, heartbeats and replica liveness.
#include "plexus/presence/shard.hpp"

#include <algorithm>

namespace plexus::presence {

Shard::Shard(const Options& options, std::string node, std::uint32_t index, std::uint64_t instance, TimePoint now)
    : options_(options),
      state_(Replica{std::move(node), index, instance},
             options.max_delta_sizes.empty() ? 0 : options.max_delta_sizes.back(), options.max_replica_tombstones),
      last_heartbeat_(now) {}

Message Shard::header() const { return Message{state_.self(), options_.pool_size, state_.clock(), Heartbeat{}}; }

void Shard::changed(TimePoint now) {
  if (!dirty_) dirty_since_ = now;
  dirty_ = true;
  changed_since_heartbeat_ = true;
  // A burst that already fills a delta message goes out now, so a long run of
  // tracks on the executor streams to the peers instead of waiting for the timer.
  if (state_.clock() - sent_clock_ >= options_.max_delta_entries) {
    dirty_since_ = now - options_.delta_flush_period;
    flush(now);
  }
}

Result<Ref> Shard::track(std::uint64_t owner, std::string_view topic, std::string_view key,
                         const nlohmann::json& meta, TimePoint now) {
  if (stopped_) return make_error(errc::stopped, "graceful_permdown was called");
  auto ref = state_.track(owner, topic, key, meta, diff());
  if (ref) changed(now);
  return ref;
}

Result<Ref> Shard::update(std::uint64_t owner, std::string_view topic, std::string_view key,
                          const nlohmann::json& meta, TimePoint now) {
  if (stopped_) return make_error(errc::stopped, "graceful_permdown was called");
  auto ref = state_.update(owner, topic, key, meta, diff());
  if (ref) changed(now);
  return ref;
}

Result<Ref> Shard::update(std::uint64_t owner, std::string_view topic, std::string_view key,
                          const std::function<nlohmann::json(const nlohmann::json&)>& change, TimePoint now) {
  if (stopped_) return make_error(errc::stopped, "graceful_permdown was called");
  auto ref = state_.update(owner, topic, key, change, diff());
  if (ref) changed(now);
  return ref;
}

Result<void> Shard::untrack(std::uint64_t owner, std::string_view topic, std::string_view key, TimePoint now) {
  if (stopped_) return make_error(errc::stopped, "graceful_permdown was called");
  auto done = state_.untrack(owner, topic, key, diff());
  if (done) changed(now);
  return done;
}

std::size_t Shard::untrack(std::uint64_t owner, TimePoint now) {
  if (stopped_) return 0;
  const std::size_t count = state_.untrack(owner, diff());
  if (count > 0) changed(now);
  return count;
}

void Shard::graceful_permdown(TimePoint now) {
  if (stopped_) return;
  Message m = header();
  m.body = Permdown{};
  broadcast(encode(m));
  state_.clear_local(diff());
  stopped_ = true;
  dirty_ = false;
  (void)now;
}

void Shard::send(const std::string& to, std::vector<std::uint8_t> bytes) {
  out_.sends.push_back(Send{to, std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes))});
}

void Shard::broadcast(std::vector<std::uint8_t> bytes) {
  auto shared = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
  for (const auto& [node, peer] : peers_) {
    if (peer.connected) out_.sends.push_back(Send{node, shared});
  }
}

void Shard::flush(TimePoint now) {
  if (!dirty_ || stopped_) return;
  if (now < dirty_since_ + options_.delta_flush_period) return;
  dirty_ = false;
  const Sequence clock = state_.clock();
  auto batches = state_.delta_since(sent_clock_, options_.max_delta_entries);
  // The removal log no longer reaches our last flush: everyone gets the full state.
  if (!batches) batches = state_.extract(options_.max_transfer_entries);
  sent_clock_ = clock;
  for (const auto& batch : *batches) {
    broadcast(encode_batch(state_.self(), options_.pool_size, clock, batch, false));
    ++counters_.deltas_sent;
  }
}

void Shard::heartbeat(TimePoint now) {
  if (stopped_) return;
  const auto period = changed_since_heartbeat_ ? options_.broadcast_period
                                               : options_.broadcast_period * options_.max_silent_periods;
  if (now < last_heartbeat_ + period) return;
  last_heartbeat_ = now;
  changed_since_heartbeat_ = false;
  broadcast(encode(header()));
  ++counters_.heartbeats_sent;
}

void Shard::check_liveness(TimePoint now) {
  for (auto& [node, peer] : peers_) {
    if (peer.instance == 0) continue;
    if (!peer.replica_down && now - peer.last_heard > options_.down_period) {
      peer.replica_down = true;
      peer.down_since = now;
      state_.set_up(peer.instance, false, diff());
    } else if (peer.replica_down && now - peer.down_since > options_.permdown_period) {
      state_.drop_replica(peer.instance, diff());
      peer.instance = 0;
      peer.replica_down = false;
    }
  }
}

void Shard::on_tick(TimePoint now) {
  flush(now);
  heartbeat(now);
  check_liveness(now);
}

TimePoint Shard::next_deadline() const {
  TimePoint next = last_heartbeat_ + (changed_since_heartbeat_ ? options_.broadcast_period
                                                               : options_.broadcast_period * options_.max_silent_periods);
  if (dirty_) next = std::min(next, dirty_since_ + options_.delta_flush_period);
  for (const auto& [node, peer] : peers_) {
    if (peer.instance == 0) continue;
    next = std::min(next, peer.replica_down ? peer.down_since + options_.permdown_period
                                            : peer.last_heard + options_.down_period);
  }
  return next;
}

void Shard::on_peer_up(const std::string& node, TimePoint now) {
  auto& peer = peers_[node];
  peer.connected = true;
  if (stopped_) return;
  // A reconnection is the moment to exchange: our clock goes now, and we ask for theirs.
  Message m = header();
  send(node, encode(m));
  peer.transfer_pending = false;
  request_transfer(node, peer, now);
}

void Shard::on_peer_down(const std::string& node, TimePoint now) {
  auto it = peers_.find(node);
  if (it == peers_.end()) return;
  auto& peer = it->second;
  peer.connected = false;
  peer.transfer_pending = false;
  if (peer.instance != 0 && !peer.replica_down) {
    peer.replica_down = true;
    peer.down_since = now;
    state_.set_up(peer.instance, false, diff());
  }
}

std::vector<std::string> Shard::peers_up() const {
  std::vector<std::string> out;
  for (const auto& [node, peer] : peers_) if (peer.connected) out.push_back(node);
  return out;
}

Output Shard::take() {
  Output out = std::move(out_);
  out_ = Output{};
  return out;
}

}  // namespace plexus::presence
