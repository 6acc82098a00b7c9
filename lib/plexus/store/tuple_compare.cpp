// The tuple order and element equality. compare() must agree with memcmp of
// the packed bytes for every pair of tuples: the type code decides first
// (integers of every size count as one type), then the value as its encoding
// sorts: bytes and strings by their bytes, floats by their IEEE bits
// transformed as when packed (-0 < +0, NaNs at the ends by sign), nested
// tuples element by element with a prefix first.
#include <bit>

#include "plexus/store/tuple.hpp"
#include "plexus/store/tuple_detail.hpp"

namespace plexus::store {
namespace {

namespace code = detail::code;

/// The type code deciding the order across types (all integers share 14).
std::uint8_t rank(const Element& e) noexcept {
  static constexpr std::uint8_t by_index[] = {code::null,    code::bytes,   code::string,  code::int_zero,
                                              code::int_zero, code::float32, code::float64, code::false_,
                                              code::uuid,    code::versionstamp, code::nested};
  static_assert(std::variant_size_v<Element::Value> == sizeof by_index);
  return by_index[e.value.index()];
}

/// Any integer as sign and minimal big-endian magnitude.
struct Magnitude {
  bool negative = false;
  std::string bytes;
};

Magnitude magnitude_of(const Element& e) {
  if (const auto* big = std::get_if<BigInt>(&e.value)) {
    std::size_t i = 0;
    while (i < big->magnitude.size() && big->magnitude[i] == '\0') ++i;
    Magnitude m{big->negative, big->magnitude.substr(i)};
    if (m.bytes.empty()) m.negative = false;
    return m;
  }
  const auto v = std::get<std::int64_t>(e.value);
  const std::uint64_t u = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  Magnitude m{v < 0, {}};
  for (int shift = 56; shift >= 0; shift -= 8) {
    const auto byte = static_cast<char>(u >> shift);
    if (!m.bytes.empty() || byte != '\0') m.bytes.push_back(byte);
  }
  return m;
}

std::strong_ordering compare_bytes(std::string_view a, std::string_view b) noexcept {
  const int c = a.compare(b);
  return c < 0 ? std::strong_ordering::less : c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal;
}

std::strong_ordering compare_integers(const Element& a, const Element& b) {
  const auto* x = std::get_if<std::int64_t>(&a.value);
  const auto* y = std::get_if<std::int64_t>(&b.value);
  if (x != nullptr && y != nullptr) return *x <=> *y;
  const auto ma = magnitude_of(a);
  const auto mb = magnitude_of(b);
  if (ma.negative != mb.negative) return ma.negative ? std::strong_ordering::less : std::strong_ordering::greater;
  // Same sign: a longer magnitude is further from zero; equal lengths compare bytewise.
  auto by_size = ma.bytes.size() <=> mb.bytes.size();
  auto order = by_size != 0 ? by_size : compare_bytes(ma.bytes, mb.bytes);
  return ma.negative ? 0 <=> order : order;
}

}  // namespace

std::strong_ordering compare(const Element& a, const Element& b) {
  if (const auto ra = rank(a), rb = rank(b); ra != rb) return ra <=> rb;
  switch (a.value.index()) {
    case 0: return std::strong_ordering::equal;
    case 1: return compare_bytes(std::get<Bytes>(a.value).value, std::get<Bytes>(b.value).value);
    case 2: return compare_bytes(std::get<std::string>(a.value), std::get<std::string>(b.value));
    case 3:
    case 4: return compare_integers(a, b);
    case 5:
      return detail::float_order_key(std::get<Float>(a.value).value) <=>
             detail::float_order_key(std::get<Float>(b.value).value);
    case 6: return detail::double_order_key(std::get<double>(a.value)) <=> detail::double_order_key(std::get<double>(b.value));
    case 7: return std::get<bool>(a.value) <=> std::get<bool>(b.value);
    case 8: return std::get<Uuid>(a.value).bytes <=> std::get<Uuid>(b.value).bytes;
    case 9: {
      const auto& x = std::get<Versionstamp>(a.value);
      const auto& y = std::get<Versionstamp>(b.value);
      if (auto c = x.transaction_version <=> y.transaction_version; c != 0) return c;
      return x.user_version <=> y.user_version;
    }
    default: return compare(std::get<Tuple>(a.value), std::get<Tuple>(b.value));
  }
}

std::strong_ordering compare(const Tuple& a, const Tuple& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (auto c = compare(a[i], b[i]); c != 0) return c;
  }
  return a.size() <=> b.size();
}

bool operator==(const Element& a, const Element& b) {
  if (a.value.index() != b.value.index()) return false;
  if (const auto* x = std::get_if<double>(&a.value)) {
    return std::bit_cast<std::uint64_t>(*x) == std::bit_cast<std::uint64_t>(std::get<double>(b.value));
  }
  return a.value == b.value;  // Float's operator== is bitwise; a Tuple compares with this function
}

}  // namespace plexus::store
