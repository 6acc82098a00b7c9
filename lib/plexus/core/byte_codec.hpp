// A byte writer and a bounds-checked reader for small binary messages
// (registry digests and entries): little-endian integers of 1..8 bytes, a
// big-endian u64 where order must follow memcmp, and length-prefixed text.
// The reader takes untrusted bytes: any overrun latches failed(), yields
// zeros and empty strings, and never reads past the end.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace plexus {

class ByteWriter {
 public:
  ByteWriter() = default;
  /// Starts a message with its kind byte and a 4-byte item count.
  ByteWriter(std::uint8_t kind, std::size_t count) {
    bytes_.push_back(kind);
    little(count, 4);
  }
  /// The low `width` bytes of `value`, least significant first.
  void little(std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i, value >>= 8) bytes_.push_back(static_cast<std::uint8_t>(value & 0xffU));
  }
  /// All 8 bytes of `value`, most significant first.
  void big(std::uint64_t value) {
    for (int i = 7; i >= 0; --i) bytes_.push_back(static_cast<std::uint8_t>((value >> (8 * i)) & 0xffU));
  }
  /// A 4-byte length, then the bytes.
  void text(std::string_view value) {
    little(value.size(), 4);
    bytes_.insert(bytes_.end(), value.begin(), value.end());
  }
  std::vector<std::uint8_t> done() { return std::move(bytes_); }
  std::string done_string() { return {bytes_.begin(), bytes_.end()}; }

 private:
  std::vector<std::uint8_t> bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::uint64_t little(int width) {
    if (bytes_.size() - at_ < static_cast<std::size_t>(width)) return fail();
    std::uint64_t value = 0;
    for (int i = 0; i < width; ++i) value |= std::uint64_t{bytes_[at_ + i]} << (8 * i);
    at_ += width;
    return value;
  }
  std::uint64_t big() {
    if (bytes_.size() - at_ < 8) return fail();
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | bytes_[at_ + i];
    at_ += 8;
    return value;
  }
  std::string text() {
    const std::uint64_t size = little(4);
    if (failed_ || bytes_.size() - at_ < size) {
      fail();
      return {};
    }
    std::string out(reinterpret_cast<const char*>(bytes_.data() + at_), size);
    at_ += size;
    return out;
  }
  /// Every byte read and no overrun.
  [[nodiscard]] bool ok() const { return !failed_ && at_ == bytes_.size(); }
  [[nodiscard]] bool failed() const { return failed_; }

 private:
  std::uint64_t fail() {
    failed_ = true;
    at_ = bytes_.size();
    return 0;
  }
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
  bool failed_ = false;
};

}  // namespace plexus
