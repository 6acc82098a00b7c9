// Tests of decode() on hostile input: garbage, truncation, corruption, and hand-built
// messages that attack the nesting and traversal limits. Every input must give a value or
// an error, never a crash or an escaped exception.
//
// Raw messages are built word by word in Cap'n Proto's encoding (little-endian u64 words):
//   struct pointer: bits 0-1 = 0, bits 2-31 signed offset in words from the pointer's end,
//                   bits 32-47 data words, bits 48-63 pointer count
//   list pointer:   bits 0-1 = 1, bits 2-31 offset, bits 32-34 element size, bits 35-63 count
//                   (element size 0 = void, 2 = byte, 7 = inline composite with a tag word)
#include <doctest/doctest.h>

#include <ostream>  // doctest prints std::error_code through it
#include <random>
#include <string>
#include <vector>

#include "plexus/wire/message.hpp"

namespace wire = plexus::wire;
using Bytes = std::vector<std::uint8_t>;
using plexus::errc;

namespace {

std::uint64_t struct_pointer(std::int32_t offset, std::uint16_t data_words,
                             std::uint16_t pointers) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(offset) << 2) & 0xffffffffU) |
         std::uint64_t{data_words} << 32 | std::uint64_t{pointers} << 48;
}

std::uint64_t list_pointer(std::int32_t offset, unsigned element_size, std::uint64_t count) {
  return 1 | (static_cast<std::uint64_t>(static_cast<std::uint32_t>(offset) << 2) & 0xffffffffU) |
         std::uint64_t{element_size} << 32 | count << 35;
}

// A single-segment body holding `words`.
Bytes message(const std::vector<std::uint64_t>& words) {
  Bytes body(8 + 8 * words.size());
  wire::put_frame_prefix(body.data(), 0);
  wire::put_frame_prefix(body.data() + 4, static_cast<std::uint32_t>(words.size()));
  for (std::size_t i = 0; i < words.size(); ++i) {
    for (std::size_t b = 0; b < 8; ++b)
      body[8 + 8 * i + b] = static_cast<std::uint8_t>(words[i] >> (8 * b));
  }
  return body;
}

// Append a chain of `depth` structs, each holding one pointer to the next.
void append_chain(std::vector<std::uint64_t>& words, std::size_t depth) {
  for (std::size_t i = 0; i < depth; ++i) words.push_back(struct_pointer(0, 0, 1));
  words.push_back(0);
}

void check_rejected(const Bytes& body, const std::string& detail_part) {
  auto decoded = wire::decode(body);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == errc::malformed_message);
  CHECK_MESSAGE(decoded.error().detail.find(detail_part) != std::string::npos,
                decoded.error().detail);
}

// decode() must answer; a value or one of the two documented errors.
void check_answers(std::span<const std::uint8_t> body) {
  auto decoded = wire::decode(body);
  if (!decoded.ok()) {
    CHECK((decoded.error().code == errc::malformed_message ||
           decoded.error().code == errc::frame_too_large));
  }
}

}  // namespace

TEST_CASE("random garbage gives an error or a value, never a crash") {
  // Proves decode's robustness on random bytes, with and without a plausible segment table.
  std::mt19937 rng(2024);
  for (int round = 0; round < 20000; ++round) {
    Bytes body(rng() % 2 == 0 ? 8 * (rng() % 40) : rng() % 300);
    for (auto& b : body) b = static_cast<std::uint8_t>(rng());
    if (body.size() >= 8 && rng() % 2 == 0) {  // a valid table so Cap'n Proto reads the words
      wire::put_frame_prefix(body.data(), 0);
      wire::put_frame_prefix(body.data() + 4, static_cast<std::uint32_t>(body.size() / 8 - 1));
    }
    check_answers(body);
  }
}

TEST_CASE("every strict prefix of a valid message is rejected") {
  // Proves truncated messages are malformed, whichever byte the cut falls on.
  for (const wire::Envelope& sent :
       {wire::Envelope{wire::Data{Bytes(100, 9)}}, wire::Envelope{wire::Goodbye{"going away"}}}) {
    const Bytes body = wire::encode(sent);
    for (std::size_t cut = 0; cut < body.size(); ++cut) {
      CAPTURE(cut);
      auto decoded = wire::decode({body.data(), cut});
      REQUIRE_FALSE(decoded.ok());
      CHECK(decoded.error().code == errc::malformed_message);
    }
  }
}

