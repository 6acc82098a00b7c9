// Packing tuples into FoundationDB's tuple-layer bytes (the format is in
// tuple.hpp's header comment and docs/store.md, "Tuples"), plus the element
// helpers, key ranges, strinc and hex. Decoding is in tuple_unpack.cpp, the
// order in tuple_compare.cpp, the JSON spelling in tuple_json.cpp.
#include "plexus/store/tuple.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <span>

#include "plexus/core/errors.hpp"
#include "plexus/store/errors.hpp"
#include "plexus/store/tuple_detail.hpp"

namespace plexus::store {
namespace {

namespace code = detail::code;

std::string_view strip_leading_zeros(std::string_view magnitude) noexcept {
  std::size_t i = 0;
  while (i < magnitude.size() && magnitude[i] == '\0') ++i;
  return magnitude.substr(i);
}

std::uint64_t be_to_u64(std::string_view bytes) noexcept {
  std::uint64_t v = 0;
  for (const char c : bytes) v = (v << 8) | static_cast<std::uint8_t>(c);
  return v;
}

// A guess at the packed size, so that packing grows the output once for typical keys.
std::size_t size_hint(std::span<const Element> t) noexcept {
  std::size_t n = 0;
  for (const auto& e : t) {
    if (const auto* s = std::get_if<std::string>(&e.value)) n += s->size() + 4;
    else if (const auto* b = std::get_if<Bytes>(&e.value)) n += b->value.size() + 4;
    else n += 18;
  }
  return n;
}

/// Writes elements to the end of `out`; on failure records what and where (the
/// element path is built while the recursion unwinds, so success pays nothing
/// for it). `out` is grown ahead (by size_hint) and written through a cursor,
/// so that an element costs no library call; finish() trims it.
class Packer {
 public:
  Packer(std::string& out, std::span<const Element> t, bool allow_incomplete)
      : out_(out), used_(out.size()), allow_incomplete_(allow_incomplete) {
    out_.resize(used_ + size_hint(t));
  }

  bool tuple(std::span<const Element> t, std::size_t depth, bool nested) {
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (!element(t[i], depth, nested)) {
        path_.insert(0, "[" + std::to_string(i) + "]");
        return false;
      }
    }
    return true;
  }

  /// Drops the unused room; `size` is where the output ends (before_size to undo).
  void finish(std::size_t size) { out_.resize(size); }
  [[nodiscard]] std::size_t used() const noexcept { return used_; }
  [[nodiscard]] Error error() const { return make_error(error_code_, "element " + path_ + ": " + what_); }
  [[nodiscard]] int incomplete_count() const noexcept { return incomplete_count_; }
  [[nodiscard]] std::size_t stamp_offset() const noexcept { return stamp_offset_; }

 private:
  bool fail(errc code, std::string what) {
    error_code_ = code;
    what_ = std::move(what);
    return false;
  }

  /// Room for `n` more bytes at the cursor, which moves past them.
  [[gnu::always_inline]] char* room(std::size_t n) {
    if (out_.size() - used_ < n) [[unlikely]] grow(n);
    char* at = out_.data() + used_;
    used_ += n;
    return at;
  }
  [[gnu::noinline]] void grow(std::size_t n) { out_.resize(std::max(used_ + n, 2 * out_.size())); }
  void put(std::uint8_t byte) { *room(1) = static_cast<char>(byte); }
  void put(std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(room(bytes.size()), bytes.data(), bytes.size());
  }

  bool element(const Element& e, std::size_t depth, bool nested) {
    switch (e.value.index()) {
      case 0: put(std::string_view("\x00\xff", nested ? 2 : 1)); return true;  // inside a nested tuple null is 00 ff
      case 1: {
        const std::string_view b = std::get_if<Bytes>(&e.value)->value;
        put_escaped(code::bytes, b, detail::find_zero(reinterpret_cast<const std::uint8_t*>(b.data()), b.size()));
        return true;
      }
      case 2: return put_string(*std::get_if<std::string>(&e.value));
      case 3: put_int64(*std::get_if<std::int64_t>(&e.value)); return true;
      case 4: return put_big(*std::get_if<BigInt>(&e.value));
      case 5: put_be(code::float32, detail::float_order_key(std::get_if<Float>(&e.value)->value), 4); return true;
      case 6: put_be(code::float64, detail::double_order_key(*std::get_if<double>(&e.value)), 8); return true;
      case 7: put(*std::get_if<bool>(&e.value) ? code::true_ : code::false_); return true;
      case 8: {
        const auto& u = std::get_if<Uuid>(&e.value)->bytes;
        put(code::uuid);
        put(std::string_view(reinterpret_cast<const char*>(u.data()), u.size()));
        return true;
      }
      case 9: return put_versionstamp(*std::get_if<Versionstamp>(&e.value));
      default: return put_nested(*std::get_if<Tuple>(&e.value), depth);
    }
  }

