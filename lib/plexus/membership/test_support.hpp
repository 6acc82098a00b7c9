// Spec and state builders shared by the membership tests (not installed).
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "plexus/core/test_seed.hpp"
#include "plexus/membership/membership.hpp"

namespace plexus::membership::test {

/// A valid spec on 127.0.0.1:port with the default channel only.
inline NodeSpec spec(const std::string& name, std::uint64_t instance_id = 1, std::uint16_t port = 7000) {
  NodeSpec out;
  out.name = name;
  out.listen_addrs = {ListenAddr{"127.0.0.1", port}};
  out.channels.emplace("default", ChannelSpec{});
  out.instance_id = instance_id;
  return out;
}

inline Entry live(const NodeSpec& node, std::uint64_t version) { return Entry{node, version, false}; }
inline Entry tombstone(const NodeSpec& node, std::uint64_t version) { return Entry{node, version, true}; }

/// Names of the live members, in order.
inline std::vector<std::string> names(const Membership& membership) {
  std::vector<std::string> out;
  for (const NodeSpec& member : membership.members()) out.push_back(member.name);
  return out;
}

/// Merges, requiring success, and returns the changes.
inline std::vector<Change> merge_ok(Membership& into, const std::vector<Entry>& entries) {
  auto changes = into.merge(entries);
  REQUIRE_MESSAGE(changes.ok(), changes.error().message());
  return std::move(changes).value();
}

/// One full anti-entropy exchange, as the shell runs it: `a` sends its digest,
/// `b` answers with what `a` lacks and asks for what it lacks itself.
inline void exchange(Membership& a, Membership& b) {
  const auto diff = b.diff(a.digest());
  REQUIRE(diff.ok());
  merge_ok(a, diff->push);
  merge_ok(b, a.entries_for(diff->pull));
}

/// Seeds 1..count, or what $PLEXUS_SEED names (core/test_seed.hpp: N
/// replays one failure, A..B is a soak).
inline std::vector<std::uint32_t> seeds(std::uint32_t count) {
  std::vector<std::uint32_t> out;
  for (const auto seed : test_seed::seeds(count)) out.push_back(static_cast<std::uint32_t>(seed));
  return out;
}

/// The command that replays one seed of the test case named `test_case`.
inline std::string replay_command(std::uint32_t seed, const std::string& test_case) {
  return test_seed::replay(seed, "lib/plexus/membership/membership_test", test_case);
}

/// rng() % bound: unlike std distributions, the same on every standard library.
inline std::uint32_t below(std::mt19937& rng, std::uint32_t bound) { return rng() % bound; }

/// Fisher-Yates with below(), so a seed shuffles alike everywhere.
template <class T>
void shuffle(std::vector<T>& items, std::mt19937& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    std::swap(items[i - 1], items[below(rng, static_cast<std::uint32_t>(i))]);
  }
}

template <class T>
void check_error(const Result<T>& result, std::error_code code, const std::string& detail_prefix) {
  REQUIRE_FALSE(result.ok());
  INFO("detail: ", result.error().detail);
  CHECK(result.error().code == code);
  CHECK(result.error().detail.starts_with(detail_prefix));
}

}  // namespace plexus::membership::test
