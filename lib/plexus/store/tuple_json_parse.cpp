// Reading the JSON spelling of tuples (docs/store.md, "Tuples as JSON"). Input
// comes from the CLI and the admin API, so every error is invalid_field naming
// the element path ("[1][0].uuid: expected 8-4-4-4-12 hex digits").
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/core/json_path.hpp"
#include "plexus/store/tuple_detail.hpp"
#include "plexus/store/tuple_json_detail.hpp"

namespace plexus::store::detail {
namespace {

using nlohmann::json;
using json_path::field_error;
using json_path::join;

/// More decimal digits than 255 bytes of magnitude can need (255 * log10(256) < 615).
constexpr std::size_t decimal_digits_max = 620;
/// Half an ulp above FLT_MAX: doubles from here on round to infinity as floats.
const double float_overflow = std::bit_cast<double>(std::uint64_t{0x47ef'ffff'f000'0000});

Result<Element> element_from_json(const json& j, const std::string& path, std::size_t depth);

// "nan" (with optional "bits"), "inf", "-inf", "-0", or a finite number, for
// {"float": ...} when Bits is uint32_t and {"double": ...} when uint64_t.
template <class Bits>
Result<double> special_value(const json& obj, const std::string& key, const std::string& path) {
  const auto& v = obj[key];
  const auto value_path = join(path, key);
  if (obj.contains("bits") && !(v.is_string() && v.get<std::string>() == "nan")) {
    return field_error(join(path, "bits"), "only a \"nan\" has bits");
  }
  if (v.is_number()) {
    const double d = v.get<double>();
    if (!std::isfinite(d)) return field_error(value_path, "number out of range");
    return d;
  }
  const std::string text = v.is_string() ? v.get<std::string>() : std::string();
  if (text == "inf") return std::numeric_limits<double>::infinity();
  if (text == "-inf") return -std::numeric_limits<double>::infinity();
  if (text == "-0") return -0.0;
  if (text != "nan") return field_error(value_path, "expected a number, \"nan\", \"inf\", \"-inf\" or \"-0\"");
  if (!obj.contains("bits")) return std::numeric_limits<double>::quiet_NaN();
  const auto& b = obj["bits"];
  auto raw = b.is_string() ? from_hex(b.get<std::string>()) : Result<std::string>(Error{});
  if (!b.is_string() || !raw || raw->size() != sizeof(Bits)) {
    return field_error(join(path, "bits"), "expected " + std::to_string(2 * sizeof(Bits)) + " hex digits");
  }
  Bits bits = 0;
  for (const char c : *raw) bits = static_cast<Bits>((bits << 8) | static_cast<std::uint8_t>(c));
  if constexpr (sizeof(Bits) == 4) {
    const float f = std::bit_cast<float>(bits);
    if (!std::isnan(f)) return field_error(join(path, "bits"), "not the bits of a NaN");
    // A float NaN travels as the double with the same payload; the caller narrows it back.
    return std::bit_cast<double>(static_cast<std::uint64_t>(bits));
  } else {
    const double d = std::bit_cast<double>(bits);
    if (!std::isnan(d)) return field_error(join(path, "bits"), "not the bits of a NaN");
    return d;
  }
}

Result<Element> float_from_json(const json& obj, const std::string& path) {
  auto d = special_value<std::uint32_t>(obj, "float", path);
  if (!d) return d.error();
  if (obj.contains("bits")) {
    return Element(Float{std::bit_cast<float>(static_cast<std::uint32_t>(std::bit_cast<std::uint64_t>(*d)))});
  }
  if (std::isfinite(*d) && std::fabs(*d) >= float_overflow) {
    return field_error(join(path, "float"), "out of range for a 32-bit float");
  }
  return Element(Float{static_cast<float>(*d)});
}

Result<Element> uuid_from_json(const json& v, const std::string& path) {
  std::string text = v.is_string() ? v.get<std::string>() : std::string();
  const bool shaped = text.size() == 36 && text[8] == '-' && text[13] == '-' && text[18] == '-' && text[23] == '-';
  if (shaped) std::erase(text, '-');
  auto raw = from_hex(text);
  if (!shaped || !raw) return field_error(join(path, "uuid"), "expected 8-4-4-4-12 hex digits");
  Uuid u;
  std::copy(raw->begin(), raw->end(), u.bytes.begin());
  return Element(u);
}

Result<Element> versionstamp_from_json(const json& obj, const std::string& path) {
  const auto& v = obj["versionstamp"];
  Versionstamp stamp = Versionstamp::incomplete();
  if (!v.is_null()) {
    auto raw = v.is_string() ? from_hex(v.get<std::string>()) : Result<std::string>(Error{});
    if (!v.is_string() || !raw || raw->size() != 10) {
      return field_error(join(path, "versionstamp"), "expected 20 hex digits, or null for an incomplete one");
    }
    std::copy(raw->begin(), raw->end(), stamp.transaction_version.begin());
  }
  if (obj.contains("user")) {
    const auto& u = obj["user"];
    if (!u.is_number_integer() || u.get<std::int64_t>() < 0 || u.get<std::int64_t>() > 0xffff) {
      return field_error(join(path, "user"), "expected an integer 0..65535");
    }
    stamp.user_version = static_cast<std::uint16_t>(u.get<std::int64_t>());
  }
  return Element(stamp);
}

// An object is one typed element: exactly one type key, plus "bits" or "user" where they apply.
Result<Element> typed_from_json(const json& obj, const std::string& path) {
  static constexpr std::string_view types = "bytes, int, float, double, uuid or versionstamp";
  std::string type;
  for (const auto& [key, value] : obj.items()) {
    if (key == "bits" || key == "user") continue;
    if (key != "bytes" && key != "int" && key != "float" && key != "double" && key != "uuid" && key != "versionstamp") {
      return field_error(join(path, key), "unknown key (an element object has one of " + std::string(types) + ")");
    }
    if (!type.empty()) return field_error(path, "one type per element, not both '" + type + "' and '" + key + "'");
    type = key;
  }
  if (type.empty()) return field_error(path, "an element object needs one of " + std::string(types));
  if (obj.contains("bits") && type != "float" && type != "double") {
    return field_error(join(path, "bits"), "only a float or double NaN has bits");
  }
  if (obj.contains("user") && type != "versionstamp") {
    return field_error(join(path, "user"), "only a versionstamp has a user version");
  }
  const auto& v = obj[type];
  if (type == "bytes") {
    auto raw = v.is_string() ? from_hex(v.get<std::string>()) : Result<std::string>(Error{{}, "expected a hex string"});
    if (!raw) return field_error(join(path, type), raw.error().detail);
    return Element(Bytes{std::move(*raw)});
  }
  if (type == "int") {
    if (v.is_number_integer()) return element_from_json(v, join(path, type), 0);
    if (!v.is_string()) return field_error(join(path, type), "expected a decimal string");
    return decimal_to_integer(v.get<std::string>(), join(path, type));
  }
  if (type == "float") return float_from_json(obj, path);
  if (type == "double") {
    auto d = special_value<std::uint64_t>(obj, "double", path);
    if (!d) return d.error();
    return Element(*d);
  }
  if (type == "uuid") return uuid_from_json(v, path);
  return versionstamp_from_json(obj, path);
}

Result<Element> element_from_json(const json& j, const std::string& path, std::size_t depth) {
  switch (j.type()) {
    case json::value_t::null: return Element(nullptr);
    case json::value_t::boolean: return Element(j.get<bool>());
    case json::value_t::number_integer: return Element(j.get<std::int64_t>());
    case json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      std::string be(8, '\0');
      for (int k = 0; k < 8; ++k) be[static_cast<std::size_t>(k)] = static_cast<char>(u >> (8 * (7 - k)));
      return Element(BigInt{false, std::move(be)});  // narrows to int64 when it fits
    }
    case json::value_t::number_float: {
      const double d = j.get<double>();
      if (!std::isfinite(d)) return field_error(path, "number out of range");
      return Element(d);
    }
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (utf8_valid_prefix(s) != s.size()) return field_error(path, "string is not valid UTF-8");
      return Element(s);
    }
    case json::value_t::array: {
      if (depth + 1 > tuple_depth_max) {
        return field_error(path, "nested deeper than " + std::to_string(tuple_depth_max) + " levels");
      }
      Tuple inner;
      if (auto done = tuple_from_json_at(j, path, depth + 1, inner); !done) return done.error();
      return Element(std::move(inner));
    }
    case json::value_t::object: return typed_from_json(j, path);
    default: return field_error(path, "not a tuple element");
  }
}

}  // namespace

Result<void> tuple_from_json_at(const json& j, const std::string& path, std::size_t depth, Tuple& out) {
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    auto e = element_from_json(j[i], json_path::index(path, i), depth);
    if (!e) return e.error();
    out.push_back(std::move(*e));
  }
  return {};
}

