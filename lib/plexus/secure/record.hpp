// Records: the encrypted byte stream of an authenticated connection. Each
// direction has its own key and its own sequence counter; the plaintext of
// consecutive records is one continuous stream of frames (a frame may span
// records, many frames share one record).
//
// Record byte format (little-endian):
//   offset size
//   0      4    body length L = plaintext length + 16 (tag); L <= max + 16
//   4      1    type: 0 = data, 1 = close (orderly end of this direction)
//   5      3    reserved, zero
//   8      8    sequence number, 0 for the first record of the direction
//   16     L    AEAD ciphertext then 16-byte tag
// AEAD nonce = 4 zero bytes || sequence (8 bytes LE); additional data = the
// 16-byte header. The explicit sequence lets the opener name the failure: a
// number below the expected one is a replay, above is a gap (reorder or a
// dropped record), equal but failing the tag is tampering.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "plexus/core/byte_buffer.hpp"
#include "plexus/core/result.hpp"
#include "plexus/secure/aead.hpp"

namespace plexus::secure {

inline constexpr std::size_t record_header_bytes = 16;
inline constexpr std::size_t record_overhead_bytes = record_header_bytes + aead_tag_bytes;
inline constexpr std::size_t default_record_max_bytes = 256 * 1024;

enum class RecordType : std::uint8_t { data = 0, close = 1 };

/// Seals outgoing plaintext into records.
class RecordSealer {
 public:
  RecordSealer(Cipher cipher, const std::uint8_t* key,
               std::size_t record_max_bytes = default_record_max_bytes);

  /// Append `plain` as one or more data records (split at record_max_bytes).
  void seal(std::span<const std::uint8_t> plain, ByteBuffer& out);
  /// Append the close record that ends this direction.
  void seal_close(ByteBuffer& out);
  /// Bytes `seal` appends for `plain_bytes` of plaintext.
  [[nodiscard]] std::size_t sealed_size(std::size_t plain_bytes) const noexcept;
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return sequence_; }

 private:
  void seal_one(std::span<const std::uint8_t> plain, RecordType type, ByteBuffer& out);

  std::unique_ptr<Aead> aead_;
  std::size_t record_max_bytes_;
  std::uint64_t sequence_ = 0;
};

/// Opens incoming records from a byte stream, in order.
class RecordOpener {
 public:
  /// Receives the plaintext of each data record; return false to stop feeding.
  using PlainSink = std::function<bool(std::span<const std::uint8_t>)>;

  RecordOpener(Cipher cipher, const std::uint8_t* key,
               std::size_t record_max_bytes = default_record_max_bytes);

  /// Feed the next chunk of the stream. Errors (each final for the stream):
  /// record_too_large, record_replayed, record_out_of_order, record_tampered.
  Result<void> feed(std::span<const std::uint8_t> chunk, const PlainSink& sink);
  /// The peer sent its close record.
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// Part of a record is buffered (end of stream now means truncation).
  [[nodiscard]] bool mid_record() const noexcept { return !pending_.empty(); }

 private:
  /// Open one record at the front of `bytes`; returns bytes used, 0 if incomplete.
  Result<std::size_t> open_one(std::span<const std::uint8_t> bytes, const PlainSink& sink,
                               bool& keep_going);

  std::unique_ptr<Aead> aead_;
  std::size_t record_max_bytes_;
  std::uint64_t expected_sequence_ = 0;
  bool closed_ = false;
  Error failed_{};
  ByteBuffer pending_;  // a record split across chunks
  ByteBuffer plain_;    // decrypted body of the record being delivered
};

}  // namespace plexus::secure
