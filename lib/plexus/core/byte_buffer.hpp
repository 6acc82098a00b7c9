// ByteBuffer: a growable byte array that does not zero what it grows into.
// Hot paths (outbox chunks, sealed records, read buffers) write every byte
// they claim, so std::vector's value-initialisation would be pure cost.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace plexus {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  explicit ByteBuffer(std::size_t capacity) { reserve(capacity); }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::uint8_t* data() noexcept { return data_.get(); }
  [[nodiscard]] const std::uint8_t* data() const noexcept { return data_.get(); }
  [[nodiscard]] std::span<const std::uint8_t> span() const noexcept { return {data_.get(), size_}; }

  void clear() noexcept { size_ = 0; }

  void reserve(std::size_t capacity) {
    if (capacity <= capacity_) return;
    auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
    if (size_ != 0) std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = capacity;
  }

  /// Grow by n bytes (uninitialised) and return a pointer to them.
  std::uint8_t* extend(std::size_t n) {
    if (size_ + n > capacity_) reserve(std::max(size_ + n, capacity_ * 2));
    std::uint8_t* at = data_.get() + size_;
    size_ += n;
    return at;
  }

  void append(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return;
    std::memcpy(extend(bytes.size()), bytes.data(), bytes.size());
  }

  /// Drop the first n bytes, keeping the rest at the front.
  void consume_front(std::size_t n) noexcept {
    if (n >= size_) { size_ = 0; return; }
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
  }

  void shrink(std::size_t new_size) noexcept {
    if (new_size < size_) size_ = new_size;
  }

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace plexus
