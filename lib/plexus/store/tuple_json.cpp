// The JSON spelling of tuples (docs/store.md, "Tuples as JSON"), used by the
// CLI and the admin API: an array of elements; null, booleans, 64-bit
// integers, strings and nested arrays as themselves; a number with a fraction
// or exponent is a double; objects for the rest. to_json and tuple_from_json
// are exact inverses, down to NaN payloads and -0.
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/core/json_path.hpp"
#include "plexus/store/tuple.hpp"
#include "plexus/store/tuple_detail.hpp"
#include "plexus/store/tuple_json_detail.hpp"

namespace plexus::store {
namespace {

using nlohmann::json;

constexpr std::uint32_t float_quiet_nan = 0x7fc0'0000u;
constexpr std::uint64_t double_quiet_nan = 0x7ff8'0000'0000'0000u;

/// The shortest decimal that reads back as `f` (through a double, as JSON does).
json float_number(float f) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f);
  double d = 0;
  if (ec == std::errc{} && std::from_chars(buf, end, d).ec == std::errc{} &&
      std::bit_cast<std::uint32_t>(static_cast<float>(d)) == std::bit_cast<std::uint32_t>(f)) {
    return d;
  }
  return static_cast<double>(f);
}

/// {"float"|"double": "nan" (+ "bits" unless the usual quiet NaN) | "inf" | "-inf" | "-0"},
/// or nothing for a value that is written as a plain number.
template <class T, class Bits>
std::optional<json> special(const char* key, T v, Bits quiet_nan) {
  const auto bits = std::bit_cast<Bits>(v);
  if (std::isnan(v)) {
    json j{{key, "nan"}};
    if (bits != quiet_nan) {
      std::string be(sizeof(Bits), '\0');
      for (std::size_t k = 0; k < sizeof(Bits); ++k) be[k] = static_cast<char>(bits >> (8 * (sizeof(Bits) - 1 - k)));
      j["bits"] = to_hex(be);
    }
    return j;
  }
  if (std::isinf(v)) return json{{key, v > 0 ? "inf" : "-inf"}};
  if (v == 0 && std::signbit(v)) return json{{key, "-0"}};
  return std::nullopt;
}

std::string uuid_text(const Uuid& u) {
  const auto hex = to_hex(std::string_view(reinterpret_cast<const char*>(u.bytes.data()), u.bytes.size()));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

json element_to_json(const Element& e) {
  switch (e.value.index()) {
    case 0: return nullptr;
    case 1: return json{{"bytes", to_hex(std::get<Bytes>(e.value).value)}};
    case 2: return std::get<std::string>(e.value);
    case 3: return std::get<std::int64_t>(e.value);
    case 4: return json{{"int", detail::big_to_decimal(std::get<BigInt>(e.value))}};
    case 5: {
      const float f = std::get<Float>(e.value).value;
      return special("float", f, float_quiet_nan).value_or(json{{"float", float_number(f)}});
    }
    case 6: {
      const double d = std::get<double>(e.value);
      return special("double", d, double_quiet_nan).value_or(json(d));
    }
    case 7: return std::get<bool>(e.value);
    case 8: return json{{"uuid", uuid_text(std::get<Uuid>(e.value))}};
    case 9: {
      const auto& v = std::get<Versionstamp>(e.value);
      const std::string_view tv(reinterpret_cast<const char*>(v.transaction_version.data()), v.transaction_version.size());
      return json{{"versionstamp", v.complete() ? json(to_hex(tv)) : json(nullptr)}, {"user", v.user_version}};
    }
    default: return to_json(std::get<Tuple>(e.value));
  }
}

}  // namespace

nlohmann::json to_json(const Tuple& tuple) {
  auto out = json::array();
  for (const auto& e : tuple) out.push_back(element_to_json(e));
  return out;
}

Result<Tuple> tuple_from_json(const nlohmann::json& j) {
  if (!j.is_array()) return json_path::field_error(json_path::root, "a tuple is a JSON array");
  Tuple out;
  if (auto done = detail::tuple_from_json_at(j, "", 0, out); !done) return done.error();
  return out;
}

namespace {

/// Finds integer literals a JSON parser would silently read as doubles.
class BigLiteralCheck : public nlohmann::json_sax<json> {
 public:
  std::string literal;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t& text) override {
    if (text.find_first_of(".eE") == std::string::npos && literal.empty()) literal = text;
    return true;
  }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string& last_token, const nlohmann::detail::exception& e) override {
    error = e.what();
    (void)last_token;
    return false;
  }
  std::string error;
};

}  // namespace

Result<Tuple> tuple_from_json_text(std::string_view text) {
  BigLiteralCheck check;
  if (!json::sax_parse(text, &check) || !check.error.empty()) {
    return plexus::make_error(plexus::errc::invalid_json,
                              check.error.empty() ? std::string("not valid JSON") : check.error);
  }
  if (!check.literal.empty()) {
    return plexus::make_error(plexus::errc::invalid_field,
                              "integer " + json_path::printable(check.literal) +
                                  " does not fit 64 bits: spell it {\"int\": \"" + json_path::printable(check.literal) +
                                  "\"}");
  }
  return tuple_from_json(json::parse(text, nullptr, false));
}

}  // namespace plexus::store
