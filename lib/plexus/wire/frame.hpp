// Frame codec: cuts a byte stream into frames and builds frames to send.
//
// Byte format of one frame (all integers little-endian):
//
//   offset 0  u32  body_len   number of body bytes that follow (0 .. max_frame_bytes)
//   offset 4  u8[body_len]    body: one Cap'n Proto message in the standard unpacked
//                             serialization (segment table, then segments; see message.hpp)
//
// Frames follow each other with no padding or delimiter. A frame with body_len 0 is a
// "tick" (heartbeat): legal at this layer, given to the transport, never decoded as a message.
// The decoder rejects a prefix announcing more than max_frame_bytes before any of that body
// is buffered, so a peer cannot make it allocate more than frame_prefix_bytes + max_frame_bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "plexus/core/errors.hpp"
#include "plexus/core/result.hpp"

namespace plexus::wire {

/// Size of the length prefix in front of every frame body.
inline constexpr std::size_t frame_prefix_bytes = 4;
/// Default largest accepted body (16 MiB).
inline constexpr std::size_t default_max_frame_bytes = 16 * 1024 * 1024;

/// Write the 4-byte little-endian prefix for a body of `body_len` bytes to `out[0..3]`.
void put_frame_prefix(std::uint8_t* out, std::uint32_t body_len) noexcept;

/// Read a 4-byte little-endian prefix from `in[0..3]`.
inline std::uint32_t read_frame_prefix(const std::uint8_t* in) noexcept {
  // Byte by byte so it is right on any host; compilers turn this into one load.
  return static_cast<std::uint32_t>(in[0]) | static_cast<std::uint32_t>(in[1]) << 8 |
         static_cast<std::uint32_t>(in[2]) << 16 | static_cast<std::uint32_t>(in[3]) << 24;
}

/// Append prefix + `body` to `out`. Precondition: body.size() fits in 32 bits.
void append_frame(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> body);

/// Streaming decoder of a byte stream into frame bodies (sans-IO: bytes in, bodies out).
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame_bytes = default_max_frame_bytes);

  /// Feed the next chunk of the stream; calls `on_frame(std::span<const std::uint8_t> body)` for
  /// each complete frame, in order. The span is valid only during the call. Frames wholly inside
  /// `chunk` are passed straight from `chunk`; only a frame split across feeds is reassembled in
  /// an internal buffer. `on_frame` may return void, or bool: false stops at once and `feed`
  /// returns ok; the rest of `chunk` is dropped and the decoder is back at a frame boundary
  /// (stopping is for ending the stream: goodbye, handler error).
  /// A prefix above max_frame_bytes returns errc::frame_too_large and poisons the decoder:
  /// every later feed returns the same error.
  template <class OnFrame>
  Result<void> feed(std::span<const std::uint8_t> chunk, OnFrame&& on_frame);

  /// What cut() did: the bytes its whole frames took, and whether on_frame said stop.
  struct Cut {
    std::size_t used = 0;
    bool stopped = false;
  };
  /// Hand out every whole frame at the front of `bytes`, straight from `bytes`, and buffer
  /// nothing: the caller keeps the rest (an incomplete frame) and offers it again, with the
  /// bytes that follow it appended, in the next call. For a caller that owns a contiguous
  /// buffer (the record opener decrypts into one), so that no frame is ever reassembled.
  /// `bytes` starts at a frame boundary; do not mix with feed() while mid_frame(). Stopping
  /// is as in feed (`stopped`, and `used` counts the frame that stopped). A prefix above
  /// max_frame_bytes, in a whole frame or in the rest, poisons the decoder as in feed, so
  /// the caller never holds more than frame_prefix_bytes + max_frame_bytes.
  template <class OnFrame>
  Result<Cut> cut(std::span<const std::uint8_t> bytes, OnFrame&& on_frame);

  /// A partial frame (or partial prefix) is buffered: end of stream now is a truncation.
  [[nodiscard]] bool mid_frame() const noexcept { return !partial_.empty(); }
  /// Bytes of the partial frame held, prefix included.
  [[nodiscard]] std::size_t buffered_bytes() const noexcept { return partial_.size(); }
  [[nodiscard]] std::size_t max_frame_bytes() const noexcept { return max_frame_bytes_; }

 private:
  // Call the handler; false means "stop".
  template <class OnFrame>
  static bool deliver(OnFrame& on_frame, std::span<const std::uint8_t> body);

  // Move bytes from the front of `chunk` into the partial frame; returns how many were taken,
  // or the too-large error once the prefix is complete. partial_complete() tells the rest.
  Result<std::size_t> fill_partial(std::span<const std::uint8_t> chunk);
  [[nodiscard]] bool partial_complete() const noexcept;
  [[nodiscard]] std::span<const std::uint8_t> partial_body() const noexcept;
  void reset_partial() noexcept;
  // Keep the incomplete tail of a chunk (shorter than its frame, so within the limit).
  void stash(std::span<const std::uint8_t> tail);
  Error poison(std::uint32_t body_len);
  [[nodiscard]] Error poisoned_error() const;

  std::size_t max_frame_bytes_;
  std::vector<std::uint8_t> partial_;  // prefix + the body bytes received so far
  bool poisoned_ = false;
  std::uint32_t poisoned_body_len_ = 0;
};

