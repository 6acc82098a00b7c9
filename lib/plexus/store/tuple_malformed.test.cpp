// unpack() on malformed input: Java's malformedSequences and more, each with
// the error code and the byte offset the detail must name.
#include "plexus/store/errors.hpp"
#include "plexus/store/tuple_test_support.hpp"

using namespace plexus::store;
using plexus::store::test::bytes_of;

namespace {

struct Malformed {
  std::string hex;
  std::string detail;  ///< the whole expected detail, "offset N: what"
};

void check_malformed(const Malformed& m) {
  INFO("input ", m.hex);
  auto t = unpack(bytes_of(m.hex));
  REQUIRE_FALSE(t.ok());
  CHECK(is(t.error(), errc::malformed_tuple));
  CHECK(t.error().detail == m.detail);
}

/// `opened` bytes 05 followed by `closed` bytes 00, as hex.
std::string nested_depth(std::size_t opened, std::size_t closed) {
  std::string hex;
  for (std::size_t i = 0; i < opened; ++i) hex += "05";
  for (std::size_t i = 0; i < closed; ++i) hex += "00";
  return hex;
}

}  // namespace

TEST_CASE("Java's malformed sequences are refused with their offset") {
  // Proves each of FoundationDB's own decoder negatives is malformed_tuple naming where and what.
  const Malformed cases[] = {
      {"01deadc0de", "offset 0: bytes not terminated"},
      {"1601", "offset 0: integer truncated: needs 2 bytes, 1 left"},
      {"1d09" + std::string(16, '0'), "offset 0: big integer truncated: needs 9 bytes, 8 left"},
      {"20010203", "offset 0: float truncated: needs 4 bytes, 3 left"},
      {"30" + std::string(30, '1'), "offset 0: UUID truncated: needs 16 bytes, 15 left"},
      {"ff", "offset 0: unknown type code 0xff"},
      {"02" "616263" "eda0bd" "00", "offset 4: string is not valid UTF-8"},
  };
  for (const auto& m : cases) check_malformed(m);
}

TEST_CASE("more malformed input: truncation, unknown codes, bad UTF-8, nesting") {
  // Proves every other way to be malformed is caught at the right offset, never reading past the end.
  const Malformed cases[] = {
      {"1501" "05" "1501", "offset 2: nested tuple not terminated"},
      {"05" "026100", "offset 0: nested tuple not terminated"},
      {"05" "0500ff", "offset 1: nested tuple not terminated"},
      {"14" "05" "0261", "offset 2: string not terminated"},
      {"1403", "offset 1: unknown type code 0x03"},
      {"0500ff" "1e00", "offset 3: unknown type code 0x1e"},
      {"00ff", "offset 1: unknown type code 0xff"},
      {"21" "00010203040506", "offset 0: double truncated: needs 8 bytes, 7 left"},
      {"33" "0102030405060708090a0b", "offset 0: versionstamp truncated: needs 12 bytes, 11 left"},
      {"0b", "offset 0: big integer truncated: needs 1 bytes, 0 left"},
      {"1d", "offset 0: big integer truncated: needs 1 bytes, 0 left"},
      {"0bfe", "offset 0: big integer truncated: needs 1 bytes, 0 left"},
      {"1c01", "offset 0: integer truncated: needs 8 bytes, 1 left"},
      {"0c", "offset 0: integer truncated: needs 8 bytes, 0 left"},
      {"02c08000", "offset 1: string is not valid UTF-8"},        // overlong NUL
      {"02e08080" "00", "offset 1: string is not valid UTF-8"},    // overlong 3-byte form
      {"02f4908080" "00", "offset 1: string is not valid UTF-8"},  // past U+10FFFF
      {"02" "61" "80" "00", "offset 2: string is not valid UTF-8"},    // lone continuation byte
      {"02" "61" "c3" "00ff" "00", "offset 2: string is not valid UTF-8"},  // cut by an escaped 00
      {"02" "00ff" "edbfbf" "00", "offset 3: string is not valid UTF-8"},   // surrogate after an escape
      {"02" "f09f94", "offset 0: string not terminated"},
      {"01" "00ff", "offset 0: bytes not terminated"},
  };
  for (const auto& m : cases) check_malformed(m);
  // Invalid UTF-8 in bytes (type 01) is fine: bytes are not text.
  CHECK(unpack(bytes_of("01eda0bd00")).ok());
}

TEST_CASE("nesting deeper than tuple_depth_max is refused") {
  // Proves a depth bomb fails at the first level past the limit and the limit itself decodes.
  CHECK(unpack(bytes_of(nested_depth(tuple_depth_max, tuple_depth_max))).ok());
  check_malformed({nested_depth(tuple_depth_max + 1, tuple_depth_max + 1), "offset 64: nested deeper than 64 levels"});
  // A bomb of 50,000 opening bytes is refused at the same place, without deep recursion.
  check_malformed({nested_depth(50'000, 0),
                   "offset 64: nested deeper than 64 levels"});
}
