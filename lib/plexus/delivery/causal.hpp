// Causal delivery per label for point-to-point messages: if the send of m1
// happened before the send of m2 and both go to process Q with the same
// causal label, Q delivers m1 before m2 — also when the two sends are at
// different processes and related only through a third one.
//
// Algorithm: Schiper–Eggli–Sandoz (SES), with each ORD entry projected onto
// the sender that matters. A process P keeps, per label:
//   V      vector clock counting *send* events: V[k] = sends of k known to P;
//   ORD    per destination Q and per sender s, the send index (V_s[s] at that
//          send) of the latest message from s to Q in P's causal past.
// Send m to Q: V[P] += 1; m carries tm = V and ORD (before this send); then
//   ORD[Q][P] = tm[P].
// Receive m at Q: deliverable when ORD_m[Q][s] <= V_Q[s] for every s (every
//   message to Q in m's causal past is delivered). On delivery V_Q = max(V_Q,
//   tm), ORD_Q = max(ORD_Q, ORD_m) without Q's own entry, and ORD_Q[from] loses
//   the entries tm covers (the sender had delivered those before sending m).
// Why it is correct: let m' be a message from s to Q with send index e.
// V_Q[s] grows only by merging the tm of delivered messages, and a message
// m'' with tm''[s] >= e has m' in its causal past, so it carries
// ORD[Q][s] >= e — unless its causal path went through Q after Q delivered
// m', or the entry was pruned, which happens only once a message from Q
// proved m' delivered. By induction over Q's delivery order, V_Q[s] >= e
// therefore means Q delivered m': the deliverability test checks exactly that.
// Unlike vector-clock broadcast delivery, it never waits for messages that
// were sent to other processes, so unicast cannot deadlock.
//
// Overhead per message: tm (at most n entries for n processes) plus ORD (at
// most n-1 destinations — never the stamping process — each with at most n-1
// senders — never the destination itself), each entry a process id and a
// 64-bit counter: at most n + (n-1)^2 entries (21 for 5 processes), and far
// fewer in request-reply traffic, whose replies prune ORD.
//
// Causal order needs every message to arrive, so pair a causal label with
// `ack`: a message lost for good blocks its successors at that receiver until
// its sender is forgotten. Receiving side order: admit() (refused: no ack, the
// sender retransmits), then Dedupe and ack, then receive().
//
// Process ids are "node#instance": a restarted node is a new process, and
// forget_process() retires the old one. Sans-IO: no clock, no I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plexus/core/result.hpp"

namespace plexus::delivery {

/// A sparse clock: (process id, counter) pairs, ids strictly ascending, counters > 0.
using VectorClock = std::vector<std::pair<std::string, std::uint64_t>>;

/// What a causal message carries, as plain vectors for the Cap'n Proto encoder.
struct Stamp {
  /// tm: the sender's vector clock (send events) at this send.
  VectorClock time;
  /// ORD snapshot: per destination (ids strictly ascending), per sender, the
  /// send index of the latest message to that destination in the causal past.
  std::vector<std::pair<std::string, VectorClock>> order;

  /// Counter entries carried (tm plus every ORD entry): the message overhead.
  [[nodiscard]] std::size_t entries() const noexcept;
};

/// Limits of one causal label.
struct CausalOptions {
  /// Messages waiting for their causal predecessors.
  std::size_t max_buffered = 10000;
  /// Distinct process ids in the clocks (and entries of any one stamp).
  std::size_t max_processes = 1024;
  /// Forgotten processes remembered, so their stale entries are ignored.
  std::size_t max_retired = 4096;
};

/// Causal order for one label at one process.
class CausalLabel {
 public:
  using Options = CausalOptions;

  explicit CausalLabel(std::string self_process, Options options = {});

  /// Stamp the next message to `destination_process`. Errors: self_destination,
  /// too_many_processes.
  Result<Stamp> stamp_send(std::string_view destination_process);

  /// Take a message from `from_process` with its stamp; `handle` is the
  /// caller's. A message deliverable now is delivered at once (with every
  /// buffered message it unblocks); otherwise it waits in the buffer. Errors
  /// (the message is not kept; the caller counts a drop): malformed_stamp,
  /// stale_clock (delivered or buffered already, or from a retired process),
  /// causal_buffer_full (only for a message that must wait), too_many_processes.
  Result<void> receive(std::string from_process, Stamp stamp, std::uint64_t handle);

