// Frame codec, the parts off the hot path: building frames and reassembling a
// frame split across feeds. Byte format (see frame.hpp): u32 little-endian
// body length, then the body; a zero-length body is a tick.
#include "plexus/wire/frame.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <string>

namespace plexus::wire {
namespace {

// A reassembly buffer larger than this is released after its frame is delivered, so that
// one big frame does not pin its memory for the life of an idle connection.
constexpr std::size_t retained_partial_capacity_bytes = 64 * 1024;

}  // namespace

void put_frame_prefix(std::uint8_t* out, std::uint32_t body_len) noexcept {
  out[0] = static_cast<std::uint8_t>(body_len);
  out[1] = static_cast<std::uint8_t>(body_len >> 8);
  out[2] = static_cast<std::uint8_t>(body_len >> 16);
  out[3] = static_cast<std::uint8_t>(body_len >> 24);
}

void append_frame(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> body) {
  assert(body.size() <= std::numeric_limits<std::uint32_t>::max());
  const std::size_t start = out.size();
  out.resize(start + frame_prefix_bytes + body.size());
  put_frame_prefix(out.data() + start, static_cast<std::uint32_t>(body.size()));
  std::copy(body.begin(), body.end(),
            out.begin() + static_cast<std::ptrdiff_t>(start + frame_prefix_bytes));
}

FrameDecoder::FrameDecoder(std::size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

Result<std::size_t> FrameDecoder::fill_partial(std::span<const std::uint8_t> chunk) {
  std::size_t taken = 0;
  if (partial_.size() < frame_prefix_bytes) {
    taken = std::min(frame_prefix_bytes - partial_.size(), chunk.size());
    partial_.insert(partial_.end(), chunk.begin(),
                    chunk.begin() + static_cast<std::ptrdiff_t>(taken));
    if (partial_.size() < frame_prefix_bytes) return taken;
    const std::uint32_t body_len = read_frame_prefix(partial_.data());
    if (body_len > max_frame_bytes_) return poison(body_len);
  }
  const std::size_t frame_bytes = frame_prefix_bytes + read_frame_prefix(partial_.data());
  const std::size_t more = std::min(frame_bytes - partial_.size(), chunk.size() - taken);
  const std::size_t wanted = partial_.size() + more;
  if (wanted > partial_.capacity()) {
    // Grow geometrically for cheap 1-byte feeds, but never past this frame's own size:
    // the buffer stays within frame_prefix_bytes + max_frame_bytes.
    partial_.reserve(std::min(std::max(wanted, 2 * partial_.capacity()), frame_bytes));
  }
  const auto from = chunk.begin() + static_cast<std::ptrdiff_t>(taken);
  partial_.insert(partial_.end(), from, from + static_cast<std::ptrdiff_t>(more));
  return taken + more;
}

bool FrameDecoder::partial_complete() const noexcept {
  return partial_.size() >= frame_prefix_bytes &&
         partial_.size() == frame_prefix_bytes + read_frame_prefix(partial_.data());
}

std::span<const std::uint8_t> FrameDecoder::partial_body() const noexcept {
  return std::span<const std::uint8_t>(partial_).subspan(frame_prefix_bytes);
}

void FrameDecoder::reset_partial() noexcept {
  if (partial_.capacity() > retained_partial_capacity_bytes) {
    partial_ = std::vector<std::uint8_t>();
  } else {
    partial_.clear();
  }
}

void FrameDecoder::stash(std::span<const std::uint8_t> tail) {
  // The caller checked the limit when the tail holds a whole prefix; a shorter tail is < 4 bytes.
  assert(tail.size() < frame_prefix_bytes ||
         tail.size() < frame_prefix_bytes + read_frame_prefix(tail.data()));
  partial_.assign(tail.begin(), tail.end());
}

Error FrameDecoder::poison(std::uint32_t body_len) {
  poisoned_ = true;
  poisoned_body_len_ = body_len;
  partial_ = std::vector<std::uint8_t>();
  return poisoned_error();
}

Error FrameDecoder::poisoned_error() const {
  return make_error(errc::frame_too_large, "frame of " + std::to_string(poisoned_body_len_) +
                                               " bytes exceeds limit " +
                                               std::to_string(max_frame_bytes_));
}

}  // namespace plexus::wire
