// The tuple codec against the published vectors (design/tuple_vectors.md),
// pack_with_versionstamp, element normalisation, range, strinc and hex.
// Malformed input is in tuple_malformed.test.cpp, the order in
// tuple_order.test.cpp, JSON in tuple_json.test.cpp.
#include <bit>
#include <cstring>
#include <limits>

#include "plexus/core/errors.hpp"
#include "plexus/store/errors.hpp"
#include "plexus/store/tuple_test_support.hpp"

using namespace plexus::store;
using plexus::store::test::bytes_of;
using plexus::store::test::packed_hex;

namespace {

struct Vector {
  const char* name;
  Tuple tuple;
  std::string hex;
};

std::string repeat(const char* hex, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += hex;
  return out;
}

BigInt big(bool negative, const std::string& hex) { return BigInt{negative, bytes_of(hex)}; }
Float float_bits(std::uint32_t bits) { return Float{std::bit_cast<float>(bits)}; }
double double_bits(std::uint64_t bits) { return std::bit_cast<double>(bits); }

Versionstamp stamp(const std::string& hex, std::uint16_t user) {
  Versionstamp v;
  const auto raw = bytes_of(hex);
  std::memcpy(v.transaction_version.data(), raw.data(), 10);
  v.user_version = user;
  return v;
}

std::vector<Vector> vectors() {
  const auto max = std::numeric_limits<std::int64_t>::max();
  const auto min = std::numeric_limits<std::int64_t>::min();
  return {
      {"1 empty", {}, ""},
      {"2 null", {nullptr}, "00"},
      {"3 bytes with 00", {Bytes{std::string("foo\0bar", 7)}}, "01666f6f00ff62617200"},
      {"4 bytes 00 00 00 04", {Bytes{std::string("\0\0\0\x04", 4)}}, "0100ff00ff00ff0400"},
      {"5 empty bytes", {Bytes{""}}, "0100"},
      {"5 empty string", {""}, "0200"},
      {"6 string with U+00D4 and 00", {std::string("F\xc3\x94O\0bar", 8)}, "0246c3944f00ff62617200"},
      {"7 CJK", {"\xe4\xb8\xad\xe6\x96\x87"}, "02e4b8ade6968700"},
      {"8 U+1F525", {"\xf0\x9f\x94\xa5"}, "02f09f94a500"},
      {"9 U+10FFFF", {"\xf4\x8f\xbf\xbf"}, "02f48fbfbf00"},
      {"10 zero", {0}, "14"},
      {"10 one", {1}, "1501"},
      {"10 minus one", {-1}, "13fe"},
      {"11 255", {255}, "15ff"},
      {"11 -255", {-255}, "1300"},
      {"12 256", {256}, "160100"},
      {"12 -256", {-256}, "12feff"},
      {"13 65536", {65536}, "17010000"},
      {"13 -65536", {-65536}, "11feffff"},
      {"14 -5551212", {-5551212}, "11ab4b93"},
      {"15 -4294967295", {std::int64_t{-4294967295}}, "1000000000"},
      {"16 2^63-1", {max}, "1c7fffffffffffffff"},
      {"17 2^63", {big(false, "8000000000000000")}, "1c8000000000000000"},
      {"18 2^64-1", {big(false, "ffffffffffffffff")}, "1cffffffffffffffff"},
      {"19 2^64", {big(false, "010000000000000000")}, "1d09010000000000000000"},
      {"20 2^128-1", {big(false, repeat("ff", 16))}, "1d10" + repeat("ff", 16)},
      {"21 -2^63", {min}, "0c7fffffffffffffff"},
      {"22 -2^63+1", {min + 1}, "0c8000000000000000"},
      {"23 -(2^64-1)", {big(true, "ffffffffffffffff")}, "0c0000000000000000"},
      {"24 -2^64", {big(true, "010000000000000000")}, "0bf6feffffffffffffffff"},
      {"25 float 3.14", {Float{3.14f}}, "20c048f5c3"},
      {"25 float -3.14", {Float{-3.14f}}, "203fb70a3c"},
      {"26 float -42", {Float{-42.0f}}, "203dd7ffff"},
      {"27 double 3.14", {3.14}, "21c0091eb851eb851f"},
      {"27 double -3.14", {-3.14}, "213ff6e147ae147ae0"},
      {"28 float 0", {Float{0.0f}}, "2080000000"},
      {"28 float -0", {Float{-0.0f}}, "207fffffff"},
      {"29 double 0", {0.0}, "218000000000000000"},
      {"29 double -0", {-0.0}, "217fffffffffffffff"},
      {"30 float inf", {Float{std::numeric_limits<float>::infinity()}}, "20ff800000"},
      {"30 float -inf", {Float{-std::numeric_limits<float>::infinity()}}, "20007fffff"},
      {"31 double inf", {std::numeric_limits<double>::infinity()}, "21fff0000000000000"},
      {"31 double -inf", {-std::numeric_limits<double>::infinity()}, "21000fffffffffffff"},
      {"32 float NaN 7fffffff", {float_bits(0x7fffffff)}, "20ffffffff"},
      {"32 float NaN ffffffff", {float_bits(0xffffffff)}, "2000000000"},
      {"33 float quiet NaN", {float_bits(0x7fc00000)}, "20ffc00000"},
      {"33 double quiet NaN", {double_bits(0x7ff8000000000000)}, "21fff8000000000000"},
      {"34 false", {false}, "26"},
      {"34 true", {true}, "27"},
      {"35 UUID", {Uuid{{0xff, 0xff, 0xff, 0xff, 0xba, 0x5e, 0xba, 0x11, 0, 0, 0, 0, 0x5c, 0xa1, 0xab, 0x1e}}},
       "30ffffffffba5eba11000000005ca1ab1e"},
      {"36 nested null", {Tuple{nullptr}}, "0500ff00"},
      {"37 nested null and string", {Tuple{nullptr, std::string("hell\0", 5)}}, "0500ff0268656c6c00ff0000"},
      {"38 mixed", {Tuple{nullptr}, "hello", Bytes{std::string("\x01\0", 2)}, Bytes{""}},
       "0500ff000268656c6c6f00010100ff000100"},
      {"39 nested bytes, null, empty tuple", {Tuple{Bytes{std::string("foo\0bar", 7)}, nullptr, Tuple{}}},
       "0501666f6f00ff6261720000ff050000"},
      {"40 PUSH", {"PUSH", Tuple{nullptr, Float{3.299069e12f}, Float{-1.1883096e-38f}}},
       "0250555348000500ff20d44007f5207f7e9ac200"},
      {"41 versionstamp", {stamp("aabbccddeeff00010203", 0)}, "33aabbccddeeff000102030000"},
      {"42 versionstamp user 657", {stamp("0102030405060708090a", 657)}, "330102030405060708090a0291"},
  };
}

}  // namespace

