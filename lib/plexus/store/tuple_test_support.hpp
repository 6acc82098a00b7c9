// Helpers for the tuple tests: hex literals, and a seeded generator of random
// tuples that reaches every element type, nesting, big integers, NaNs, -0,
// escaped 00 bytes and versionstamps, and tends to make near-equal tuples so
// that the order is tested where it is subtle.
#pragma once

#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "plexus/delivery/test_seeds.hpp"
#include "plexus/store/tuple.hpp"

namespace plexus::store::test {

/// Bytes from hex; the test fails on bad hex.
inline std::string bytes_of(std::string_view hex) {
  auto raw = from_hex(hex);
  REQUIRE_MESSAGE(raw.ok(), hex);
  return std::move(*raw);
}

/// Packed hex, or "error: ..." so a failing CHECK shows why.
inline std::string packed_hex(const Tuple& t) {
  auto packed = pack(t);
  return packed ? to_hex(*packed) : "error: " + packed.error().message();
}

/// The command replaying one seed of one test case of store_tuple_test.
inline std::string replay(std::uint64_t seed, const char* test_case) {
  return "(in the build directory) PLEXUS_SEED=" + std::to_string(seed) +
         " lib/plexus/store/store_tuple_test -tc='" + test_case + "'";
}

using delivery::test::seeds;

class TupleGenerator {
 public:
  explicit TupleGenerator(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t below(std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return below(100) < static_cast<std::uint64_t>(percent); }

  Tuple tuple(int depth = 0, std::size_t length_max = 5) {
    Tuple t;
    for (auto n = below(length_max + 1); n > 0; --n) t.push_back(element(depth));
    return t;
  }

  /// A tuple close to `t`: cut, extended, or with one element changed.
  Tuple near(const Tuple& t) {
    Tuple u = t;
    switch (below(4)) {
      case 0: u.resize(below(t.size() + 1)); break;
      case 1: u.push_back(element(0)); break;
      case 2:
        if (!u.empty()) u[below(u.size())] = element(0);
        break;
      default:
        if (!u.empty()) u.back() = element(0);
        u.push_back(element(0));
    }
    return u;
  }

  Element element(int depth) {
    switch (below(depth < 3 ? 13 : 12)) {
      case 0: return nullptr;
      case 1: return Bytes{bytes(6)};
      case 2: return text();
      case 3:
      case 4: return integer();
      case 5: return big_integer();
      case 6: return Float{std::bit_cast<float>(static_cast<std::uint32_t>(float_bits()))};
      case 7: return std::bit_cast<double>(double_bits());
      case 8: return chance(50);
      case 9: {
        Uuid u;
        for (auto& b : u.bytes) b = pick_byte();
        return u;
      }
      case 10:
      case 11: return versionstamp();
      default: return tuple(depth + 1, 3);
    }
  }

 private:
  std::uint8_t pick_byte() {
    static constexpr std::uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
    return chance(70) ? interesting[below(6)] : static_cast<std::uint8_t>(below(256));
  }

  std::string bytes(std::size_t length_max) {
    std::string s;
    for (auto n = below(length_max + 1); n > 0; --n) s.push_back(static_cast<char>(pick_byte()));
    return s;
  }

  // Valid UTF-8 from every encoded length, with NUL and no surrogates.
  std::string text() {
    static constexpr char32_t pool[] = {0x0, 0x1, 'a', 'z', 0x7f, 0x80, 0xd4, 0x7ff, 0x800, 0xd7ff, 0xe000,
                                        0xfb49, 0xffff, 0x10000, 0x1f525, 0x10ffff};
    std::string s;
    for (auto n = below(5); n > 0; --n) {
      char32_t c = pool[below(std::size(pool))];
      if (chance(20)) {
        c = static_cast<char32_t>(below(0x110000));
        if (c >= 0xd800 && c < 0xe000) c = 'x';
      }
      append_utf8(s, c);
    }
    return s;
  }

  static void append_utf8(std::string& s, char32_t c) {
    if (c < 0x80) {
      s.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      s.push_back(static_cast<char>(0xc0 | (c >> 6)));
      s.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
      s.push_back(static_cast<char>(0xe0 | (c >> 12)));
      s.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else {
      s.push_back(static_cast<char>(0xf0 | (c >> 18)));
      s.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }

  Element integer() {
    static constexpr std::int64_t edges[] = {0, 1, -1, 255, -255, 256, -256, 65535, 65536, -65536,
                                             INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
    if (chance(40)) return edges[below(std::size(edges))];
    const auto bits = below(64);
    const auto v = static_cast<std::int64_t>(rng_() >> (63 - bits) >> 1);
    return chance(50) ? v : -v;
  }

  Element big_integer() {
    // Mostly just past int64 (8 and 9 bytes), sometimes up to the 255-byte limit.
    const std::size_t length = chance(80) ? 8 + below(3) : 1 + below(big_int_bytes_max);
    std::string magnitude;
    for (std::size_t i = 0; i < length; ++i) magnitude.push_back(static_cast<char>(pick_byte()));
    return BigInt{chance(50), magnitude};
  }

  std::uint64_t float_bits() {
    static constexpr std::uint32_t edges[] = {0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fffffff,
                                              0xffffffff, 0xff800001, 0x7f800001, 0x00000001, 0x80000001};
    if (chance(50)) return edges[below(std::size(edges))];
    return static_cast<std::uint32_t>(rng_());
  }

  std::uint64_t double_bits() {
    static constexpr std::uint64_t edges[] = {0, 0x8000000000000000, 0x7ff0000000000000, 0xfff0000000000000,
                                              0x7ff8000000000000, 0x7fffffffffffffff, 0xffffffffffffffff,
                                              0xfff0000000000001, 0x0000000000000001};
    if (chance(50)) return edges[below(std::size(edges))];
    return rng_();
  }

  Versionstamp versionstamp() {
    static constexpr std::uint16_t users[] = {0, 1, 0xa101, 0xffff};
    Versionstamp v;
    for (auto& b : v.transaction_version) b = chance(50) ? 0xff : pick_byte();
    if (!v.complete()) v.transaction_version[9] = 0xfe;  // pack() refuses incomplete stamps
    v.user_version = chance(80) ? users[below(4)] : static_cast<std::uint16_t>(below(65536));
    return v;
  }

  std::mt19937_64 rng_;
};

}  // namespace plexus::store::test
