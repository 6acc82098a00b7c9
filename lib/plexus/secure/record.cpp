#include "plexus/secure/record.hpp"

#include <algorithm>
#include <cassert>
#include <string>

#include "plexus/core/errors.hpp"
#include "plexus/core/little_endian.hpp"

namespace plexus::secure {
namespace {

struct Header {
  std::uint32_t body_length;
  RecordType type;
  std::uint64_t sequence;
};

void make_nonce(std::uint8_t* nonce, std::uint64_t sequence) {
  std::fill(nonce, nonce + 4, std::uint8_t{0});
  store_le64(nonce + 4, sequence);
}

// Everything that can be checked before the body arrives.
Result<Header> parse_header(const std::uint8_t* at, std::size_t record_max_bytes,
                            std::uint64_t expected_sequence) {
  Header header{load_le32(at), static_cast<RecordType>(at[4]), load_le64(at + 8)};
  if (header.body_length > record_max_bytes + aead_tag_bytes) {
    return make_error(errc::record_too_large,
                      "record body of " + std::to_string(header.body_length) +
                          " bytes exceeds limit " + std::to_string(record_max_bytes + aead_tag_bytes));
  }
  if (header.body_length < aead_tag_bytes || at[4] > 1 || at[5] != 0 || at[6] != 0 || at[7] != 0) {
    return make_error(errc::record_tampered, "malformed record header");
  }
  if (header.sequence < expected_sequence) {
    return make_error(errc::record_replayed, "sequence " + std::to_string(header.sequence) +
                                                 ", expected " + std::to_string(expected_sequence));
  }
  if (header.sequence > expected_sequence) {
    return make_error(errc::record_out_of_order,
                      "sequence " + std::to_string(header.sequence) + ", expected " +
                          std::to_string(expected_sequence) + " (a record is missing or reordered)");
  }
  return header;
}

}  // namespace

RecordSealer::RecordSealer(Cipher cipher, const std::uint8_t* key, std::size_t record_max_bytes)
    : aead_(make_aead(cipher, key)), record_max_bytes_(std::max<std::size_t>(record_max_bytes, 1)) {}

std::size_t RecordSealer::sealed_size(std::size_t plain_bytes) const noexcept {
  const std::size_t records = std::max<std::size_t>(1, (plain_bytes + record_max_bytes_ - 1) / record_max_bytes_);
  return plain_bytes + records * record_overhead_bytes;
}

void RecordSealer::seal(std::span<const std::uint8_t> plain, ByteBuffer& out) {
  out.reserve(out.size() + sealed_size(plain.size()));
  while (!plain.empty()) {
    const auto take = std::min(plain.size(), record_max_bytes_);
    seal_one(plain.first(take), RecordType::data, out);
    plain = plain.subspan(take);
  }
}

void RecordSealer::seal_close(ByteBuffer& out) { seal_one({}, RecordType::close, out); }

void RecordSealer::seal_one(std::span<const std::uint8_t> plain, RecordType type, ByteBuffer& out) {
  std::uint8_t* at = out.extend(record_header_bytes + plain.size() + aead_tag_bytes);
  write_header(at, plain.size(), type);
  std::uint8_t nonce[aead_nonce_bytes];
  make_nonce(nonce, sequence_++);
  aead_->seal(at + record_header_bytes, plain, nonce, {at, record_header_bytes});
}

void RecordSealer::seal_in_place(std::span<std::uint8_t> piece, std::uint8_t* header, std::uint8_t* tag) {
  assert(!piece.empty() && piece.size() <= record_max_bytes_);
  write_header(header, piece.size(), RecordType::data);
  std::uint8_t nonce[aead_nonce_bytes];
  make_nonce(nonce, sequence_++);
  aead_->seal_detached(piece.data(), tag, piece, nonce, {header, record_header_bytes});
}

void RecordSealer::write_header(std::uint8_t* at, std::size_t plain_bytes, RecordType type) const {
  store_le32(at, static_cast<std::uint32_t>(plain_bytes + aead_tag_bytes));
  at[4] = static_cast<std::uint8_t>(type);
  at[5] = at[6] = at[7] = 0;
  store_le64(at + 8, sequence_);
}

RecordOpener::RecordOpener(Cipher cipher, const std::uint8_t* key, std::size_t record_max_bytes)
    : aead_(make_aead(cipher, key)), record_max_bytes_(std::max<std::size_t>(record_max_bytes, 1)) {}

// Room for `plain_bytes` more after what the buffer holds. Nothing held: start
// over at the front. Else the held tail moves to the front only when the
// space after it is too small (a copy of less than one frame).
void RecordOpener::make_room(std::size_t plain_bytes) {
  if (taken_ == plain_.size()) {
    plain_.clear();
    taken_ = verified_ = 0;
  } else if (plain_.capacity() - plain_.size() < plain_bytes && taken_ != 0) {
    moved_bytes_ += plain_.size() - taken_;
    plain_.consume_front(taken_);
    verified_ -= taken_;
    taken_ = 0;
  }
  if (plain_.capacity() - plain_.size() < plain_bytes) {
    moved_bytes_ += plain_.size();  // reserve copies what is held
    plain_.reserve(std::max(plain_.size() + plain_bytes, 2 * plain_.capacity()));
  }
}

// A complete header: check it and get ready for the body.
Result<void> RecordOpener::start_record(const std::uint8_t* header) {
  auto parsed = parse_header(header, record_max_bytes_, expected_sequence_);
  if (!parsed) return parsed.error();
  current_ = {static_cast<std::uint32_t>(parsed->body_length - aead_tag_bytes),
              parsed->type == RecordType::close, parsed->sequence};
  make_room(current_.plain_bytes);
  return {};
}

// A whole record at the front of `bytes` (header checked by start_record):
// open it in one call. Returns the bytes it took.
Result<std::size_t> RecordOpener::open_whole(std::span<const std::uint8_t> bytes) {
  std::uint8_t nonce[aead_nonce_bytes];
  make_nonce(nonce, current_.sequence);
  const std::size_t sealed = current_.plain_bytes + aead_tag_bytes;
  const bool ok = aead_->open(plain_.data() + plain_.size(), bytes.subspan(record_header_bytes, sealed), nonce,
                              bytes.first(record_header_bytes));
  if (ok) plain_.extend(current_.plain_bytes);
  auto done = finish_record(ok);
  if (!done) return done.error();
  return record_header_bytes + sealed;
}

// Decrypt what `bytes` holds of the body; returns the bytes taken.
std::size_t RecordOpener::take_body(std::span<const std::uint8_t> bytes) {
  const std::size_t take = std::min(bytes.size(), body_left_);
  aead_->open_update(plain_.extend(take), bytes.first(take));
  body_left_ -= take;
  if (body_left_ == 0) part_ = Part::tag;
  return take;
}

Result<void> RecordOpener::finish_record(bool tag_ok) {
  part_ = Part::header;
  header_have_ = tag_have_ = 0;
  if (!tag_ok) {
    return make_error(errc::record_tampered,
                      "record " + std::to_string(current_.sequence) + " failed authentication");
  }
  ++expected_sequence_;
  if (current_.close) closed_ = true;
  return {};
}

bool RecordOpener::deliver(const TakingSink& sink) {
  const std::size_t fresh = plain_.size() - verified_;
  verified_ = plain_.size();
  if (fresh == 0) return true;  // a close record, or an empty data record
  const std::size_t took = sink(plain_.span().subspan(taken_, verified_ - taken_));
  if (took == stop) return false;
  assert(took <= verified_ - taken_);
  taken_ += took;
  return true;
}

Result<void> RecordOpener::feed_taking(std::span<const std::uint8_t> chunk, const TakingSink& sink) {
  if (failed_.code) return failed_;
  auto fail = [this](Error error) -> Result<void> { failed_ = error; return error; };
  while (!chunk.empty()) {
    if (part_ == Part::header) {
      if (closed_) return fail(make_error(errc::record_out_of_order, "data after the close record"));
      if (header_have_ == 0 && chunk.size() >= record_header_bytes) {
        if (auto started = start_record(chunk.data()); !started) return fail(started.error());
        if (chunk.size() >= record_header_bytes + current_.plain_bytes + aead_tag_bytes) {
          auto used = open_whole(chunk);  // the whole record is here: one call
          if (!used) return fail(used.error());
          chunk = chunk.subspan(*used);
          if (!deliver(sink)) return {};
          continue;
        }
        std::copy_n(chunk.data(), record_header_bytes, header_);
        chunk = chunk.subspan(record_header_bytes);
      } else {
        const auto take = std::min(chunk.size(), record_header_bytes - header_have_);
        std::copy_n(chunk.data(), take, header_ + header_have_);
        header_have_ += take;
        chunk = chunk.subspan(take);
        if (header_have_ < record_header_bytes) return {};
        if (auto started = start_record(header_); !started) return fail(started.error());
      }
      header_have_ = record_header_bytes;
      std::uint8_t nonce[aead_nonce_bytes];
      make_nonce(nonce, current_.sequence);
      aead_->open_begin(nonce, {header_, record_header_bytes});
      body_left_ = current_.plain_bytes;
      part_ = body_left_ == 0 ? Part::tag : Part::body;
    } else if (part_ == Part::body) {
      chunk = chunk.subspan(take_body(chunk));
    } else {
      const auto take = std::min(chunk.size(), aead_tag_bytes - tag_have_);
      std::copy_n(chunk.data(), take, tag_ + tag_have_);
      tag_have_ += take;
      chunk = chunk.subspan(take);
      if (tag_have_ < aead_tag_bytes) return {};
      if (auto done = finish_record(aead_->open_finish(tag_)); !done) return fail(done.error());
      if (!deliver(sink)) return {};
    }
  }
  return {};
}

Result<void> RecordOpener::feed(std::span<const std::uint8_t> chunk, const PlainSink& sink) {
  return feed_taking(chunk, [&sink](std::span<const std::uint8_t> plain) {
    return sink(plain) ? plain.size() : stop;
  });
}

}  // namespace plexus::secure
