// RetiredTraffic: the bounded counters of links whose member left.
#include <doctest/doctest.h>

#include "plexus/peer/retired_traffic.hpp"

namespace plexus::peer {
namespace {

TEST_CASE("retired traffic keeps each link until full, then sums new links per channel, never losing a count") {
  // Proves the bound, the defined behaviour when full and that totals never go backwards.
  RetiredTraffic retired(2);
  retired.retire("a", "default", Traffic{1, 10, 2, 20});
  retired.retire("b", "default", Traffic{1, 10, 0, 0});
  CHECK(retired.size() == 2);
  CHECK(retired.folded() == 0);
  // Full: a link already kept still adds up in place.
  retired.retire("a", "default", Traffic{1, 10, 0, 0});
  CHECK(retired.links().at("a/default").messages_sent == 2);
  CHECK(retired.folded() == 0);
  // Full: new links go to "_retired/<channel>", counted.
  retired.retire("c", "default", Traffic{5, 50, 0, 0});
  retired.retire("d", "default", Traffic{1, 1, 1, 1});
  retired.retire("d", "bulk", Traffic{0, 0, 3, 30});
  CHECK(retired.size() == 2);
  CHECK(retired.folded() == 3);
  CHECK_FALSE(retired.links().contains("c/default"));
  const Traffic& other = retired.links().at("_retired/default");
  CHECK(other.messages_sent == 6);
  CHECK(other.bytes_sent == 51);
  CHECK(other.messages_received == 1);
  CHECK(retired.links().at("_retired/bulk").bytes_received == 30);
  std::uint64_t sent = 0;
  for (const auto& [key, t] : retired.links()) sent += t.messages_sent;
  CHECK(sent == 1 + 1 + 1 + 5 + 1);
}

TEST_CASE("retired traffic with no room sums every link per channel") {
  // Proves a zero bound is valid: only the per-channel totals are kept.
  RetiredTraffic retired(0);
  retired.retire("a", "default", Traffic{1, 1, 1, 1});
  CHECK(retired.links().size() == 1);
  CHECK(retired.folded() == 1);
}

}  // namespace
}  // namespace plexus::peer
