// Outbox: frames waiting to be written, packed back to back into chunks so
// that the writer seals many frames as one record and sends them with one
// write. Bounded in bytes and in frames. Internal to plexus::transport.
#pragma once

#include <deque>
#include <vector>

#include "plexus/core/byte_buffer.hpp"
#include "plexus/core/little_endian.hpp"

namespace plexus::transport {

class Outbox {
 public:
  Outbox(std::size_t chunk_bytes, std::size_t max_bytes, std::size_t max_frames)
      : chunk_bytes_(chunk_bytes), max_bytes_(max_bytes), max_frames_(max_frames) {}

  [[nodiscard]] bool fits(std::size_t body_bytes) const noexcept {
    return bytes_ + 4 + body_bytes <= max_bytes_ && frames_ < max_frames_;
  }
  /// Append a frame prefix and room for the body; returns where the body goes.
  std::uint8_t* append_frame(std::size_t body_bytes) {
    const std::size_t total = 4 + body_bytes;
    if (chunks_.empty() || chunks_.back().bytes.size() + total > chunks_.back().bytes.capacity()) {
      chunks_.push_back(Chunk{fresh_chunk(total), 0});
    }
    std::uint8_t* at = chunks_.back().bytes.extend(total);
    ++chunks_.back().frames;
    store_le32(at, static_cast<std::uint32_t>(body_bytes));
    bytes_ += total;
    ++frames_;
    return at + 4;
  }
  /// Move whole chunks, at least one, up to about max_bytes, into `out`.
  void take(std::size_t max_bytes, std::vector<ByteBuffer>& out) {
    std::size_t taken = 0;
    const std::size_t first = out.size();
    while (!chunks_.empty() &&
           (out.size() == first || taken + chunks_.front().bytes.size() <= max_bytes)) {
      taken += chunks_.front().bytes.size();
      frames_ -= chunks_.front().frames;
      out.push_back(std::move(chunks_.front().bytes));
      chunks_.pop_front();
    }
    bytes_ -= taken;
  }
  /// Give back a written chunk for reuse.
  void recycle(ByteBuffer&& chunk) {
    if (chunk.capacity() == chunk_bytes_ && spare_.size() < 4) {
      chunk.clear();
      spare_.push_back(std::move(chunk));
    }
  }
  [[nodiscard]] bool empty() const noexcept { return chunks_.empty(); }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::size_t frames() const noexcept { return frames_; }

 private:
  ByteBuffer fresh_chunk(std::size_t at_least) {
    if (at_least <= chunk_bytes_ && !spare_.empty()) {
      ByteBuffer chunk = std::move(spare_.back());
      spare_.pop_back();
      return chunk;
    }
    return ByteBuffer(std::max(at_least, chunk_bytes_));
  }

  std::size_t chunk_bytes_, max_bytes_, max_frames_;
  struct Chunk {
    ByteBuffer bytes;
    std::size_t frames;
  };
  std::deque<Chunk> chunks_;
  std::vector<ByteBuffer> spare_;
  std::size_t bytes_ = 0;
  std::size_t frames_ = 0;
};

}  // namespace plexus::transport
