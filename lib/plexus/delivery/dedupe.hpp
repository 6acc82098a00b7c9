// Dedupe and AckBatcher: the receiver side of `ack: true`.
//
// Dedupe decides, for each acked message that arrives, whether to deliver it
// (first arrival), to drop it but acknowledge again (duplicate: the sender
// retransmitted because our ack was lost or late) or to drop it without an
// ack (overflow or stale: the sender retransmits later, or never should).
//
// Why this gives exactly-once delivery per sender incarnation, together with
// AckTable: the sender numbers its acked messages to us 1, 2, 3, ... with no
// gaps and never reuses an id within its incarnation (the instance id).
// For each instance Dedupe keeps a watermark W (every id <= W was delivered)
// and the set of delivered ids above W; an id is delivered only when it is
// in neither, and is recorded in the same step. So no id is delivered twice
// while the state lives. The state of an instance is dropped only when that
// incarnation is gone (forget_instance, retain_only), and the forgotten
// instance is remembered as a tombstone, so its late retransmissions are
// refused as stale rather than delivered again. At least once comes from the
// sender: it retransmits until acked, and we ack every delivered or duplicate
// id. The id W+1 is always accepted, so the watermark always advances and
// an overflow never blocks a sender for good.
//
// AckBatcher collects ids to acknowledge per origin node; the shell drains
// it once per tick or read and sends one ack message per batch.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace plexus::delivery {

/// What to do with an arriving acked message.
enum class Verdict : std::uint8_t {
  deliver,    ///< first arrival: deliver it and acknowledge it
  duplicate,  ///< already delivered: acknowledge again, do not deliver
  overflow,   ///< too far ahead or too many held, or no room for a new sender: drop, no ack
  stale,      ///< forgotten incarnation, id 0, or name/instance mismatch: drop, no ack
};

/// What check() does when a new sender instance arrives and max_instances are tracked.
enum class WhenFull : std::uint8_t {
  refuse,     ///< Verdict::overflow for the newcomer (exactly-once is kept)
  evict_lru,  ///< forget the least recently used instance (its exactly-once is lost)
};

/// Limits of a Dedupe.
struct DedupeOptions {
  /// Delivered ids held above the watermark, per sender instance.
  std::size_t max_out_of_order = 65536;
  /// Largest accepted distance of an id above the watermark.
  std::uint64_t max_ahead = std::uint64_t{1} << 20;
  /// Sender instances tracked at once.
  std::size_t max_instances = 4096;
  WhenFull when_full = WhenFull::refuse;
  /// Forgotten instances remembered (oldest forgotten first).
  std::size_t max_forgotten = 4096;
};

/// Receiver-side duplicate filter, one compact state per sender incarnation.
class Dedupe {
 public:
  using Options = DedupeOptions;

  explicit Dedupe(Options options = {});

  /// Classify message `id` from the incarnation `sender_instance` of node
  /// `sender_name`, and record it when the verdict is deliver.
  Verdict check(std::uint64_t sender_instance, std::string_view sender_name, std::uint64_t id);

  /// The incarnation was replaced or left: drop its state, refuse it from now on.
  void forget_instance(std::uint64_t sender_instance);
  /// Forget every tracked instance not in `live` (call on membership change).
  void retain_only(const std::set<std::uint64_t>& live);

  /// Every id <= this was delivered from the instance (0 if unknown): a cumulative ack.
  [[nodiscard]] std::uint64_t watermark(std::uint64_t sender_instance) const;
  /// Delivered ids held above the watermark for the instance.
  [[nodiscard]] std::size_t held(std::uint64_t sender_instance) const;
  /// Instances tracked.
  [[nodiscard]] std::size_t instances() const noexcept { return senders_.size(); }
  [[nodiscard]] bool forgotten(std::uint64_t sender_instance) const;

 private:
  struct Sender {
    std::string name;
    std::uint64_t watermark = 0;
    std::set<std::uint64_t> above;  ///< delivered ids > watermark
    std::uint64_t last_used = 0;    ///< use_clock_ at the latest check
  };

  Sender* find_or_admit(std::uint64_t sender_instance, std::string_view sender_name);
  void tombstone(std::uint64_t sender_instance);

  Options options_;
  std::map<std::uint64_t, Sender> senders_;
  std::set<std::uint64_t> forgotten_;
  std::deque<std::uint64_t> forgotten_order_;
  std::uint64_t use_clock_ = 0;
};

/// A batch of ids to acknowledge to one origin node, ascending.
struct AckBatch {
  std::string origin;
  std::vector<std::uint64_t> ids;
};

/// Limits of an AckBatcher.
struct AckBatcherOptions {
  /// Ids in one AckBatch (one ack message).
  std::size_t max_ids_per_batch = 1024;
  /// Ids waiting across all origins; beyond it add() drops the ack.
  std::size_t max_pending_ids = 65536;
};

/// Collects acks per origin so they go out batched, once per tick or read.
class AckBatcher {
 public:
  using Options = AckBatcherOptions;

  explicit AckBatcher(Options options = {});

  /// Queue an ack of `id` to `origin`. False when max_pending_ids is reached:
  /// the ack is dropped, which is safe (the sender retransmits, we re-ack).
  bool add(std::string_view origin, std::uint64_t id);
  /// All queued acks, per origin in name order, split at max_ids_per_batch.
  std::vector<AckBatch> drain();
  [[nodiscard]] std::size_t pending() const noexcept { return pending_; }

 private:
  Options options_;
  std::map<std::string, std::set<std::uint64_t>, std::less<>> by_origin_;
  std::size_t pending_ = 0;
};

}  // namespace plexus::delivery
