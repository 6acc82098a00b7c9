// The tuple order as seeded property tests over random tuples (every type,
// random nesting, big integers, NaNs, -0, versionstamps): packed bytes sort as
// compare() says, prefixes sort first, range() holds exactly the extensions.
// PLEXUS_SEED=N replays one seed; a failure prints the command.
#include <algorithm>
#include <limits>

#include "plexus/store/tuple_test_support.hpp"

using namespace plexus::store;
using plexus::store::test::bytes_of;
using plexus::store::test::replay;
using plexus::store::test::seeds;
using plexus::store::test::TupleGenerator;

namespace {

int sign(std::strong_ordering o) { return o < 0 ? -1 : o > 0 ? 1 : 0; }
int sign(int c) { return c < 0 ? -1 : c > 0 ? 1 : 0; }

std::string packed(const Tuple& t) {
  auto p = pack(t);
  REQUIRE_MESSAGE(p.ok(), p.error().message());
  return std::move(*p);
}

bool extends(const Tuple& t, const Tuple& prefix) {
  return t.size() > prefix.size() && std::equal(prefix.begin(), prefix.end(), t.begin());
}

constexpr std::uint64_t seed_count = 40;

}  // namespace

TEST_CASE("packed bytes sort exactly as compare() orders tuples") {
  // Proves sign(memcmp(pack(a), pack(b))) == sign(compare(a, b)) and equal order means equal tuples.
  for (const auto seed : seeds(seed_count)) {
    INFO("replay: ", replay(seed, "packed bytes sort exactly as compare() orders tuples"));
    TupleGenerator gen(seed);
    for (int i = 0; i < 500; ++i) {
      const Tuple a = gen.tuple();
      const Tuple b = gen.chance(60) ? gen.near(a) : gen.tuple();
      const auto pa = packed(a), pb = packed(b);
      INFO("a = ", to_json(a).dump(), " b = ", to_json(b).dump());
      REQUIRE(sign(pa.compare(pb)) == sign(compare(a, b)));
      REQUIRE(sign(compare(b, a)) == -sign(compare(a, b)));
      REQUIRE((compare(a, b) == 0) == (a == b));
      auto back = unpack(pa);
      REQUIRE(back.ok());
      REQUIRE(*back == a);
    }
  }
}

TEST_CASE("sorting by compare() and sorting by packed bytes give one order") {
  // Proves a sort by compare() lists the same packed keys as a sort by the bytes.
  for (const auto seed : seeds(seed_count)) {
    INFO("replay: ", replay(seed, "sorting by compare() and sorting by packed bytes give one order"));
    TupleGenerator gen(seed);
    std::vector<Tuple> tuples;
    for (int i = 0; i < 200; ++i) tuples.push_back(i % 2 == 0 || tuples.empty() ? gen.tuple() : gen.near(tuples.back()));
    std::vector<std::string> by_bytes;
    for (const auto& t : tuples) by_bytes.push_back(packed(t));
    std::sort(by_bytes.begin(), by_bytes.end());
    std::stable_sort(tuples.begin(), tuples.end(), [](const Tuple& x, const Tuple& y) { return compare(x, y) < 0; });
    for (std::size_t i = 0; i < tuples.size(); ++i) REQUIRE(to_hex(packed(tuples[i])) == to_hex(by_bytes[i]));
  }
}

TEST_CASE("a tuple sorts before its extensions and range() holds exactly them") {
  // Proves pack(t) < pack(t + (x,)), and range(t) holds every extension, no other tuple, not pack(t) itself.
  for (const auto seed : seeds(seed_count)) {
    INFO("replay: ", replay(seed, "a tuple sorts before its extensions and range() holds exactly them"));
    TupleGenerator gen(seed);
    for (int i = 0; i < 300; ++i) {
      const Tuple t = gen.tuple(0, 3);
      Tuple longer = t;
      longer.push_back(gen.element(0));
      const auto pt = packed(t), plonger = packed(longer);
      REQUIRE(pt < plonger);
      auto r = range(t);
      REQUIRE(r.ok());
      CHECK_FALSE((r->begin <= pt && pt < r->end));
      for (int k = 0; k < 4; ++k) {
        Tuple other = k == 0 ? longer : gen.chance(50) ? gen.near(longer) : gen.tuple();
        const auto po = packed(other);
        INFO("t = ", to_json(t).dump(), " other = ", to_json(other).dump());
        REQUIRE((r->begin <= po && po < r->end) == extends(other, t));
      }
    }
  }
}

TEST_CASE("Java's comparison cases keep their order") {
  // Proves the hand-picked pairs of TupleComparisonTest: zeros, NaNs, infinities, bytes, strings, UUIDs, stamps.
  const auto f = [](std::uint32_t bits) { return Element(Float{std::bit_cast<float>(bits)}); };
  const auto d = [](std::uint64_t bits) { return Element(std::bit_cast<double>(bits)); };
  // Each list is in ascending order.
  const std::vector<std::vector<Element>> ascending{
      {f(0xffffffff), f(0xff800001), f(0xff800000), f(0x80000000), f(0), f(0x7f800000), f(0x7fc00000),
       f(0x7fffffff)},
      {d(0xffffffffffffffff), d(0xfff0000000000000), d(0x8000000000000000), d(0), d(0x7ff0000000000000),
       d(0x7ff8000000000000)},
      {Bytes{""}, Bytes{std::string(1, '\0')}, Bytes{std::string("\0\xff", 2)}, Bytes{"\x7f"}, Bytes{"\x80"}},
      {"\xef\xad\x89", "\xf0\x9f\x94\xa5"},  // U+FB49 < U+1F525 by UTF-8 bytes (not by UTF-16)
      {Uuid{{0x7f}}, Uuid{{0x80}}, Uuid{{0xff}}},
      {Versionstamp{{1}, 0}, Versionstamp{{1}, 1}, Versionstamp{{1}, 0xa101}, Versionstamp{{1}, 0xffff},
       Versionstamp{{2}, 0}},
      {BigInt{true, bytes_of("010000000000000000")}, std::numeric_limits<std::int64_t>::min(), -1, 0, 1,
       std::numeric_limits<std::int64_t>::max(), BigInt{false, bytes_of("8000000000000000")},
       BigInt{false, bytes_of("010000000000000000")}, Float{-1.0f}, -1.0, false, true},
  };
  for (const auto& list : ascending) {
    for (std::size_t i = 0; i + 1 < list.size(); ++i) {
      // Alone, after a null, and nested.
      for (const auto& wrap : {+[](const Element& e) { return Tuple{e}; },
                               +[](const Element& e) { return Tuple{nullptr, e}; },
                               +[](const Element& e) { return Tuple{Tuple{e, nullptr}}; }}) {
        const Tuple a = wrap(list[i]), b = wrap(list[i + 1]);
        INFO(to_json(a).dump(), " < ", to_json(b).dump());
        CHECK(compare(a, b) < 0);
        CHECK(packed(a) < packed(b));
      }
    }
  }
}
