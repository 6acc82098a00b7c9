// MonotonicBuffer: for a monotonic channel, the newest frame per partition
// key while the connection's outbox is behind. A newer frame for a key
// replaces the waiting one (its older value is obsolete), so a slow peer gets
// the latest state per key instead of every intermediate one. Sans-IO.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

namespace plexus::peer {

class MonotonicBuffer {
 public:
  explicit MonotonicBuffer(std::size_t max_keys) : max_keys_(max_keys) {}

  /// Keep `frame` as the newest for `key`. Returns true if it replaced an
  /// older waiting frame (that one is dropped), false otherwise. When
  /// max_keys distinct keys wait, the oldest key's frame is dropped (counted
  /// by the caller via `evicted()`).
  bool put(std::uint64_t key, std::vector<std::uint8_t> frame) {
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->frame = std::move(frame);
      ++replaced_;
      return true;
    }
    if (order_.size() >= max_keys_ && !order_.empty()) {
      index_.erase(order_.front().key);
      order_.pop_front();
      ++evicted_;
    }
    order_.push_back({key, std::move(frame)});
    index_[key] = std::prev(order_.end());
    return false;
  }

  /// Take waiting frames in first-waited order, while `send` accepts them.
  template <class Send>
  void drain(Send&& send) {
    while (!order_.empty() && send(order_.front().frame)) {
      index_.erase(order_.front().key);
      order_.pop_front();
    }
  }

  [[nodiscard]] bool empty() const noexcept { return order_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return order_.size(); }
  [[nodiscard]] std::uint64_t replaced() const noexcept { return replaced_; }
  [[nodiscard]] std::uint64_t evicted() const noexcept { return evicted_; }

 private:
  struct Waiting {
    std::uint64_t key;
    std::vector<std::uint8_t> frame;
  };
  std::size_t max_keys_;
  std::list<Waiting> order_;
  std::unordered_map<std::uint64_t, std::list<Waiting>::iterator> index_;
  std::uint64_t replaced_ = 0;
  std::uint64_t evicted_ = 0;
};

}  // namespace plexus::peer
