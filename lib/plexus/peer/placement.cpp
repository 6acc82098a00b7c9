#include "plexus/peer/placement.hpp"

#include <algorithm>

namespace plexus::peer {

namespace {
// The streak saturates here (it is compared with promote_after, at most 2^16).
constexpr std::uint32_t streak_cap = 1u << 30;
}  // namespace

HandlerPlacement::HandlerPlacement(PlacementOptions options)
    : options_(options), promote_after_(std::max<std::uint32_t>(1, options.promote_after)) {}

bool HandlerPlacement::run_inline(std::size_t batch) {
  if (batch > options_.inline_batch_max) return false;
  // Behind a batch on the strand: wait for it, to keep the order. Once it is
  // drained, its last call happened before this one (acquire).
  if (in_flight_.load(std::memory_order_acquire) != 0) return false;
  if (!inline_ && quick_streak_.load(std::memory_order_relaxed) >= promote_after_) inline_ = true;
  return inline_;
}

bool HandlerPlacement::ran_inline(std::chrono::nanoseconds took) {
  if (took <= options_.budget) return true;
  inline_ = false;
  ++demotions_;
  quick_streak_.store(0, std::memory_order_relaxed);
  promote_after_ = std::min(options_.promote_after_max, promote_after_ * 2);
  return false;
}

void HandlerPlacement::ran_on_strand(std::size_t calls, std::chrono::nanoseconds took) {
  if (took > options_.budget) {
    quick_streak_.store(0, std::memory_order_relaxed);
  } else {
    const auto streak = quick_streak_.load(std::memory_order_relaxed);
    const auto added = std::min<std::size_t>(calls, streak_cap - streak);
    quick_streak_.store(streak + std::uint32_t(added), std::memory_order_relaxed);
  }
}

}  // namespace plexus::peer
