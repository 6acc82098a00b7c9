// Seeded property tests of replica::Map's laws over random histories of 3-6
// replicas of a map of strings: merge is idempotent, commutative and
// associative (any order and grouping gives one state); digest exchanges
// converge; and tombstone GC never lets a replica go back to an entry older
// than one it held, yet completes once replicas settle. A failure prints the
// command that replays its seed (PLEXUS_SEED, lib/plexus/delivery/test_seeds.hpp).
#include <doctest/doctest.h>

#include <map>

#include "plexus/replica/test_support.hpp"

namespace plexus::replica {
namespace {

using test::below;
using test::live;
using test::merge_ok;
using test::replay;
using test::seeds;
using test::StringEntry;
using test::StringMap;

constexpr std::uint64_t histories = 300;

std::string random_key(std::mt19937_64& rng) { return "k" + std::to_string(below(rng, 5)); }
std::string random_value(std::mt19937_64& rng) { return "v" + std::to_string(below(rng, 3)); }

/// 3-6 replicas after 10-60 random puts, removes and partial merges.
std::vector<StringMap> random_history(std::mt19937_64& rng) {
  std::vector<StringMap> replicas(3 + below(rng, 4));
  const std::uint32_t ops = 10 + below(rng, 51);
  for (std::uint32_t op = 0; op < ops; ++op) {
    StringMap& self = replicas[below(rng, static_cast<std::uint32_t>(replicas.size()))];
    const StringMap& other = replicas[below(rng, static_cast<std::uint32_t>(replicas.size()))];
    switch (below(rng, 6)) {
      case 0: case 1: REQUIRE(self.put({random_key(rng), random_value(rng)}).ok()); break;
      case 2: REQUIRE(self.remove(random_key(rng)).ok()); break;
      default: {
        std::vector<StringEntry> some;
        for (const auto& entry : other.entries()) {
          if (below(rng, 2) == 0) some.push_back(entry);
        }
        merge_ok(self, some);
      }
    }
  }
  return replicas;
}

std::vector<StringEntry> join(std::initializer_list<std::span<const StringEntry>> states) {
  StringMap into;
  for (const auto state : states) merge_ok(into, std::vector<StringEntry>(state.begin(), state.end()));
  return into.entries();
}

/// Joins `states` as a random binary tree of merges.
std::vector<StringEntry> join_tree(std::mt19937_64& rng, std::span<const std::vector<StringEntry>> states) {
  if (states.size() == 1) return join({states[0]});
  const std::size_t split = 1 + below(rng, static_cast<std::uint32_t>(states.size() - 1));
  return join({join_tree(rng, states.first(split)), join_tree(rng, states.subspan(split))});
}

TEST_CASE("replica map: merge is idempotent, commutative and associative") {
  // Proves the join laws, and order/grouping independence, on hundreds of random histories.
  const char* name = "replica map: merge is idempotent, commutative and associative";
  for (const auto seed : seeds(histories)) {
    INFO("replay: ", replay(seed, name));
    std::mt19937_64 rng(seed);
    const auto replicas = random_history(rng);
    const auto a = replicas[0].entries();
    const auto b = replicas[1].entries();
    const auto c = replicas[2].entries();
    CHECK(join({a, a}) == join({a}));
    CHECK(join({join({a, b}), b}) == join({a, b}));
    CHECK(join({a, b}) == join({b, a}));
    CHECK(join({join({a, b}), c}) == join({a, join({b, c})}));
    StringMap twice;
    merge_ok(twice, a);
    CHECK(merge_ok(twice, a) == 0);
    std::vector<std::vector<StringEntry>> states;
    for (const auto& replica : replicas) states.push_back(replica.entries());
    const auto all = join_tree(rng, states);
    for (int trial = 0; trial < 3; ++trial) {
      for (std::size_t i = states.size(); i > 1; --i) {
        std::swap(states[i - 1], states[below(rng, static_cast<std::uint32_t>(i))]);
      }
      CHECK(join_tree(rng, states) == all);
    }
  }
}

TEST_CASE("replica map: digest exchanges converge") {
  // Proves diff/entries_for/merge bring every replica to the join of all states.
  const char* name = "replica map: digest exchanges converge";
  for (const auto seed : seeds(histories)) {
    INFO("replay: ", replay(seed, name));
    std::mt19937_64 rng(seed);
    auto replicas = random_history(rng);
    std::vector<std::vector<StringEntry>> states;
    for (const auto& replica : replicas) states.push_back(replica.entries());
    const auto all = join_tree(rng, states);
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      for (std::size_t j = 0; j < replicas.size(); ++j) {
        if (i != j) test::exchange(replicas[i], replicas[j]);
      }
    }
    for (const auto& replica : replicas) CHECK(replica.entries() == all);
  }
}

/// Replicas "r<i>" (instance 100 + i) that put, remove, pull, observe and
/// collect at random; each remembers the greatest entry it ever held per key.
struct GcSim {
  std::mt19937_64 rng;
  std::vector<StringMap> replicas;
  std::vector<std::string> names;
  std::vector<std::map<std::string, StringEntry>> high_water;
  std::size_t collected = 0;