  bool put_nested(const Tuple& t, std::size_t depth) {
    if (depth + 1 > tuple_depth_max) {
      return fail(errc::malformed_tuple, "nested deeper than " + std::to_string(tuple_depth_max) + " levels");
    }
    put(code::nested);
    if (!tuple(t, depth + 1, true)) return false;
    put(std::uint8_t{0});
    return true;
  }

  // Bytes and strings: 00 becomes 00 ff, and a 00 ends the element.
  void put_escaped(std::uint8_t type, std::string_view s, std::size_t zero) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    if (zero == s.size()) {
      // No 00 inside: the usual key part.
      char* d = room(s.size() + 2);
      d[0] = static_cast<char>(type);
      std::memcpy(d + 1, s.data(), s.size());
      d[s.size() + 1] = '\0';
      return;
    }
    put(type);
    std::size_t pos = 0;
    for (; zero != s.size(); zero = pos + detail::find_zero(p + pos, s.size() - pos)) {
      put(s.substr(pos, zero - pos));
      put(std::string_view("\x00\xff", 2));
      pos = zero + 1;
    }
    put(s.substr(pos));
    put(std::uint8_t{0});
  }

  bool put_string(const std::string& s) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    if (s.size() < 8) {
      // Short key parts: one pass finds both a 00 and any non-ASCII byte.
      unsigned high = 0;
      std::size_t zero = s.size();
      for (std::size_t i = s.size(); i-- > 0;) {
        high |= p[i];
        if (p[i] == 0) zero = i;
      }
      if ((high & 0x80u) == 0) {
        put_escaped(code::string, s, zero);
        return true;
      }
    }
    if (const auto valid = detail::utf8_valid_prefix(s); valid != s.size()) {
      return fail(errc::malformed_tuple, "string is not valid UTF-8 at byte " + std::to_string(valid));
    }
    put_escaped(code::string, s, detail::find_zero(p, s.size()));
    return true;
  }

  void put_be(std::uint8_t type, std::uint64_t v, int n) {
    char* d = room(static_cast<std::size_t>(n) + 1);
    d[0] = static_cast<char>(type);
    for (int k = 0; k < n; ++k) d[1 + k] = static_cast<char>(v >> (8 * (n - 1 - k)));
  }

  // Codes 0c..1c: 14 -/+ the byte count, then the magnitude (one's complement when negative).
  void put_small_int(std::uint64_t magnitude, bool negative) {
    if (magnitude == 0) {
      put(code::int_zero);
      return;
    }
    const int n = (std::bit_width(magnitude) + 7) / 8;
    const auto type = static_cast<std::uint8_t>(negative ? code::int_zero - n : code::int_zero + n);
    put_be(type, negative ? ~magnitude : magnitude, n);
  }

  void put_int64(std::int64_t v) {
    const bool negative = v < 0;
    put_small_int(negative ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v), negative);
  }

  bool put_big(const BigInt& b) {
    const auto magnitude = strip_leading_zeros(b.magnitude);
    if (magnitude.size() <= 8) {
      put_small_int(be_to_u64(magnitude), b.negative);
      return true;
    }
    if (magnitude.size() > big_int_bytes_max) {
      return fail(errc::malformed_tuple, "integer of " + std::to_string(magnitude.size()) + " bytes; at most " +
                                             std::to_string(big_int_bytes_max) + " fit the format");
    }
    const auto length = static_cast<std::uint8_t>(magnitude.size());
    put(b.negative ? code::neg_big : code::pos_big);
    put(b.negative ? static_cast<std::uint8_t>(length ^ 0xff) : length);
    char* d = room(magnitude.size());
    for (std::size_t i = 0; i < magnitude.size(); ++i) d[i] = b.negative ? static_cast<char>(~magnitude[i]) : magnitude[i];
    return true;
  }

  bool put_versionstamp(const Versionstamp& v) {
    if (!v.complete()) {
      if (!allow_incomplete_) {
        return fail(errc::invalid_versionstamp, "incomplete versionstamp (use pack_with_versionstamp)");
      }
      ++incomplete_count_;
      stamp_offset_ = used_ + 1;
    }
    char* d = room(13);
    d[0] = static_cast<char>(code::versionstamp);
    std::memcpy(d + 1, v.transaction_version.data(), v.transaction_version.size());
    d[11] = static_cast<char>(v.user_version >> 8);
    d[12] = static_cast<char>(v.user_version & 0xff);
    return true;
  }

  std::string& out_;
  std::size_t used_;
  bool allow_incomplete_;
  int incomplete_count_ = 0;
  std::size_t stamp_offset_ = 0;
  errc error_code_ = errc::ok;
  std::string what_;
  std::string path_;
};

}  // namespace

