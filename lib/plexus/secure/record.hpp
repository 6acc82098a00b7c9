// Records: the encrypted byte stream of an authenticated connection. Each
// direction has its own key and its own sequence counter; the plaintext of
// consecutive records is one continuous stream of frames (a frame may span
// records, many frames share one record; the transport's sealer ends a record
// at a frame boundary unless a frame is larger than a record).
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
  /// Seal `piece` (at most record_max_bytes) as one data record in place:
  /// its ciphertext overwrites it, the record's header goes to `header`
  /// (record_header_bytes) and its tag to `tag` (aead_tag_bytes). On the
  /// wire the record is header, piece, tag: the caller writes them gathered.
  void seal_in_place(std::span<std::uint8_t> piece, std::uint8_t* header, std::uint8_t* tag);
  [[nodiscard]] std::size_t record_max_bytes() const noexcept { return record_max_bytes_; }
  /// Append the close record that ends this direction.
  void seal_close(ByteBuffer& out);
  /// Bytes `seal` appends for `plain_bytes` of plaintext.
  [[nodiscard]] std::size_t sealed_size(std::size_t plain_bytes) const noexcept;
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return sequence_; }

 private:
  void seal_one(std::span<const std::uint8_t> plain, RecordType type, ByteBuffer& out);
  void write_header(std::uint8_t* at, std::size_t plain_bytes, RecordType type) const;

  std::unique_ptr<Aead> aead_;
  std::size_t record_max_bytes_;
  std::uint64_t sequence_ = 0;
};

/// Opens incoming records from a byte stream, in order.
///
/// Each record is decrypted as its ciphertext arrives, straight into one
/// plaintext buffer, so a record split across reads is never copied whole
/// (only its 16-byte header and tag may be gathered). With feed_taking, the
/// plaintext the sink leaves (an incomplete frame) stays in that buffer and
/// the next record's plaintext is decrypted right after it: a frame that
/// spans records arrives in one piece, without reassembly.
class RecordOpener {
 public:
  /// Receives the plaintext of each data record; return false to stop feeding.
  using PlainSink = std::function<bool(std::span<const std::uint8_t>)>;
  /// Receives the authenticated plaintext not taken yet: what it left last
  /// time followed by the record just opened, contiguous. Returns how many
  /// bytes it took from the front (the rest is offered again, the next
  /// record's plaintext after it), or `stop` to stop feeding. What it leaves
  /// is held until taken, so the sink bounds it (a frame decoder leaves at
  /// most one incomplete frame and refuses an oversized prefix).
  using TakingSink = std::function<std::size_t(std::span<const std::uint8_t>)>;
  static constexpr std::size_t stop = static_cast<std::size_t>(-1);

  RecordOpener(Cipher cipher, const std::uint8_t* key,
               std::size_t record_max_bytes = default_record_max_bytes);

  /// Feed the next chunk of the stream. Errors (each final for the stream):
  /// record_too_large, record_replayed, record_out_of_order, record_tampered.
  Result<void> feed(std::span<const std::uint8_t> chunk, const PlainSink& sink);
  /// The same, with a sink that may leave bytes for later (see TakingSink).
  Result<void> feed_taking(std::span<const std::uint8_t> chunk, const TakingSink& sink);
  /// The peer sent its close record.
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// Part of a record is buffered (end of stream now means truncation).
  [[nodiscard]] bool mid_record() const noexcept { return part_ != Part::header || header_have_ != 0; }
  /// Authenticated plaintext a TakingSink left (an incomplete frame).
  [[nodiscard]] std::size_t held_bytes() const noexcept { return verified_ - taken_; }
  /// Plaintext bytes moved to the front of the buffer so far, to make room
  /// (a held tail before a record too large for the space after it): the
  /// only copies the opener makes beyond header and tag bytes.
  [[nodiscard]] std::uint64_t moved_bytes() const noexcept { return moved_bytes_; }

 private:
  enum class Part : std::uint8_t { header, body, tag };
  struct Current {
    std::uint32_t plain_bytes = 0;
    bool close = false;
    std::uint64_t sequence = 0;
  };

  Result<void> start_record(const std::uint8_t* header);
  void make_room(std::size_t plain_bytes);
  Result<std::size_t> open_whole(std::span<const std::uint8_t> bytes);
  std::size_t take_body(std::span<const std::uint8_t> bytes);
  Result<void> finish_record(bool tag_ok);
  // After a record authenticated: offer the plaintext; false when told to stop.
  bool deliver(const TakingSink& sink);

  std::unique_ptr<Aead> aead_;
  std::size_t record_max_bytes_;
  std::uint64_t expected_sequence_ = 0;
  bool closed_ = false;
  Error failed_{};
  // The current record: which part is arriving, its header and tag as far
  // as they came, and how much ciphertext of its body is still to come.
  Part part_ = Part::header;
  std::uint8_t header_[record_header_bytes]{};
  std::size_t header_have_ = 0;
  std::uint8_t tag_[aead_tag_bytes]{};
  std::size_t tag_have_ = 0;
  std::size_t body_left_ = 0;
  Current current_;
  // Plaintext: [taken_, verified_) authenticated and offered, not taken;
  // [verified_, size) the current record's, not yet authenticated.
  ByteBuffer plain_;
  std::size_t taken_ = 0;
  std::size_t verified_ = 0;
  std::uint64_t moved_bytes_ = 0;
};

}  // namespace plexus::secure
