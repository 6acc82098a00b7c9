// Typed wire messages: the Envelope kinds of plexus.capnp as plain C++ values,
// encoded to and decoded from frame bodies under explicit limits.
//
// Byte format of a body (Cap'n Proto standard unpacked serialization, little-endian):
//
//   u32 segment_count - 1
//   u32 segment_size_words[segment_count]
//   u32 padding (present when segment_count is even) so segments start 8-byte aligned
//   u64 words of segment 0, segment 1, ...     segment 0 word 0 = root pointer to Envelope
//
// so a body is always a whole number of 8-byte words, at least 16 bytes for an Envelope;
// encode() writes one segment. decode() accepts any valid segmentation, but no bytes after the
// last segment. Decoding order, per ARCHITECTURE.md section 1.4: size limit, then the whole
// message is walked under Cap'n Proto's nesting and traversal limits, then the typed read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "plexus/core/errors.hpp"
#include "plexus/core/result.hpp"
#include "plexus/wire/frame.hpp"
#include "plexus/wire/peer_messages.hpp"

namespace plexus::wire {

/// Bounds applied by decode() to one untrusted body.
struct Limits {
  /// Largest accepted body; larger is errc::frame_too_large.
  std::size_t max_frame_bytes = default_max_frame_bytes;
  /// Deepest pointer chain accepted (Cap'n Proto nesting limit); capped at max_nesting_limit.
  unsigned nesting_limit = 64;

  /// Cap'n Proto traversal limit, in words, for a body of `body_bytes`:
  ///   min(2 * body_words + 64, max_frame_bytes / 8 * 2),   body_words = body_bytes / 8.
  /// decode() reads every word of an honest message twice (the full walk, then the typed read),
  /// hence 2x; the 64 words are slack for far-pointer landing pads. Anything that reads more is
  /// amplification (pointers sharing data, lists of void or of empty structs claiming huge
  /// counts) and is rejected as errc::malformed_message. The result does not depend on any
  /// field but max_frame_bytes, so a tiny max_frame_bytes (< 64) also rejects honest messages.
  [[nodiscard]] std::uint64_t traversal_limit_words(std::size_t body_bytes) const noexcept;
};

/// Hard ceiling on Limits::nesting_limit: decode() recurses once per level.
inline constexpr unsigned max_nesting_limit = 1024;

/// Most segments accepted in one body (Cap'n Proto's stream reader uses the same bound).
inline constexpr std::size_t max_message_segments = 512;

/// Opaque application payload.
struct Data {
  std::vector<std::uint8_t> payload;
  friend bool operator==(const Data&, const Data&) = default;
};

/// Orderly close with a human-readable reason.
struct Goodbye {
  std::string reason;
  friend bool operator==(const Goodbye&, const Goodbye&) = default;
};

/// One message, as carried in a frame body. Grows with plexus.capnp's Envelope union.
using Envelope = std::variant<Data, Goodbye, Attach, Gossip, Heartbeat, Message, Ack, Leave>;

/// Encode to body bytes (no prefix), a single-segment message.
/// Precondition: a payload or reason shorter than 2^29 - 8 bytes (Cap'n Proto's list bound).
[[nodiscard]] std::vector<std::uint8_t> encode(const Envelope& envelope);

/// Encode Envelope{message} with `payload` as its payload, without copying the
/// payload into the message first. Precondition: message.payload is empty.
[[nodiscard]] std::vector<std::uint8_t> encode(const Message& message, std::span<const std::uint8_t> payload);

/// The body size of encode(message, payload) when it can be written straight
/// into a buffer of that size by encode_in_place (a plain message: no relay
/// path, no causal stamp); 0 when it cannot.
[[nodiscard]] std::size_t encoded_bytes_in_place(const Message& message, std::span<const std::uint8_t> payload);
/// Write encode(message, payload) into `out`, every byte of it; `out` has
/// exactly encoded_bytes_in_place(message, payload) bytes (not 0).
void encode_in_place(std::span<std::uint8_t> out, const Message& message, std::span<const std::uint8_t> payload);

/// Append prefix + encoded body to `out` (the same preconditions as encode()).
void append_encoded_frame(std::vector<std::uint8_t>& out, const Envelope& envelope);

/// Decode one untrusted body. Never throws for any input (memory exhaustion aside): it returns a
/// value, errc::frame_too_large (body above limits.max_frame_bytes) or errc::malformed_message
/// (empty, not a whole number of words, more than max_message_segments segments, bad structure,
/// limits exceeded, unknown kind, trailing bytes), with Cap'n Proto's own description as the
/// detail when Cap'n Proto found the fault.
[[nodiscard]] Result<Envelope> decode(std::span<const std::uint8_t> body,
                                      const Limits& limits = {});

}  // namespace plexus::wire