  explicit GcSim(std::uint64_t seed) : rng(seed) {
    const std::uint32_t count = 3 + below(rng, 4);
    replicas.resize(count);
    high_water.resize(count);
    for (std::uint32_t i = 0; i < count; ++i) names.push_back("r" + std::to_string(i));
  }

  std::vector<Life> peers_of(std::size_t self) const {
    std::vector<Life> peers;
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      if (i != self) peers.push_back(Life{names[i], 100 + i});
    }
    return peers;
  }

  void check_no_regression(std::size_t i) {
    for (const auto& entry : replicas[i].entries()) {
      const auto [it, fresh] = high_water[i].try_emplace(entry.key, entry);
      if (fresh) continue;
      INFO("replica ", names[i], " key ", entry.key, " version ", entry.version, " < held ", it->second.version);
      CHECK(StringMap::compare(entry, it->second) >= 0);
      if (StringMap::compare(entry, it->second) > 0) it->second = entry;
    }
  }

  void pull(std::size_t into, std::size_t from) {
    if (into == from) return;
    const auto diff = replicas[into].diff(replicas[from].digest());
    REQUIRE(diff.ok());
    merge_ok(replicas[into], replicas[from].entries_for(diff->pull));
  }

  void observe(std::size_t into, std::size_t from) {
    if (into != from) CHECK(replicas[into].observe(names[from], 100 + from, replicas[from].digest()));
  }

  void collect(std::size_t i) {
    const auto peers = peers_of(i);
    collected += replicas[i].collect_garbage(peers, [](const std::string&) { return false; });
  }

  void step() {
    const std::size_t i = below(rng, static_cast<std::uint32_t>(replicas.size()));
    const std::size_t j = below(rng, static_cast<std::uint32_t>(replicas.size()));
    const std::string key = "k" + std::to_string(below(rng, 3));
    switch (below(rng, 12)) {
      case 0: REQUIRE(replicas[i].put({key, "v" + std::to_string(below(rng, 3))}).ok()); break;
      case 1: case 2: REQUIRE(replicas[i].remove(key).ok()); break;
      case 3: case 4: case 5: pull(i, j); break;
      case 6: case 7: case 8: case 9: observe(i, j); break;
      default: collect(i);
    }
    check_no_regression(i);
  }

  /// Rounds of every pull, observation and GC, with no more writes.
  void settle() {
    for (int round = 0; round < 4; ++round) {
      for (std::size_t i = 0; i < replicas.size(); ++i) {
        for (std::size_t j = 0; j < replicas.size(); ++j) pull(i, j);
      }
      for (std::size_t i = 0; i < replicas.size(); ++i) {
        for (std::size_t j = 0; j < replicas.size(); ++j) observe(i, j);
      }
      for (std::size_t i = 0; i < replicas.size(); ++i) {
        collect(i);
        check_no_regression(i);
      }
    }
  }
};

TEST_CASE("replica map: GC never resurrects an older entry, and completes once replicas settle") {
  // Proves GC safety (no replica goes back to an older entry) and liveness (all tombstones collected).
  const char* name = "replica map: GC never resurrects an older entry, and completes once replicas settle";
  std::size_t histories_collecting = 0;
  for (const auto seed : seeds(histories)) {
    INFO("replay: ", replay(seed, name));
    GcSim sim(seed);
    const std::uint32_t steps = 100 + below(sim.rng, 300);
    for (std::uint32_t step = 0; step < steps; ++step) sim.step();
    histories_collecting += sim.collected > 0 ? 1 : 0;
    sim.settle();
    for (const auto& replica : sim.replicas) {
      for (const auto& entry : replica.entries()) CHECK_MESSAGE(!entry.removed, entry.key);
      CHECK(replica.entries() == sim.replicas[0].entries());
    }
  }
  // The random steps must really exercise collection, not only the settling.
  CHECK(histories_collecting * 2 >= seeds(histories).size());
}

}  // namespace
}  // namespace plexus::replica