TEST_CASE("every published vector packs and unpacks byte for byte") {
  // Proves pack and unpack agree with FoundationDB's own test vectors in both directions.
  for (const auto& v : vectors()) {
    INFO("row ", v.name);
    CHECK(packed_hex(v.tuple) == v.hex);
    auto unpacked = unpack(bytes_of(v.hex));
    REQUIRE_MESSAGE(unpacked.ok(), unpacked.error().message());
    CHECK(*unpacked == v.tuple);
  }
}

TEST_CASE("pack_with_versionstamp appends the offset of the one incomplete stamp") {
  // Proves row 43 and that the offset points at the stamp, nested or not.
  const Tuple row43{"foo", Versionstamp::incomplete(0)};
  auto packed = pack_with_versionstamp(row43);
  REQUIRE(packed.ok());
  CHECK(to_hex(*packed) == "02666f6f0033" + std::string(20, 'f') + "0000" + "06000000");

  const Tuple nested{1, Tuple{"a", Versionstamp::incomplete(7)}};
  auto with_nested = pack_with_versionstamp(nested);
  REQUIRE(with_nested.ok());
  CHECK(to_hex(*with_nested) == "1501" "05" "026100" "33" + std::string(20, 'f') + "0007" "00" "07000000");
  CHECK(static_cast<std::uint8_t>((*with_nested)[6]) == 0x33);
}

TEST_CASE("versionstamp misuse is invalid_versionstamp") {
  // Proves none or two incomplete stamps, and a plain pack or range of one, are refused.
  const auto incomplete = Versionstamp::incomplete(1);
  CHECK_FALSE(incomplete.complete());
  for (const Tuple& t : {Tuple{"no stamp"}, Tuple{incomplete, Tuple{incomplete}}}) {
    auto packed = pack_with_versionstamp(t);
    REQUIRE_FALSE(packed.ok());
    CHECK(is(packed.error(), errc::invalid_versionstamp));
  }
  auto plain = pack({"a", Tuple{incomplete}});
  REQUIRE_FALSE(plain.ok());
  CHECK(is(plain.error(), errc::invalid_versionstamp));
  CHECK(plain.error().detail.find("element [1][0]") != std::string::npos);
  CHECK_FALSE(range({incomplete}).ok());

  std::string out = "keep";
  CHECK_FALSE(pack_append(out, {1, incomplete}).ok());
  CHECK(out == "keep");
  // A decoded incomplete stamp is a valid element; only packing it needs the offset.
  auto decoded = unpack(bytes_of("33" + std::string(20, 'f') + "0001"));
  REQUIRE(decoded.ok());
  CHECK(*decoded == Tuple{incomplete});
}

