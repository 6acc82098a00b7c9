// Helpers shared by the tuple codec's source files (tuple.cpp, tuple_unpack.cpp,
// tuple_compare.cpp, tuple_json.cpp); not part of the public API.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace plexus::store::detail {

/// Type codes of design/tuple.md.
namespace code {
inline constexpr std::uint8_t null = 0x00;
inline constexpr std::uint8_t bytes = 0x01;
inline constexpr std::uint8_t string = 0x02;
inline constexpr std::uint8_t nested = 0x05;
inline constexpr std::uint8_t neg_big = 0x0b;
inline constexpr std::uint8_t int_zero = 0x14;
inline constexpr std::uint8_t pos_big = 0x1d;
inline constexpr std::uint8_t float32 = 0x20;
inline constexpr std::uint8_t float64 = 0x21;
inline constexpr std::uint8_t false_ = 0x26;
inline constexpr std::uint8_t true_ = 0x27;
inline constexpr std::uint8_t uuid = 0x30;
inline constexpr std::uint8_t versionstamp = 0x33;
/// After 00 inside a nested tuple: the 00 was a null, not the end.
inline constexpr std::uint8_t escape = 0xff;
}  // namespace code

/// The bits whose unsigned order is the tuple order of floats: positive values
/// get the sign bit set, negative ones every bit flipped.
inline std::uint32_t float_order_key(float f) noexcept {
  const auto bits = std::bit_cast<std::uint32_t>(f);
  return (bits & 0x8000'0000u) != 0 ? ~bits : bits ^ 0x8000'0000u;
}
inline float float_from_order_key(std::uint32_t key) noexcept {
  return std::bit_cast<float>((key & 0x8000'0000u) != 0 ? key ^ 0x8000'0000u : ~key);
}
inline std::uint64_t double_order_key(double d) noexcept {
  const auto bits = std::bit_cast<std::uint64_t>(d);
  constexpr std::uint64_t sign = std::uint64_t{1} << 63;
  return (bits & sign) != 0 ? ~bits : bits ^ sign;
}
inline double double_from_order_key(std::uint64_t key) noexcept {
  constexpr std::uint64_t sign = std::uint64_t{1} << 63;
  return std::bit_cast<double>((key & sign) != 0 ? key ^ sign : ~key);
}

/// Index of the first 00 byte in p[0..n), or n. Inline and 8 bytes at a time:
/// tuple strings are short, where a call to memchr costs more than the scan.
inline std::size_t find_zero(const std::uint8_t* p, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p + i, 8);
    // The high bit of each zero byte, and maybe of bytes after the first zero
    // byte, never before it: the lowest set bit marks the first zero.
    const std::uint64_t zeros = (w - 0x0101'0101'0101'0101ull) & ~w & 0x8080'8080'8080'8080ull;
    if (zeros != 0) {
      if constexpr (std::endian::native == std::endian::little) return i + std::countr_zero(zeros) / 8;
      break;
    }
  }
  for (; i < n; ++i) {
    if (p[i] == 0) return i;
  }
  return n;
}

/// Length of the valid UTF-8 prefix of `text` (RFC 3629: no overlong forms,
/// no surrogates, nothing past U+10FFFF); text.size() when all of it is valid.
inline std::size_t utf8_valid_prefix(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  const std::size_t n = text.size();
  if (n < 8) {
    // Short ASCII (most key parts): one OR over the bytes.
    unsigned high = 0;
    for (std::size_t k = 0; k < n; ++k) high |= p[k];
    if ((high & 0x80u) == 0) return n;
  }
  std::size_t i = 0;
  while (i < n) {
    // ASCII runs, 8 bytes at a time: the common case for keys.
    if (i + 8 <= n) {
      std::uint64_t chunk = 0;
      std::memcpy(&chunk, p + i, 8);
      if ((chunk & 0x8080'8080'8080'8080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const std::uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (b >= 0xc2 && b <= 0xdf) {
      len = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      if (b == 0xe0) lo = 0xa0;
      if (b == 0xed) hi = 0x9f;  // U+D800..U+DFFF are surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      if (b == 0xf0) lo = 0x90;
      if (b == 0xf4) hi = 0x8f;
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return i;
    }
    i += len;
  }
  return n;
}

}  // namespace plexus::store::detail
