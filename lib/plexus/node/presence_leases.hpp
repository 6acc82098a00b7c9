// Owner leases of the admin API (internal to plexus::node): an owner opened
// by an admin client lives while its client renews the lease; the node closes
// it (untracking everything it tracked) when the lease runs out. Sans-IO: the
// caller passes the time and asks which leases ran out; a timer in
// PresenceHost does the asking. Bounded: at most `capacity` leases.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace plexus::node {

class LeaseTable {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Millis = std::chrono::milliseconds;

  explicit LeaseTable(std::size_t capacity) : capacity_(capacity) {}

  [[nodiscard]] bool full() const noexcept { return expiry_.size() >= capacity_; }
  [[nodiscard]] std::size_t size() const noexcept { return expiry_.size(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool contains(std::uint64_t id) const { return expiry_.contains(id); }

  /// Start (or restart) `id`'s lease: it runs out at now + ttl. False when full.
  bool open(std::uint64_t id, TimePoint now, Millis ttl) {
    if (!contains(id) && full()) return false;
    drop(id);
    expiry_[id] = now + ttl;
    order_.emplace(now + ttl, id);
    return true;
  }
  /// Extend a live lease to now + ttl. False for an unknown id.
  bool renew(std::uint64_t id, TimePoint now, Millis ttl) {
    if (!contains(id)) return false;
    return open(id, now, ttl);
  }
  /// Forget `id`'s lease (the owner was closed). False for an unknown id.
  bool close(std::uint64_t id) { return drop(id); }

  /// The ids whose lease ran out by `now`, soonest first; they are forgotten.
  std::vector<std::uint64_t> expire(TimePoint now) {
    std::vector<std::uint64_t> out;
    while (!order_.empty() && order_.begin()->first <= now) {
      out.push_back(order_.begin()->second);
      expiry_.erase(order_.begin()->second);
      order_.erase(order_.begin());
    }
    return out;
  }
  /// When the next lease runs out.
  [[nodiscard]] std::optional<TimePoint> next_expiry() const {
    if (order_.empty()) return std::nullopt;
    return order_.begin()->first;
  }
  [[nodiscard]] std::optional<TimePoint> expiry_of(std::uint64_t id) const {
    const auto it = expiry_.find(id);
    if (it == expiry_.end()) return std::nullopt;
    return it->second;
  }
  /// Every lease: id -> when it runs out.
  [[nodiscard]] const std::map<std::uint64_t, TimePoint>& leases() const noexcept { return expiry_; }

 private:
  bool drop(std::uint64_t id) {
    const auto it = expiry_.find(id);
    if (it == expiry_.end()) return false;
    order_.erase({it->second, id});
    expiry_.erase(it);
    return true;
  }

  std::size_t capacity_;
  std::map<std::uint64_t, TimePoint> expiry_;
  std::set<std::pair<TimePoint, std::uint64_t>> order_;
};

}  // namespace plexus::node