  /// What receive() would answer, without keeping anything. A shell that checks
  /// this before Dedupe and ack leaves a causal_buffer_full message
  /// unacknowledged, so the sender retransmits it once there is room and no
  /// message is lost; on stale_clock it lets Dedupe answer (a duplicate is re-acked).
  [[nodiscard]] Result<void> admit(std::string_view from_process, const Stamp& stamp) const;

  /// Handles delivered since the last call, in a valid causal delivery order.
  /// Call it after every receive() (or batch of them): the list is not bounded.
  std::vector<std::uint64_t> take_deliverable();

  /// The process is gone for good: drop its clock entries, stop waiting for
  /// its messages (what that unblocks goes to take_deliverable()), and return
  /// the handles of its own buffered messages, which are dropped. Its entries
  /// in the ORD rows of other destinations stay (and are still merged and
  /// carried) until it leaves the retired set: a destination that has not
  /// retired it yet may hold its message, and must deliver it first.
  std::vector<std::uint64_t> forget_process(std::string_view process);

  [[nodiscard]] const std::string& self() const noexcept { return self_; }
  /// Messages waiting for a causal predecessor.
  [[nodiscard]] std::size_t buffered() const noexcept { return buffered_; }
  /// Process ids this label tracks (self included).
  [[nodiscard]] std::size_t processes() const noexcept { return known_.size(); }
  /// The vector clock V, for diagnostics and tests.
  [[nodiscard]] VectorClock clock() const;

 private:
  using ClockMap = std::map<std::string, std::uint64_t, std::less<>>;
  static constexpr std::size_t no_deps = static_cast<std::size_t>(-1);
  struct Pending {
    Stamp stamp;
    std::size_t deps = no_deps;  ///< index of the stamp.order entry for self_
    std::uint64_t handle = 0;
  };

  Result<void> check(std::string_view from, const Stamp& stamp, std::uint64_t& index) const;
  [[nodiscard]] std::set<std::string_view> unknown_processes(const Stamp& stamp) const;
  [[nodiscard]] static std::size_t find_deps(const Stamp& stamp, std::string_view self);
  [[nodiscard]] bool deliverable(const Stamp& stamp, std::size_t deps) const;
  void deliver(std::string_view from, const Pending& pending);
  void release_unblocked();
  [[nodiscard]] bool retired(std::string_view process) const;
  /// Drop `process` as a sender from every ORD row.
  void erase_sender(std::string_view process);

  std::string self_;
  Options options_;
  ClockMap clock_;                                     ///< V
  std::map<std::string, ClockMap, std::less<>> order_;  ///< ORD: destination -> sender -> index
  /// Buffered messages: sender -> its tm[sender] -> message (per sender in send order).
  std::map<std::string, std::map<std::uint64_t, Pending>, std::less<>> buffer_;
  std::size_t buffered_ = 0;
  std::vector<std::uint64_t> ready_;  ///< delivered, not yet taken
  std::set<std::string, std::less<>> known_;  ///< every id in clock_, order_ and buffer_
  std::set<std::string, std::less<>> retired_;
  std::deque<std::string> retired_order_;
};

/// Limits of a CausalRegistry.
struct CausalRegistryOptions {
  std::size_t max_labels = 256;
  CausalOptions label;
};

/// The causal labels of one process, created on first use, bounded in number.
class CausalRegistry {
 public:
  using Options = CausalRegistryOptions;

  explicit CausalRegistry(std::string self_process, Options options = {});

  /// The label `name`, created if needed. Error too_many_labels.
  Result<CausalLabel*> label(std::string_view name);
  /// The label `name` or nullptr.
  [[nodiscard]] CausalLabel* find(std::string_view name);
  /// Drop a label and every message it buffers.
  void erase(std::string_view name);
  /// forget_process() on every label; returns the dropped (label, handle) pairs.
  std::vector<std::pair<std::string, std::uint64_t>> forget_process(std::string_view process);
  [[nodiscard]] std::size_t size() const noexcept { return labels_.size(); }

 private:
  std::string self_;
  Options options_;
  std::map<std::string, std::unique_ptr<CausalLabel>, std::less<>> labels_;
};

}  // namespace plexus::delivery
