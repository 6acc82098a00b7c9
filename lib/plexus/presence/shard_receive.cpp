// presence::Shard: received messages, merges and transfers.
#include "plexus/presence/shard.hpp"

namespace plexus::presence {

void Shard::request_transfer(const std::string& node, Peer& peer, TimePoint now) {
  if (peer.transfer_pending && now - peer.transfer_sent < options_.down_period) return;
  Message m = header();
  m.body = TransferRequest{peer.instance, peer.instance == 0 ? 0 : state_.known_clock(peer.instance)};
  send(node, encode(m));
  peer.transfer_pending = true;
  peer.transfer_sent = now;
  peer.ahead_samples = 0;
  ++counters_.transfer_requests_sent;
}

void Shard::answer_transfer(const std::string& node, Sequence known) {
  const Sequence clock = state_.clock();
  std::optional<std::vector<Batch>> batches;
  const std::size_t window = options_.max_delta_sizes.empty() ? 0 : options_.max_delta_sizes.back();
  if (known <= clock && clock - known <= window) {
    batches = state_.delta_since(known, options_.max_delta_entries);
  }
  if (batches) {
    ++counters_.transfers_sent_delta;
  } else {
    batches = state_.extract(options_.max_transfer_entries);
    ++counters_.transfers_sent_full;
  }
  for (const auto& batch : *batches) send(node, encode_batch(state_.self(), options_.pool_size, clock, batch, true));
}

bool Shard::accept_sender(const std::string& node, const Message& m, TimePoint now) {
  auto& peer = peers_[node];
  if (m.from.node != node || m.from.shard != state_.self().shard || m.from.instance == 0) {
    ++counters_.bad_messages;
    out_.errors.push_back(plexus::Error{make_error_code(errc::unknown_replica),
                                        "message from " + node + " names replica " + m.from.node + "/" +
                                            std::to_string(m.from.shard)});
    return false;
  }
  if (m.pool_size != options_.pool_size) {
    ++counters_.pool_size_mismatches;
    if (peer.mismatch_reported.insert(m.from.instance).second) {
      out_.errors.push_back(make_error(errc::pool_size_mismatch,
                                       node + " runs pool_size " + std::to_string(m.pool_size) + ", we run " +
                                           std::to_string(options_.pool_size) + ": its messages are ignored"));
    }
    return false;
  }
  if (state_.is_dropped(m.from.instance)) return false;  // an old life, already gone
  if (peer.instance != m.from.instance) {
    Diff* d = diff();
    if (auto added = state_.add_replica(m.from, d); !added) {
      out_.errors.push_back(added.error());
      return false;
    }
    peer.instance = m.from.instance;
    peer.replica_down = false;
    peer.transfer_pending = false;
  }
  peer.last_heard = now;
  return true;
}

void Shard::merge(const std::string& node, Peer& peer, const Batch& batch, Sequence clock, bool transfer,
                  TimePoint now) {
  auto merged = state_.merge(batch, diff());
  if (!merged) {
    if (merged.error().code == errc::delta_gap) {
      ++counters_.gaps;
      request_transfer(node, peer, now);
    } else {
      ++counters_.bad_messages;
      out_.errors.push_back(merged.error());
    }
    return;
  }
  ++counters_.deltas_merged;
  if (transfer && state_.known_clock(peer.instance) >= clock) peer.transfer_pending = false;
}

void Shard::on_message(const std::string& from, std::span<const std::uint8_t> bytes, TimePoint now) {
  auto decoded = decode(bytes);
  if (!decoded) {
    ++counters_.bad_messages;
    out_.errors.push_back(plexus::Error{decoded.error().code, "from " + from + ": " + decoded.error().detail});
    return;
  }
  const Message& m = *decoded;
  const bool first_contact = peers_[from].instance != m.from.instance;
  if (!accept_sender(from, m, now)) return;
  auto& peer = peers_[from];
  if (std::holds_alternative<Permdown>(m.body)) {
    state_.drop_replica(m.from.instance, diff());
    peer.instance = 0;
    return;
  }
  if (const auto* req = std::get_if<TransferRequest>(&m.body)) {
    // A request aimed at an earlier life of this shard gets the full state.
    if (!stopped_) answer_transfer(from, req->target == state_.self().instance ? req->known : 0);
  } else if (const auto* delta = std::get_if<DeltaMsg>(&m.body)) {
    merge(from, peer, delta->batch, m.clock, false, now);
  } else if (const auto* transfer = std::get_if<TransferMsg>(&m.body)) {
    merge(from, peer, transfer->batch, m.clock, true, now);
  }
  if (state_.known_clock(peer.instance) >= m.clock) {
    peer.ahead_samples = 0;
    // A hidden replica is shown again only once caught up, so the joins it
    // reports are its current presences, not the ones it had when it went down;
    // and only while the peer service says its node is up, so a message still
    // in flight when the node went down does not show it again.
    if (peer.replica_down && peer.connected) {
      peer.replica_down = false;
      state_.set_up(peer.instance, true, diff());
    }
    return;
  }
  // Behind the sender: ask at once on first contact or after a down, else after
  // clock_sample_periods looks (batches in flight may still close the lag).
  if (stopped_ || std::holds_alternative<TransferMsg>(m.body) || std::holds_alternative<DeltaMsg>(m.body)) return;
  if (first_contact || peer.replica_down || ++peer.ahead_samples >= options_.clock_sample_periods) {
    // A transfer request from the peer means it has just seen us come up (or
    // found a gap): the answer to a request of ours sent before that may have
    // been refused on its side (not yet connected back), so ask again now
    // rather than wait out down_period.
    if (std::holds_alternative<TransferRequest>(m.body)) peer.transfer_pending = false;
    request_transfer(from, peer, now);
  }
}

}  // namespace plexus::presence