TEST_CASE("a valid message with any byte corrupted gives an error or a value") {
  // Proves corruption anywhere (table, pointers, tag, payload) never crashes decode.
  for (const wire::Envelope& sent :
       {wire::Envelope{wire::Data{Bytes(40, 3)}}, wire::Envelope{wire::Goodbye{"reason"}}}) {
    const Bytes body = wire::encode(sent);
    for (std::size_t i = 0; i < body.size(); ++i) {
      for (std::uint8_t mask : {0x01, 0x02, 0x10, 0x80, 0xff}) {
        Bytes corrupt = body;
        corrupt[i] ^= mask;
        check_answers(corrupt);
      }
    }
  }
}

TEST_CASE("a 1000-deep chain of struct pointers exceeds the nesting limit") {
  // Proves the nesting limit (64) rejects deep messages with malformed_message.
  std::vector<std::uint64_t> words;
  append_chain(words, 1000);
  check_rejected(message(words), "deeply-nested");
}

TEST_CASE("limits also apply to pointers the typed read never visits") {
  // Proves the full walk before the typed read: an Envelope with valid data plus an extra
  // pointer field (as from a newer schema) that hides a deep chain or an amplified list.
  // Root Envelope: 1 data word (kind 0 = data), 2 pointers: [0] 8 bytes of data, [1] the attack.
  const std::vector<std::uint64_t> head{struct_pointer(0, 1, 2), 0, list_pointer(1, 2, 8),
                                        struct_pointer(1, 0, 1), 0x0807060504030201};
  auto honest = head;
  honest[3] = 0;  // no attack: a null extra pointer
  auto decoded = wire::decode(message(honest));
  REQUIRE_MESSAGE(decoded.ok(), decoded.error().message());
  CHECK(std::get<wire::Data>(*decoded).payload == Bytes{1, 2, 3, 4, 5, 6, 7, 8});

  auto deep = head;  // [1] points past the data word to a 100-deep chain
  append_chain(deep, 100);
  check_rejected(message(deep), "deeply-nested");

  auto amplified = head;
  amplified[3] = list_pointer(1, 0, (std::uint64_t{1} << 29) - 1);  // 2^29 - 1 voids, no data
  check_rejected(message(amplified), "traversal limit");
}

TEST_CASE("a list claiming 2^29 - 1 elements with no data exceeds the traversal limit") {
  // Proves amplification by lists of void and of empty structs is charged per element and
  // rejected, although the message is a few words long.
  const std::vector<std::uint64_t> voids{struct_pointer(0, 0, 1),
                                         list_pointer(0, 0, (1U << 29) - 1)};
  check_rejected(message(voids), "traversal limit");
  // Inline composite: a zero-word list whose tag claims 2^30 - 1 elements of 0 words.
  const std::vector<std::uint64_t> empty_structs{struct_pointer(0, 0, 1), list_pointer(0, 7, 0),
                                                 struct_pointer((1 << 30) - 1, 0, 0)};
  check_rejected(message(empty_structs), "traversal limit");
}

TEST_CASE("many pointers to one shared list exceed the traversal limit") {
  // Proves amplification by repeated pointers is rejected: 256 pointers share one 256-word byte
  // list (a 514-word message that reads as 65 792 words), while the same shape with a single
  // pointer decodes.
  const auto build = [](std::uint16_t pointers) {
    const std::uint32_t blob_words = 256;
    std::vector<std::uint64_t> words{struct_pointer(0, 0, pointers)};
    for (std::uint16_t j = 0; j < pointers; ++j) {
      words.push_back(list_pointer(pointers - 1 - j, 2, blob_words * 8));
    }
    words.resize(words.size() + blob_words, 0x5a5a5a5a5a5a5a5a);
    return message(words);
  };
  check_rejected(build(256), "traversal limit");
  auto single = wire::decode(build(1));
  REQUIRE_MESSAGE(single.ok(), single.error().message());
  CHECK(std::get<wire::Data>(*single).payload == Bytes(2048, 0x5a));
}

TEST_CASE("unknown kinds, huge segment counts and structural faults are malformed") {
  // Proves the remaining rejections: a union kind this build does not know, a segment table
  // claiming 2^32 segments, a root that is not a struct, and an out-of-bounds pointer.
  check_rejected(message({struct_pointer(0, 1, 1), 100, 0}), "unknown envelope kind 100");
  Bytes many = message({0});
  wire::put_frame_prefix(many.data(), 0xffffffff);
  check_rejected(many, "segments, limit 512");
  check_rejected(message({list_pointer(0, 2, 0)}), "non-struct pointer");
  check_rejected(message({struct_pointer(0, 1, 1), 0, list_pointer(0, 2, 64)}), "out-of-bounds");
}
