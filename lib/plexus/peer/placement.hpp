// HandlerPlacement: where an adaptively placed server's handler runs
// (ServerOptions::Placement::adaptive). No sockets, no clock: the dispatcher
// reports how long each call took, and the placement answers whether the next
// batch runs inline on the service executor or on the server's worker strand.
//
// A server starts on its worker strand, where a call may block without
// stalling anything else. After `promote_after` calls in a row that each
// finished within the budget, and once the strand has nothing in flight (so
// the order of calls is kept), its batches run inline on the service executor:
// no thread hop each way. Only small batches run inline: a read that brought
// many messages for one server means the service thread is the busy one, and
// the strand lets another core share the work. The first inline call over the
// budget sends it back to the strand, and the streak it needs to return
// doubles (up to `promote_after_max`), so a handler that is sometimes slow
// settles on the strand instead of flapping.
//
// Threads: `run_inline`, `ran_inline` and `posted` on the service executor;
// `ran_on_strand` and `strand_done` on the worker strand (one at a time).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace plexus::peer {

struct PlacementOptions {
  /// A call longer than this is slow.
  std::chrono::nanoseconds budget = std::chrono::microseconds(200);
  /// Quick calls in a row on the strand before moving inline.
  std::uint32_t promote_after = 64;
  std::uint32_t promote_after_max = 1u << 16;
  /// Larger batches go to the strand even while the server runs inline.
  std::size_t inline_batch_max = 8;
};

class HandlerPlacement {
 public:
  explicit HandlerPlacement(PlacementOptions options = {});

  /// Service executor: run the next batch, of `batch` calls, inline? (Moves
  /// inline when it may.)
  bool run_inline(std::size_t batch);
  /// Service executor: an inline call took `took`; false if it was slow, and
  /// the rest goes to the strand.
  bool ran_inline(std::chrono::nanoseconds took);
  /// Service executor: a batch was posted to the strand.
  void posted() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  /// Worker strand: a batch of `calls` calls took `took` in all. Timed as a
  /// whole (two clock reads a batch, not a call), it counts as quick only if
  /// the whole batch took at most the budget.
  void ran_on_strand(std::size_t calls, std::chrono::nanoseconds took);
  /// Worker strand: a posted batch is finished.
  void strand_done() { in_flight_.fetch_sub(1, std::memory_order_release); }

  bool inline_now() const { return inline_; }
  std::uint32_t promote_after() const { return promote_after_; }
  /// Moves back to the strand so far.
  std::uint64_t demotions() const { return demotions_; }

 private:
  PlacementOptions options_;
  bool inline_ = false;
  std::uint32_t promote_after_;
  std::uint64_t demotions_ = 0;
  std::atomic<std::uint32_t> in_flight_{0};
  std::atomic<std::uint32_t> quick_streak_{0};
};

}  // namespace plexus::peer
