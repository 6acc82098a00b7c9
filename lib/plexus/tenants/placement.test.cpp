// Tests of placement: rendezvous ownership (seeded properties: a leaving
// node's tenants move and nothing else does; a joining node only takes
// tenants; owners host the module and are up), the majority quorum with
// stable_after, at most one running side per tenant under `majority` in any
// two-way partition, and deterministic resolution of duplicates on heal.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "plexus/core/test_seed.hpp"
#include "plexus/tenants/placement.hpp"

namespace plexus::tenants {
namespace {

using namespace std::chrono_literals;

std::uint32_t below(std::mt19937_64& rng, std::uint32_t bound) { return static_cast<std::uint32_t>(rng() % bound); }

std::string replay(std::uint64_t seed, const char* name) {
  return test_seed::replay(seed, "lib/plexus/tenants/tenants_test", name);
}

std::vector<std::string> node_names(std::size_t count) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back("n" + std::to_string(i));
  return out;
}

std::map<std::string, std::string> owners(const std::vector<std::string>& nodes, int tenants) {
  std::map<std::string, std::string> out;
  for (int t = 0; t < tenants; ++t) {
    const std::string id = "tenant-" + std::to_string(t);
    out[id] = *owner_of(id, nodes);
  }
  return out;
}

TEST_CASE("placement property: a leaving node's tenants move and nothing else does; a joining node only takes") {
  // Proves rendezvous hashing's minimal movement on hundreds of random clusters.
  const char* name = "placement property: a leaving node's tenants move and nothing else does; a joining node only takes";
  for (const auto seed : test_seed::seeds(200)) {
    INFO("replay: ", replay(seed, name));
    std::mt19937_64 rng(seed);
    auto nodes = node_names(2 + below(rng, 10));
    const auto before = owners(nodes, 300);
    const std::string leaving = nodes[below(rng, static_cast<std::uint32_t>(nodes.size()))];
    auto remaining = nodes;
    std::erase(remaining, leaving);
    const auto after_leave = owners(remaining, 300);
    std::size_t moved = 0;
    for (const auto& [tenant, owner] : before) {
      if (owner == leaving) {
        ++moved;
        CHECK(after_leave.at(tenant) != leaving);
      } else {
        CHECK(after_leave.at(tenant) == owner);
      }
    }
    CHECK(moved > 0);  // 300 tenants on at most 11 nodes: every node owns some
    auto joined = nodes;
    joined.push_back("new");
    for (const auto& [tenant, owner] : owners(joined, 300)) {
      CHECK((owner == before.at(tenant) || owner == "new"));
    }
    auto shuffled = nodes;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    CHECK(owners(shuffled, 300) == before);
  }
}

TEST_CASE("placement: owners are up members hosting the module, and load spreads") {
  // Proves candidates() filters by up and module, owner_of picks among them only, and no node is starved.
  std::vector<Member> members{{"a", true, {"kv"}, {}}, {"b", false, {"kv", "counter"}, {}}, {"c", true, {"counter"}, {}},
                              {"d", true, {"kv", "counter"}, {}}};
  CHECK(candidates(members, "kv") == std::vector<std::string>{"a", "d"});
  CHECK(candidates(members, "counter") == std::vector<std::string>{"c", "d"});
  CHECK(candidates(members, "none").empty());
  CHECK_FALSE(owner_of("t", candidates(members, "none")));
  std::map<std::string, int> load;
  const auto kv = candidates(members, "kv");
  for (int t = 0; t < 2'000; ++t) ++load[*owner_of("t" + std::to_string(t), kv)];
  CHECK(load.size() == 2);
  CHECK(load["a"] > 800);
  CHECK(load["d"] > 800);
}

TEST_CASE("quorum: majority runs only with a strict majority seen for stable_after, and stops at once without") {
  // Proves the majority policy's timing and threshold; available always runs.
  Quorum quorum(QuorumOptions{2'000ms});
  Time now{0};
  quorum.observe(4, 2, now);  // half is not a majority
  CHECK_FALSE(quorum.may_run(Policy::majority, now));
  CHECK(quorum.may_run(Policy::available, now));
  CHECK(quorum.next_deadline() == Time::max());
  quorum.observe(4, 3, now);
  CHECK_FALSE(quorum.may_run(Policy::majority, now + 1'999ms));
  CHECK(quorum.next_deadline() == now + 2'000ms);
  CHECK(quorum.may_run(Policy::majority, now + 2'000ms));
  quorum.observe(4, 4, now + 3'000ms);  // still a majority: the clock keeps running
  CHECK(quorum.may_run(Policy::majority, now + 3'000ms));
  quorum.observe(4, 1, now + 4'000ms);
  CHECK_FALSE(quorum.may_run(Policy::majority, now + 4'000ms));
  quorum.observe(4, 3, now + 5'000ms);
  CHECK_FALSE(quorum.may_run(Policy::majority, now + 6'000ms));  // stable_after again from the heal
  CHECK(quorum.may_run(Policy::majority, now + 7'000ms));
  CHECK(default_policy(2) == Policy::available);
  CHECK(default_policy(3) == Policy::majority);
}

TEST_CASE("placement property: under majority at most one side of any two-way partition runs a tenant") {
  // Proves the majority policy's guarantee on random clusters and partitions; under available both sides may.
  const char* name = "placement property: under majority at most one side of any two-way partition runs a tenant";
  std::size_t available_duplicates = 0;
  for (const auto seed : test_seed::seeds(200)) {
    INFO("replay: ", replay(seed, name));
    std::mt19937_64 rng(seed);
    const auto nodes = node_names(3 + below(rng, 8));
    std::vector<std::string> side_a, side_b;
    for (const auto& node : nodes) (below(rng, 2) ? side_a : side_b).push_back(node);
    for (int t = 0; t < 50; ++t) {
      const std::string tenant = "t" + std::to_string(t);
      std::vector<Claim> running_majority, running_available;
      for (const auto* side : {&side_a, &side_b}) {
        const auto owner = owner_of(tenant, *side);
        if (!owner) continue;
        Quorum quorum(QuorumOptions{0ms});
        quorum.observe(nodes.size(), side->size(), Time{0});
        if (quorum.may_run(Policy::majority, Time{0})) running_majority.push_back({*owner, 0});
        if (quorum.may_run(Policy::available, Time{0})) running_available.push_back({*owner, 0});
      }
      CHECK(running_majority.size() <= 1);
      if (running_available.size() < 2) continue;
      ++available_duplicates;
      // On heal every node computes the same winner, whatever order it met the claims in.
      const auto resolved = resolve(tenant, running_available);
      std::reverse(running_available.begin(), running_available.end());
      CHECK(resolve(tenant, running_available).winner == resolved.winner);
      CHECK(resolved.losers.size() == 1);
      CHECK(resolved.winner == *owner_of(tenant, nodes));  // the healed placement keeps the winner
    }
  }
  CHECK(available_duplicates > 0);
}

TEST_CASE("resolve: the highest fencing epoch wins, then the rendezvous score; losers are named once") {
  // Proves resolve()'s order and its output shape.
  const std::vector<Claim> claims{{"a", 3}, {"b", 7}, {"c", 7}, {"a", 1}};
  const auto resolved = resolve("t", claims);
  const std::string expected = rendezvous_score("b", "t") > rendezvous_score("c", "t") ? "b" : "c";
  CHECK(resolved.winner == expected);
  CHECK(resolved.losers.size() == 2);
  CHECK(std::find(resolved.losers.begin(), resolved.losers.end(), "a") != resolved.losers.end());
  CHECK(resolve("t", {}).winner.empty());
}

}  // namespace
}  // namespace plexus::tenants
