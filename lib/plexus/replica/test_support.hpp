// Builders shared by the replica tests (not installed): a map of strings,
// its entries, and seeds in lib/plexus/delivery/test_seeds.hpp's convention.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <ostream>  // doctest prints std::error_code
#include <random>
#include <string>
#include <vector>

#include "plexus/delivery/test_seeds.hpp"
#include "plexus/replica/replica.hpp"

namespace plexus::replica::test {

using Strings = KeyValue<std::string, std::string, StringCodec>;
using StringMap = Map<Strings>;
using StringEntry = Strings::Entry;

inline StringEntry live(std::string key, std::string value, std::uint64_t version) {
  return StringEntry{std::move(key), std::move(value), version, false};
}
inline StringEntry tombstone(std::string key, std::string value, std::uint64_t version) {
  return StringEntry{std::move(key), std::move(value), version, true};
}

/// Merges, requiring success, and returns how many entries were taken.
inline std::size_t merge_ok(StringMap& into, const std::vector<StringEntry>& batch) {
  auto taken = into.merge(batch);
  REQUIRE_MESSAGE(taken.ok(), taken.error().message());
  return *taken;
}

/// One anti-entropy exchange: `a` sends its digest, `b` answers with what `a`
/// lacks and asks for what it lacks itself.
inline void exchange(StringMap& a, StringMap& b) {
  const auto diff = b.diff(a.digest());
  REQUIRE(diff.ok());
  merge_ok(a, diff->push);
  merge_ok(b, a.entries_for(diff->pull));
}

/// Seeds 1..count, or only $PLEXUS_SEED (delivery's convention).
inline std::vector<std::uint64_t> seeds(std::uint64_t count) { return delivery::test::seeds(count); }

/// The command that replays one seed of one test case.
inline std::string replay(std::uint64_t seed, const char* test_case) {
  return "(in the build directory) PLEXUS_SEED=" + std::to_string(seed) +
         " lib/plexus/replica/replica_test -tc='" + test_case + "'";
}

/// rng() % bound: unlike std distributions, the same on every standard library.
inline std::uint32_t below(std::mt19937_64& rng, std::uint32_t bound) {
  return static_cast<std::uint32_t>(rng() % bound);
}

}  // namespace plexus::replica::test
