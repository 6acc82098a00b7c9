// Helpers shared by the structured fuzz targets: reading a fuzz input as a
// sequence of fields, and cutting a byte stream into fuzz-chosen chunks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace plexus::fuzz {

using ByteSpan = std::span<const std::uint8_t>;

// Reads the input front to back; past the end every byte reads as zero.
class Input {
 public:
  explicit Input(ByteSpan bytes) : rest_(bytes) {}
  std::uint8_t byte() {
    const auto one = take(1);
    return one.empty() ? 0 : one[0];
  }
  ByteSpan take(std::size_t n) {
    const auto taken = rest_.first(std::min(n, rest_.size()));
    rest_ = rest_.subspan(taken.size());
    return taken;
  }
  [[nodiscard]] ByteSpan rest() const { return rest_; }
  [[nodiscard]] bool empty() const { return rest_.empty(); }

 private:
  ByteSpan rest_;
};

// Chunk sizes for successive feeds, cycling through the fuzz-chosen list.
class Chunker {
 public:
  explicit Chunker(ByteSpan sizes)
      : sizes_(sizes), all_zero_(std::all_of(sizes.begin(), sizes.end(), [](auto s) { return s == 0; })) {}
  std::size_t next(std::size_t remaining) {
    if (all_zero_) return remaining;
    return std::min<std::size_t>(sizes_[turn_++ % sizes_.size()], remaining);
  }

 private:
  ByteSpan sizes_;
  bool all_zero_;
  std::size_t turn_ = 0;
};

}  // namespace plexus::fuzz
