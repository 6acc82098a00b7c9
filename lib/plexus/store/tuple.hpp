// FoundationDB's tuple layer, byte for byte (apple/foundationdb design/tuple.md):
// a Tuple packs into bytes that sort, under memcmp, exactly as the tuples
// compare element by element. Type codes:
//   00 null             01 bytes (00 escaped as 00 ff, ends 00)   02 UTF-8 string (same escaping)
//   05 nested tuple (ends 00; a null inside is 00 ff)
//   0b big negative int: 0b, len^ff, one's complement of the big-endian magnitude
//   0c..13 negative int of 8..1 bytes (one's complement)   14 zero   15..1c positive int of 1..8 bytes
//   1d big positive int: 1d, len, big-endian magnitude
//   20 float (4 bytes)  21 double (8 bytes): big-endian IEEE, sign bit flipped when positive,
//      every bit flipped when negative
//   26 false  27 true   30 UUID (16 bytes)   33 versionstamp (10-byte transaction version + 2-byte user version)
// The byte format of every element and the JSON spelling are in docs/store.md.
#pragma once

#include <array>
#include <cstddef>
#include <compare>
#include <span>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plexus/core/result.hpp"

namespace plexus::store {

/// A byte string element (type 01), told apart from a unicode string (type 02).
struct Bytes {
  std::string value;
  friend bool operator==(const Bytes&, const Bytes&) = default;
};

/// An integer outside int64_t, up to 255 bytes of magnitude (type codes 0b and 1d,
/// and 1c for 2^63..2^64-1). Always normalised: never a value int64_t can hold,
/// magnitude big-endian without leading zero bytes.
struct BigInt {
  bool negative = false;
  std::string magnitude;
  friend bool operator==(const BigInt&, const BigInt&) = default;
};

/// A 32-bit float element (type 20); a plain `double` is type 21.
struct Float {
  float value = 0;
  /// Bitwise equality, so NaNs with the same bits are equal and -0.0 != 0.0.
  friend bool operator==(const Float& a, const Float& b) noexcept;
};

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};
  friend bool operator==(const Uuid&, const Uuid&) = default;
};

/// A 96-bit versionstamp (type 33): 10 bytes of transaction version and a
/// 2-byte user version. Incomplete (transaction version all ff) until the
/// datastore fills it in at commit; see pack_with_versionstamp().
struct Versionstamp {
  std::array<std::uint8_t, 10> transaction_version{};
  std::uint16_t user_version = 0;

  static Versionstamp incomplete(std::uint16_t user_version = 0);
  [[nodiscard]] bool complete() const noexcept;
  friend bool operator==(const Versionstamp&, const Versionstamp&) = default;
};

/// Deepest nesting unpack(), pack() and tuple_from_json() accept: a tuple
/// inside `tuple_depth_max` enclosing tuples is fine, one more level is an error.
inline constexpr std::size_t tuple_depth_max = 64;
/// Longest big-integer magnitude the format can carry (its length is one byte).
inline constexpr std::size_t big_int_bytes_max = 255;

struct Element;
/// A tuple: an ordered list of elements, possibly nested.
using Tuple = std::vector<Element>;

/// One tuple element. `double` is type 21 and `Float` type 20; integers that fit
/// int64_t are always `std::int64_t`, larger ones `BigInt`.
struct Element {
  using Value = std::variant<std::nullptr_t, Bytes, std::string, std::int64_t, BigInt, Float, double, bool,
                             Uuid, Versionstamp, Tuple>;
  Value value;

  Element() : value(nullptr) {}
  Element(std::nullptr_t) : value(nullptr) {}                   // NOLINT: implicit by design
  Element(Bytes b) : value(std::move(b)) {}                      // NOLINT
  Element(std::string s) : value(std::move(s)) {}                // NOLINT
  Element(const char* s) : value(std::string(s)) {}              // NOLINT
  Element(std::int64_t i) : value(i) {}                          // NOLINT
  Element(int i) : value(std::int64_t{i}) {}                     // NOLINT
  Element(BigInt b);                                             // NOLINT: normalises to int64 when it fits
  Element(Float f) : value(f) {}                                 // NOLINT
  Element(double d) : value(d) {}                                // NOLINT
  Element(bool b) : value(b) {}                                  // NOLINT
  Element(Uuid u) : value(u) {}                                  // NOLINT
  Element(Versionstamp v) : value(v) {}                          // NOLINT
  Element(Tuple t) : value(std::move(t)) {}                      // NOLINT

