// Shard: the sans-IO replication protocol of one presence tracker shard
// (Phoenix.Tracker.Shard without the process). It owns a State and is fed
// local calls, received messages, peer-service up/down events and ticks, each
// with the current time; it answers with messages to send and diffs to report
// (take()). No sockets, clocks or threads: the Tracker shell and the tests
// drive it.
//
// Protocol, per pair of nodes (shard i only talks to shard i):
// - local changes are coalesced for delta_flush_period, then sent to every up
//   peer as one Delta per flush (split at max_delta_entries);
// - every message carries the sender's clock, so each is a heartbeat; an
//   explicit Heartbeat goes out each broadcast_period while anything changed,
//   else each max_silent_periods periods;
// - a receiver that is behind a sender (a delta with a gap, clock_sample_periods
//   heartbeats ahead, a peer coming up, a replica seen for the first time)
//   sends a TransferRequest with its knowledge; the sender answers with a
//   catch-up delta from its removal log when the lag is within
//   max_delta_sizes.back(), else its full state, in parts;
// - a peer reported down by the peer service, or silent for down_period, has
//   its presences hidden (leaves); any message from it shows them again
//   (joins); down for permdown_period, it is dropped. A new instance of a node
//   drops the old one's presences; a Permdown message drops them at once.
// - a message with another pool_size is refused and reported, never merged.
#pragma once

#include <map>
#include <memory>
#include <set>

#include "plexus/presence/codec.hpp"
#include "plexus/presence/state.hpp"

namespace plexus::presence {

using Bytes = std::shared_ptr<const std::vector<std::uint8_t>>;

struct Send {
  std::string to;  ///< node name
  Bytes bytes;
};

/// What the shard asks its driver to do.
struct Output {
  std::vector<Send> sends;
  Diff diff;
  std::vector<Error> errors;  ///< problems to log (pool size mismatch, bad messages, gaps)
  [[nodiscard]] bool empty() const { return sends.empty() && diff.empty() && errors.empty(); }
};

/// Counters of one shard.
struct ShardCounters {
  std::uint64_t deltas_sent = 0;
  std::uint64_t deltas_merged = 0;
  std::uint64_t gaps = 0;
  std::uint64_t transfer_requests_sent = 0;
  std::uint64_t transfers_sent_delta = 0;  ///< answered with a catch-up delta
  std::uint64_t transfers_sent_full = 0;   ///< answered with the full state
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t bad_messages = 0;
  std::uint64_t pool_size_mismatches = 0;
};

class Shard {
 public:
  /// `instance`: random per start (the caller's RNG), never 0.
  Shard(const Options& options, std::string node, std::uint32_t index, std::uint64_t instance, TimePoint now);

  // ---- local calls ----
  Result<Ref> track(std::uint64_t owner, std::string_view topic, std::string_view key, const nlohmann::json& meta,
                    TimePoint now);
  Result<Ref> update(std::uint64_t owner, std::string_view topic, std::string_view key, const nlohmann::json& meta,
                     TimePoint now);
  Result<Ref> update(std::uint64_t owner, std::string_view topic, std::string_view key,
                     const std::function<nlohmann::json(const nlohmann::json&)>& change, TimePoint now);
  Result<void> untrack(std::uint64_t owner, std::string_view topic, std::string_view key, TimePoint now);
  std::size_t untrack(std::uint64_t owner, TimePoint now);
  /// Tell every peer to drop our presences now, drop them here, and stop.
  void graceful_permdown(TimePoint now);

  // ---- events ----
  void on_message(const std::string& from, std::span<const std::uint8_t> bytes, TimePoint now);
  void on_tick(TimePoint now);
  void on_peer_up(const std::string& node, TimePoint now);
  void on_peer_down(const std::string& node, TimePoint now);

  /// Effects since the last take().
  Output take();
  /// When on_tick next has work (flush, heartbeat, liveness).
  [[nodiscard]] TimePoint next_deadline() const;
  /// Whether diffs are computed (off when nobody listens: cheaper tracks).
  void set_report_diffs(bool on) { report_diffs_ = on; }

  [[nodiscard]] const State& state() const { return state_; }
  [[nodiscard]] const Replica& replica() const { return state_.self(); }
  [[nodiscard]] bool stopped() const { return stopped_; }
  [[nodiscard]] const ShardCounters& counters() const { return counters_; }
  /// Peers the peer service reports up.
  [[nodiscard]] std::vector<std::string> peers_up() const;

 private:
  struct Peer {
    bool connected = false;          ///< peer service says up
    std::uint64_t instance = 0;      ///< its replica instance, 0 until heard
    TimePoint last_heard{};
    TimePoint down_since{};
    bool replica_down = false;
    std::uint32_t ahead_samples = 0;
    bool transfer_pending = false;
    TimePoint transfer_sent{};
    std::set<std::uint64_t> mismatch_reported;
  };

  Diff* diff() { return report_diffs_ ? &out_.diff : nullptr; }
  void changed(TimePoint now);
  void flush(TimePoint now);
  void heartbeat(TimePoint now);
  void check_liveness(TimePoint now);
  void send(const std::string& to, std::vector<std::uint8_t> bytes);
  void broadcast(std::vector<std::uint8_t> bytes);
  void request_transfer(const std::string& node, Peer& peer, TimePoint now);
  void answer_transfer(const std::string& node, Sequence known);
  bool accept_sender(const std::string& node, const Message& m, TimePoint now);
  void merge(const std::string& node, Peer& peer, const Batch& batch, Sequence clock, bool transfer, TimePoint now);
  Message header() const;

  Options options_;
  State state_;
  std::map<std::string, Peer, std::less<>> peers_;
  Output out_;
  ShardCounters counters_;
  Sequence sent_clock_ = 0;
  bool dirty_ = false;
  TimePoint dirty_since_{};
  bool changed_since_heartbeat_ = false;
  TimePoint last_heartbeat_{};
  bool report_diffs_ = true;
  bool stopped_ = false;
};

}  // namespace plexus::presence
