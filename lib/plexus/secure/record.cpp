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
  store_le32(at, static_cast<std::uint32_t>(plain.size() + aead_tag_bytes));
  at[4] = static_cast<std::uint8_t>(type);
  at[5] = at[6] = at[7] = 0;
  store_le64(at + 8, sequence_);
  std::uint8_t nonce[aead_nonce_bytes];
  make_nonce(nonce, sequence_++);
  aead_->seal(at + record_header_bytes, plain, nonce, {at, record_header_bytes});
}

RecordOpener::RecordOpener(Cipher cipher, const std::uint8_t* key, std::size_t record_max_bytes)
    : aead_(make_aead(cipher, key)), record_max_bytes_(std::max<std::size_t>(record_max_bytes, 1)) {}

Result<std::size_t> RecordOpener::open_one(std::span<const std::uint8_t> bytes,
                                           const PlainSink& sink, bool& keep_going) {
  if (bytes.size() < record_header_bytes) return std::size_t{0};
  auto header = parse_header(bytes.data(), record_max_bytes_, expected_sequence_);
  if (!header) return header.error();
  const std::size_t total = record_header_bytes + header->body_length;
  if (bytes.size() < total) return std::size_t{0};
  std::uint8_t nonce[aead_nonce_bytes];
  make_nonce(nonce, header->sequence);
  plain_.clear();
  std::uint8_t* out = plain_.extend(header->body_length - aead_tag_bytes);
  if (!aead_->open(out, bytes.subspan(record_header_bytes, header->body_length), nonce,
                   bytes.first(record_header_bytes))) {
    return make_error(errc::record_tampered,
                      "record " + std::to_string(header->sequence) + " failed authentication");
  }
  ++expected_sequence_;
  if (header->type == RecordType::close) {
    closed_ = true;
  } else if (!plain_.empty()) {
    keep_going = sink(plain_.span());
  }
  return total;
}

Result<void> RecordOpener::feed(std::span<const std::uint8_t> chunk, const PlainSink& sink) {
  if (failed_.code) return failed_;
  auto fail = [this](Error error) -> Result<void> { failed_ = error; return error; };
  bool keep_going = true;
  if (!pending_.empty()) {
    // Complete the header first, then exactly the record it announces.
    std::size_t want = record_header_bytes;
    if (pending_.size() >= record_header_bytes) want += load_le32(pending_.data());
    else {
      const auto take = std::min(chunk.size(), record_header_bytes - pending_.size());
      pending_.append(chunk.first(take));
      chunk = chunk.subspan(take);
      if (pending_.size() < record_header_bytes) return {};
      auto header = parse_header(pending_.data(), record_max_bytes_, expected_sequence_);
      if (!header) return fail(header.error());
      want += header->body_length;
    }
    const auto take = std::min(chunk.size(), want - pending_.size());
    pending_.append(chunk.first(take));
    chunk = chunk.subspan(take);
    if (pending_.size() < want) return {};
    auto used = open_one(pending_.span(), sink, keep_going);
    if (!used) return fail(used.error());
    pending_.clear();
  }
  while (keep_going && !chunk.empty()) {
    if (closed_) return fail(make_error(errc::record_out_of_order, "data after the close record"));
    auto used = open_one(chunk, sink, keep_going);
    if (!used) return fail(used.error());
    if (*used == 0) {
      pending_.append(chunk);  // bounded: open_one checked the announced length
      return {};
    }
    chunk = chunk.subspan(*used);
  }
  return {};
}

}  // namespace plexus::secure
