// Seeded property tests of the State join: random writers, lossy/duplicating/
// reordered delivery with stale transfers, third-party relays. Checks after
// every merge that an observer's view of a replica is exactly that replica's
// true state at the clock the observer knows, whenever that clock ends a whole
// delta (inside a delta split in parts, an earlier part may already reflect
// removals of later parts: it is built from the current state), and that all
// observers converge. A failure prints
// the seed; PLEXUS_SEED=<n> replays one.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <random>

#include "plexus/core/test_seed.hpp"
#include "plexus/presence/test_support.hpp"

using namespace plexus::presence;
using namespace plexus::presence::testing;
using json = nlohmann::json;

namespace {

struct Writer {
  State state;
  std::map<Sequence, std::set<Row>> history;  ///< true state after each clock
  std::vector<Batch> stream;              ///< every delta, in order
  std::set<Sequence> exact{0};               ///< clocks that end a whole delta
  Sequence sent = 0;
};

void random_change(Writer& w, std::mt19937_64& rng) {
  const std::string topic = "t" + std::to_string(rng() % 3);
  const std::string key = "k" + std::to_string(rng() % 6);
  const std::uint64_t owner = 1 + rng() % 2;
  const json meta = {{"v", static_cast<int>(rng() % 3)}};
  switch (rng() % 3) {
    case 0: (void)w.state.track(owner, topic, key, meta, nullptr); break;
    case 1: (void)w.state.untrack(owner, topic, key, nullptr); break;
    default: (void)w.state.update(owner, topic, key, meta, nullptr); break;
  }
}

void record(Writer& w, std::mt19937_64& rng) {
  const auto [clock, rows] = view(w.state, w.state.self().instance);
  w.history[clock] = rows;
  if (clock > w.sent && rng() % 2 == 0) {
    auto delta = w.state.delta_since(w.sent, 1 + rng() % 4);
    REQUIRE(delta);
    for (auto& b : *delta) w.stream.push_back(std::move(b));
    w.sent = clock;
    w.exact.insert(clock);
  }
}

/// The observer's view of every writer is a true historical state.
void check_consistent(const State& observer, std::vector<Writer>& writers) {
  for (auto& w : writers) {
    const auto [clock, rows] = view(observer, w.state.self().instance);
    REQUIRE(w.history.contains(clock));
    if (!w.exact.contains(clock)) continue;
    CHECK(rows == w.history[clock]);
  }
}

void run(std::uint64_t seed) {
  INFO("replay: " << plexus::test_seed::replay(seed, "lib/plexus/presence/presence_state_test", "random delivery orders*"));
  std::mt19937_64 rng(seed);
  std::vector<Writer> writers;
  for (std::uint64_t i = 0; i < 3; ++i) {
    writers.push_back(Writer{State(Replica{"w" + std::to_string(i), 0, 100 + i}), {}, {}, {0}, 0});
    writers.back().history[0] = {};
  }
  std::vector<State> observers;
  for (std::uint64_t i = 0; i < 3; ++i) observers.emplace_back(Replica{"o" + std::to_string(i), 0, 200 + i});

  for (int step = 0; step < 200; ++step) {
    auto& w = writers[rng() % writers.size()];
    random_change(w, rng);
    record(w, rng);
  }
  // Each observer: deliver each writer's stream with loss, duplicates, and stale full states.
  for (auto& o : observers) {
    std::vector<std::size_t> cursor(writers.size(), 0);
    for (int delivery = 0; delivery < 2000; ++delivery) {
      const std::size_t wi = rng() % writers.size();
      auto& w = writers[wi];
      if (cursor[wi] >= w.stream.size()) continue;
      const auto roll = rng() % 10;
      const Batch& b = w.stream[cursor[wi]];
      if (roll == 0) {
        ++cursor[wi];  // lost
        continue;
      }
      const Sequence before = o.known_clock(w.state.self().instance);
      auto merged = o.merge(b, nullptr);
      if (!merged) {
        CHECK(merged.error().code == errc::delta_gap);
        CHECK(o.known_clock(w.state.self().instance) == before);
      }
      if (roll > 1) ++cursor[wi];  // roll 1: delivered again later (duplicate)
      check_consistent(o, writers);
    }
    for (auto& w : writers) REQUIRE(merge_all(o, w.state.extract(1 + rng() % 5)));
    check_consistent(o, writers);
  }
  // Third-party exchanges in random order, repeated: commutative, associative, idempotent.
  for (int round = 0; round < 30; ++round) {
    auto& from = observers[rng() % observers.size()];
    auto& to = observers[rng() % observers.size()];
    const auto& w = writers[rng() % writers.size()];
    REQUIRE(merge_all(to, from.extract(w.state.self().instance, 1 + rng() % 5)));
    check_consistent(to, writers);
  }
  for (auto& o : observers) {
    for (auto& w : writers) CHECK(view(o, w.state.self().instance) == view(w.state, w.state.self().instance));
  }
}

}  // namespace

TEST_CASE("random delivery orders converge and never move knowledge backwards") {
  // Proves convergence, gap refusal and monotonic knowledge over many seeded schedules.
  for (const auto seed : plexus::test_seed::seeds(60, 0)) run(seed);
}

TEST_CASE("merging full states in any order gives the same state") {
  // Proves commutativity and associativity of the join on states with several replicas each.
  std::mt19937_64 rng(plexus::test_seed::seeds(1, 7).front());
  for (int run = 0; run < 20; ++run) {
    std::vector<Writer> writers;
    for (std::uint64_t i = 0; i < 3; ++i) {
      writers.push_back(Writer{State(Replica{"w" + std::to_string(i), 0, 10 + i}), {}, {}, {0}, 0});
    }
    // Three partial copies of the writers, each taken at a different time.
    std::vector<State> copies;
    for (std::uint64_t c = 0; c < 3; ++c) {
      for (int step = 0; step < 20; ++step) random_change(writers[rng() % 3], rng);
      copies.emplace_back(Replica{"c" + std::to_string(c), 0, 50 + c});
      for (auto& w : writers) {
        if (rng() % 3 != 0) REQUIRE(merge_all(copies.back(), w.state.extract(3)));
      }
    }
    std::vector<int> order{0, 1, 2};
    std::vector<std::set<Row>> results;
    do {
      State target(Replica{"target", 0, 99});
      for (int i : order) {
        for (auto& w : writers) REQUIRE(merge_all(target, copies[i].extract(w.state.self().instance, 2)));
      }
      // Idempotent: everything once more changes nothing.
      for (int i : order) {
        for (auto& w : writers) REQUIRE(merge_all(target, copies[i].extract(w.state.self().instance, 2)));
      }
      std::set<Row> all;
      for (auto& w : writers) {
        auto [clock, rows] = view(target, w.state.self().instance);
        all.insert(rows.begin(), rows.end());
        all.emplace(w.state.self().instance, clock, 0, "", "", "clock");
      }
      results.push_back(all);
    } while (std::next_permutation(order.begin(), order.end()));
    for (const auto& r : results) CHECK(r == results.front());
  }
}
