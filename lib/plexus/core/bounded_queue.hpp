// BoundedQueue: a FIFO with a fixed most-items limit and a defined behaviour
// when full: push() refuses the item and counts the refusal, the caller
// decides (drop and count, or push back on its source). Its counters are what
// a metric exports. Single-threaded, like the actor that owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

namespace plexus {

template <typename T>
class BoundedQueue {
 public:
  /// `max_items` 0 holds nothing (every push is refused).
  explicit BoundedQueue(std::size_t max_items) noexcept : max_items_(max_items) {}

  /// Append `item`; false (the item is dropped, `refused()` grows) when full.
  bool push(T item) {
    if (items_.size() >= max_items_) {
      ++refused_;
      return false;
    }
    items_.push_back(std::move(item));
    if (items_.size() > high_water_) high_water_ = items_.size();
    return true;
  }
  /// The oldest item, removed; nullopt when empty.
  std::optional<T> pop() {
    if (items_.empty()) return std::nullopt;
    std::optional<T> out(std::move(items_.front()));
    items_.pop_front();
    return out;
  }
  /// Remove and return every item, oldest first.
  std::deque<T> drain() { return std::exchange(items_, {}); }

  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  [[nodiscard]] bool full() const noexcept { return items_.size() >= max_items_; }
  [[nodiscard]] std::size_t max_items() const noexcept { return max_items_; }
  /// Pushes refused because the queue was full, since construction.
  [[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }
  /// Largest size reached, since construction.
  [[nodiscard]] std::size_t high_water() const noexcept { return high_water_; }

 private:
  std::deque<T> items_;
  std::size_t max_items_;
  std::uint64_t refused_ = 0;
  std::size_t high_water_ = 0;
};

}  // namespace plexus