template <class OnFrame>
bool FrameDecoder::deliver(OnFrame& on_frame, std::span<const std::uint8_t> body) {
  using Returned = std::invoke_result_t<OnFrame&, std::span<const std::uint8_t>>;
  if constexpr (std::is_void_v<Returned>) {
    on_frame(body);
    return true;
  } else {
    static_assert(std::is_convertible_v<Returned, bool>, "on_frame must return void or bool");
    return static_cast<bool>(on_frame(body));
  }
}

template <class OnFrame>
Result<void> FrameDecoder::feed(std::span<const std::uint8_t> chunk, OnFrame&& on_frame) {
  if (poisoned_) return poisoned_error();
  if (!partial_.empty()) {
    auto taken = fill_partial(chunk);
    if (!taken.ok()) return taken.error();
    chunk = chunk.subspan(*taken);
    if (!partial_complete()) return {};
    const bool go_on = deliver(on_frame, partial_body());
    reset_partial();
    if (!go_on) return {};
  }
  // Hot path: frames wholly inside the chunk go out without a copy.
  const std::uint8_t* at = chunk.data();
  std::size_t left = chunk.size();
  while (left >= frame_prefix_bytes) {
    const std::uint32_t body_len = read_frame_prefix(at);
    if (body_len > max_frame_bytes_) return poison(body_len);
    if (left - frame_prefix_bytes < body_len) break;
    const std::span<const std::uint8_t> body(at + frame_prefix_bytes, body_len);
    at += frame_prefix_bytes + body_len;
    left -= frame_prefix_bytes + body_len;
    if (!deliver(on_frame, body)) return {};
  }
  if (left != 0) stash({at, left});
  return {};
}

template <class OnFrame>
Result<FrameDecoder::Cut> FrameDecoder::cut(std::span<const std::uint8_t> bytes, OnFrame&& on_frame) {
  if (poisoned_) return poisoned_error();
  Cut done;
  while (bytes.size() - done.used >= frame_prefix_bytes) {
    const std::uint32_t body_len = read_frame_prefix(bytes.data() + done.used);
    if (body_len > max_frame_bytes_) return poison(body_len);
    if (bytes.size() - done.used - frame_prefix_bytes < body_len) break;
    const auto body = bytes.subspan(done.used + frame_prefix_bytes, body_len);
    done.used += frame_prefix_bytes + body_len;
    if (!deliver(on_frame, body)) {
      done.stopped = true;
      break;
    }
  }
  return done;
}

}  // namespace plexus::wire
