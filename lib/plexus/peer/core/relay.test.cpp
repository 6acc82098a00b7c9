// Relay choice: only reachable members off the message's path, and every eligible one in turn.
#include <doctest/doctest.h>

#include <map>

#include "plexus/peer/core/relay.hpp"

using namespace plexus::peer::core;

TEST_CASE("a relay is up, not cut off, and neither target, origin nor already visited") {
  // Proves the exclusions that keep relays useful and loop-free.
  std::mt19937_64 rng(1);
  std::vector<RelayCandidate> members = {
      {"target", true, false}, {"origin", true, false}, {"down", false, false},
      {"cut", true, true},     {"visited", true, false}, {"good", true, false}};
  for (int i = 0; i < 100; ++i) {
    auto relay = choose_relay(members, "target", "origin", {"visited"}, rng);
    REQUIRE(relay.has_value());
    CHECK(*relay == "good");
  }
}

TEST_CASE("no relay when nobody qualifies") {
  // Proves the caller gets a definite 'no path' instead of a bad relay.
  std::mt19937_64 rng(1);
  std::vector<RelayCandidate> members = {{"target", true, false}, {"down", false, false}};
  CHECK_FALSE(choose_relay(members, "target", "origin", {}, rng).has_value());
}

TEST_CASE("eligible relays share the load") {
  // Proves the choice is spread, not stuck on one member.
  std::mt19937_64 rng(7);
  std::vector<RelayCandidate> members = {{"a", true, false}, {"b", true, false}, {"c", true, false}};
  std::map<std::string, int> picked;
  for (int i = 0; i < 3000; ++i) ++picked[*choose_relay(members, "t", "o", {}, rng)];
  for (const auto& name : {"a", "b", "c"}) CHECK(picked[name] > 800);
}
