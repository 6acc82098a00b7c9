// SlotTable: an open-addressing hash set of entry slots (u32), with the key
// read from the entry itself. It replaces node-based maps on the hot path:
// 4 bytes per bucket and no allocation per insert. Linear probing, tombstones
// on erase, rehash at 70 % load (tombstones included).
#pragma once

#include <cstdint>
#include <vector>

namespace plexus::presence::detail {

template <class Traits>
class SlotTable {
 public:
  static constexpr std::uint32_t empty = 0xffffffffu;
  static constexpr std::uint32_t deleted = 0xfffffffeu;

  explicit SlotTable(Traits traits = {}) : traits_(traits) {}

  /// The slot whose key equals `key`, or `empty`.
  template <class K>
  [[nodiscard]] std::uint32_t find(const K& key) const {
    if (buckets_.empty()) return empty;
    const std::size_t mask = buckets_.size() - 1;
    for (std::size_t i = traits_.hash(key) & mask;; i = (i + 1) & mask) {
      const std::uint32_t slot = buckets_[i];
      if (slot == empty) return empty;
      if (slot != deleted && traits_.equal(key, slot)) return slot;
    }
  }
  /// Insert `slot` (its key must not be present).
  void insert(std::uint32_t slot) {
    if ((used_ + 1) * 10 > buckets_.size() * 7) grow();
    place(slot);
    ++size_;
    ++used_;
  }
  /// Erase `slot` (by identity; its key must still be readable).
  void erase(std::uint32_t slot) {
    const std::size_t mask = buckets_.size() - 1;
    for (std::size_t i = traits_.hash_slot(slot) & mask;; i = (i + 1) & mask) {
      if (buckets_[i] == empty) return;
      if (buckets_[i] == slot) {
        buckets_[i] = deleted;
        --size_;
        return;
      }
    }
  }
  template <class F>
  void for_each(F&& f) const {
    for (std::uint32_t slot : buckets_) if (slot < deleted) f(slot);
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  Traits& traits() noexcept { return traits_; }

 private:
  void place(std::uint32_t slot) {
    const std::size_t mask = buckets_.size() - 1;
    std::size_t i = traits_.hash_slot(slot) & mask;
    while (buckets_[i] < deleted) i = (i + 1) & mask;
    buckets_[i] = slot;
  }
  void grow() {
    std::vector<std::uint32_t> old = std::move(buckets_);
    std::size_t capacity = 16;
    while (capacity * 7 < (size_ + 1) * 20) capacity *= 2;  // about 35 % full after a rehash
    buckets_.assign(capacity, empty);
    for (std::uint32_t slot : old) if (slot < deleted) place(slot);
    used_ = size_;
  }

  Traits traits_;
  std::vector<std::uint32_t> buckets_;
  std::size_t size_ = 0;
  std::size_t used_ = 0;  ///< live + tombstones
};

}  // namespace plexus::presence::detail