TEST_CASE("pack_append concatenates and pack refuses what no reader could decode") {
  // Proves pack((a, b)) == pack((a,)) + pack((b,)), and invalid UTF-8, oversized big ints and deep nesting fail.
  std::string out;
  REQUIRE(pack_append(out, {"users"}).ok());
  REQUIRE(pack_append(out, {12345}).ok());
  CHECK(out == *pack({"users", 12345}));

  auto bad_utf8 = pack({"ok", Tuple{std::string("a\xed\xa0\xbd")}});
  REQUIRE_FALSE(bad_utf8.ok());
  CHECK(is(bad_utf8.error(), errc::malformed_tuple));
  CHECK(bad_utf8.error().detail == "element [1][0]: string is not valid UTF-8 at byte 1");

  CHECK(pack({BigInt{false, std::string(255, '\x01')}}).ok());
  auto too_big = pack({BigInt{true, std::string(256, '\x01')}});
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().detail.find("256 bytes") != std::string::npos);

  Tuple deep;
  for (std::size_t i = 0; i < tuple_depth_max; ++i) deep = Tuple{std::move(deep)};
  CHECK(pack(deep).ok());
  auto too_deep = pack(Tuple{std::move(deep)});
  REQUIRE_FALSE(too_deep.ok());
  CHECK(too_deep.error().detail.find("nested deeper than 64") != std::string::npos);
}

TEST_CASE("BigInt elements are normalised") {
  // Proves integers that fit int64 become int64 and big ones lose leading zeros, so equality is by value.
  CHECK(Element(BigInt{false, bytes_of("000005")}) == Element(5));
  CHECK(Element(BigInt{true, ""}) == Element(0));
  CHECK(Element(BigInt{true, bytes_of("8000000000000000")}) == Element(std::numeric_limits<std::int64_t>::min()));
  CHECK(Element(BigInt{false, bytes_of("7fffffffffffffff")}) == Element(std::numeric_limits<std::int64_t>::max()));
  const Element big_one(BigInt{false, bytes_of("008000000000000000")});
  REQUIRE(std::holds_alternative<BigInt>(big_one.value));
  CHECK(std::get<BigInt>(big_one.value).magnitude == bytes_of("8000000000000000"));
}

TEST_CASE("floats and doubles compare equal bitwise") {
  // Proves NaNs with the same bits are equal and -0 differs from +0, for Float and double.
  const auto nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(Float{nan} == Float{nan});
  CHECK_FALSE(Float{-0.0f} == Float{0.0f});
  CHECK_FALSE(Float{nan} == float_bits(0x7fffffff));
  CHECK(Element(std::numeric_limits<double>::quiet_NaN()) == Element(std::numeric_limits<double>::quiet_NaN()));
  CHECK_FALSE(Element(-0.0) == Element(0.0));
  CHECK_FALSE(Element(Float{1.0f}) == Element(1.0));
  CHECK_FALSE(Element(1) == Element(1.0));
}

TEST_CASE("non-minimal integer encodings decode and re-pack minimally") {
  // Proves the decoder accepts what other bindings may write and pack() writes the canonical form.
  const std::pair<const char*, const char*> cases[] = {
      {"1d0105", "1505"}, {"1500", "14"}, {"1c0000000000000001", "1501"}, {"0bff", "14"}, {"1d00", "14"},
      {"1d09000000000000000001", "1501"}, {"0bf6ffffffffffffffffff", "14"}};
  for (const auto& [in, canonical] : cases) {
    INFO(in);
    auto t = unpack(bytes_of(in));
    REQUIRE(t.ok());
    CHECK(packed_hex(*t) == canonical);
  }
}

TEST_CASE("range holds the extensions of a prefix and strinc finds the next key") {
  // Proves range = [pack+00, pack+ff) and strinc's edge cases, including its refusals.
  auto r = range({"a", 1});
  REQUIRE(r.ok());
  CHECK(to_hex(r->begin) == "0261001501" "00");
  CHECK(to_hex(r->end) == "0261001501" "ff");
  CHECK(*strinc(bytes_of("61ffff")) == "b");
  CHECK(*strinc(bytes_of("61fe")) == bytes_of("61ff"));
  CHECK(*strinc(bytes_of("00")) == bytes_of("01"));
  for (const char* bad : {"", "ff", "ffff"}) {
    auto none = strinc(bytes_of(bad));
    REQUIRE_FALSE(none.ok());
    CHECK(is(none.error(), errc::invalid_range));
  }
}

TEST_CASE("hex helpers round trip and name bad input") {
  // Proves to_hex is lowercase, from_hex takes either case, and errors say what is wrong.
  CHECK(to_hex(bytes_of("00ABff")) == "00abff");
  CHECK(to_hex("") == "");
  auto odd = from_hex("abc");
  REQUIRE_FALSE(odd.ok());
  CHECK(odd.error().code == plexus::make_error_code(plexus::errc::invalid_field));
  CHECK(odd.error().detail == "odd number of hex digits (3)");
  auto bad = from_hex("0g");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().detail == "not a hex digit at position 1");
}