  /// Structural equality (floats and doubles bitwise).
  friend bool operator==(const Element& a, const Element& b);
};

/// The tuple order (design/tuple.md): by type code first, then within a type.
/// sign(compare(a, b)) == sign(memcmp(pack(a), pack(b))) for every pair.
std::strong_ordering compare(const Tuple& a, const Tuple& b);
std::strong_ordering compare(const Element& a, const Element& b);

/// Packs a tuple. Fails with invalid_versionstamp if it holds an incomplete
/// versionstamp, and with malformed_tuple (naming the element) for what no
/// reader could decode: a string that is not valid UTF-8, a big integer over
/// big_int_bytes_max bytes, nesting deeper than tuple_depth_max.
Result<std::string> pack(const Tuple& tuple);
/// Appends the packed elements of `tuple` to `out` (a top-level tuple is the
/// concatenation of its elements, so pack((a, b)) == pack((a,)) + pack((b,))).
/// On error `out` is left as it was.
Result<void> pack_append(std::string& out, const Tuple& tuple);
/// The same for the elements of a tuple held anywhere (a std::initializer_list,
/// an array): no Tuple (no heap allocation) needed.
Result<void> pack_append(std::string& out, std::span<const Element> elements);
/// Packs a tuple holding exactly one incomplete versionstamp and appends the
/// stamp's byte offset as 4 bytes little-endian (FoundationDB's API version
/// 520+ layout); invalid_versionstamp otherwise.
Result<std::string> pack_with_versionstamp(const Tuple& tuple);
/// Decodes packed bytes. malformed_tuple with a detail naming the byte offset
/// and what was expected there; never reads past `packed`.
Result<Tuple> unpack(std::string_view packed);

/// The key range holding every tuple that extends `prefix` (but not
/// pack(prefix) itself): [pack(prefix) + 00, pack(prefix) + ff).
struct KeyRange {
  std::string begin;
  std::string end;
};
Result<KeyRange> range(const Tuple& prefix);
/// The first key after every key that starts with `key`: drop trailing ff
/// bytes, then add one to the last byte. invalid_range when `key` is empty or
/// all ff.
Result<std::string> strinc(std::string_view key);

/// JSON spelling of tuples (docs/store.md, "Tuples as JSON"): an array of
/// elements; null, true/false, integers, strings and nested arrays as
/// themselves; a JSON number with a fraction or exponent is a double; objects
/// for the rest: {"bytes": "<hex>"}, {"int": "<decimal>"} for any integer,
/// {"float": n | "nan" | "inf" | "-inf" | "-0"}, {"double": same} (a NaN
/// other than the usual quiet one adds "bits": "<hex of its IEEE bits>"),
/// {"uuid": "8-4-4-4-12 hex"}, {"versionstamp": "<20 hex>" | null, "user": n}.
nlohmann::json to_json(const Tuple& tuple);
/// invalid_field with a detail naming the element path ("[2].bytes: odd number of hex digits").
Result<Tuple> tuple_from_json(const nlohmann::json& json);
/// Parses JSON text, then tuple_from_json(). Unlike a plain parse it refuses an
/// integer literal too large for 64 bits (a JSON parser would turn it into a
/// double): such integers are spelled {"int": "<decimal>"}. invalid_json for
/// text that is not JSON.
Result<Tuple> tuple_from_json_text(std::string_view text);

/// Lowercase hex of bytes, and back (invalid_field on a bad digit or odd length).
std::string to_hex(std::string_view bytes);
Result<std::string> from_hex(std::string_view hex);

}  // namespace plexus::store