bool operator==(const Float& a, const Float& b) noexcept {
  return std::bit_cast<std::uint32_t>(a.value) == std::bit_cast<std::uint32_t>(b.value);
}

Versionstamp Versionstamp::incomplete(std::uint16_t user_version) {
  Versionstamp v;
  v.transaction_version.fill(0xff);
  v.user_version = user_version;
  return v;
}

bool Versionstamp::complete() const noexcept {
  for (const auto b : transaction_version) {
    if (b != 0xff) return true;
  }
  return false;
}

Element::Element(BigInt b) {
  const auto magnitude = strip_leading_zeros(b.magnitude);
  constexpr auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (magnitude.size() <= 8) {
    const std::uint64_t m = be_to_u64(magnitude);
    if (!b.negative && m <= int64_max) {
      value = static_cast<std::int64_t>(m);
      return;
    }
    if (b.negative && m <= int64_max + 1) {
      value = static_cast<std::int64_t>(0 - m);  // two's complement wrap gives -m, incl. -2^63
      return;
    }
  }
  b.magnitude.erase(0, b.magnitude.size() - magnitude.size());
  value = std::move(b);
}

Result<void> pack_append(std::string& out, const Tuple& tuple) {
  return pack_append(out, std::span<const Element>(tuple));
}

Result<void> pack_append(std::string& out, std::span<const Element> tuple) {
  const std::size_t size_before = out.size();
  Packer packer(out, tuple, false);
  if (!packer.tuple(tuple, 0, false)) {
    packer.finish(size_before);
    return packer.error();
  }
  packer.finish(packer.used());
  return {};
}

Result<std::string> pack(const Tuple& tuple) {
  std::string out;
  if (auto done = pack_append(out, tuple); !done) return done.error();
  return out;
}

Result<std::string> pack_with_versionstamp(const Tuple& tuple) {
  std::string out;
  Packer packer(out, tuple, true);
  if (!packer.tuple(tuple, 0, false)) return packer.error();
  packer.finish(packer.used());
  if (packer.incomplete_count() != 1) {
    return make_error(errc::invalid_versionstamp,
                      std::to_string(packer.incomplete_count()) + " incomplete versionstamps; exactly one is needed");
  }
  const std::size_t offset = packer.stamp_offset();
  if (offset > std::numeric_limits<std::uint32_t>::max()) {
    return make_error(errc::invalid_versionstamp, "versionstamp offset does not fit 32 bits");
  }
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((offset >> (8 * k)) & 0xff));
  return out;
}

Result<KeyRange> range(const Tuple& prefix) {
  auto packed = pack(prefix);
  if (!packed) return packed.error();
  KeyRange r{*packed, std::move(*packed)};
  r.begin.push_back('\0');
  r.end.push_back('\xff');
  return r;
}

Result<std::string> strinc(std::string_view key) {
  std::size_t n = key.size();
  while (n > 0 && static_cast<std::uint8_t>(key[n - 1]) == 0xff) --n;
  if (n == 0) return make_error(errc::invalid_range, "strinc of an empty or all-ff key has no successor");
  std::string out(key.substr(0, n));
  out.back() = static_cast<char>(static_cast<std::uint8_t>(out.back()) + 1);
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<std::uint8_t>(bytes[i]);
    out[2 * i] = digits[b >> 4];
    out[2 * i + 1] = digits[b & 0xf];
  }
  return out;
}

Result<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return plexus::make_error(plexus::errc::invalid_field, "odd number of hex digits (" + std::to_string(hex.size()) + ")");
  }
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]);
    const int lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return plexus::make_error(plexus::errc::invalid_field,
                                "not a hex digit at position " + std::to_string(hi < 0 ? i : i + 1));
    }
    out[i / 2] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

}  // namespace plexus::store