Result<Element> decimal_to_integer(std::string_view text, std::string_view path) {
  const bool negative = text.starts_with('-');
  const auto digits = text.substr(negative ? 1 : 0);
  if (digits.empty() || digits.size() > decimal_digits_max ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return field_error(path, "expected decimal digits with an optional '-' (at most " +
                                 std::to_string(decimal_digits_max) + ")");
  }
  std::vector<std::uint8_t> little;  // the magnitude, least significant byte first
  for (const char c : digits) {
    unsigned carry = static_cast<unsigned>(c - '0');
    for (auto& byte : little) {
      const unsigned v = byte * 10u + carry;
      byte = static_cast<std::uint8_t>(v & 0xff);
      carry = v >> 8;
    }
    if (carry != 0) little.push_back(static_cast<std::uint8_t>(carry));
  }
  if (little.size() > big_int_bytes_max) {
    return field_error(path, "out of range: over " + std::to_string(big_int_bytes_max) + " bytes of magnitude");
  }
  return Element(BigInt{negative, std::string(little.rbegin(), little.rend())});
}

std::string big_to_decimal(const BigInt& b) {
  std::vector<std::uint8_t> big(b.magnitude.begin(), b.magnitude.end());
  std::string reversed;  // decimal digits, least significant first
  constexpr std::uint64_t chunk = 1'000'000'000;
  bool nonzero = true;
  while (nonzero) {
    std::uint64_t remainder = 0;
    nonzero = false;
    for (auto& byte : big) {
      const std::uint64_t cur = (remainder << 8) | byte;
      byte = static_cast<std::uint8_t>(cur / chunk);
      remainder = cur % chunk;
      nonzero = nonzero || byte != 0;
    }
    for (int k = 0; k < 9; ++k, remainder /= 10) reversed.push_back(static_cast<char>('0' + remainder % 10));
  }
  while (reversed.size() > 1 && reversed.back() == '0') reversed.pop_back();
  if (b.negative && reversed != "0") reversed.push_back('-');
  return {reversed.rbegin(), reversed.rend()};
}

}  // namespace plexus::store::detail
