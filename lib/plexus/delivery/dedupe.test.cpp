// Dedupe and AckBatcher: verdicts under duplication and reordering, limits, forgetting.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "plexus/delivery/dedupe.hpp"
#include "plexus/delivery/test_seeds.hpp"

using namespace plexus::delivery;

TEST_CASE("in-order ids are delivered once and repeats are duplicates") {
  // Proves the watermark path: each id delivers once, any id at or below the watermark is a duplicate.
  Dedupe dedupe;
  for (std::uint64_t id = 1; id <= 5; ++id) CHECK(dedupe.check(7, "a", id) == Verdict::deliver);
  CHECK(dedupe.watermark(7) == 5);
  CHECK(dedupe.check(7, "a", 3) == Verdict::duplicate);
  CHECK(dedupe.check(7, "a", 0) == Verdict::stale);
  CHECK(dedupe.held(7) == 0);
}

TEST_CASE("random duplication and reordering still deliver each id exactly once") {
  // Proves, over seeds, that a shuffled stream with many copies of every id delivers each id once and compacts.
  for (std::uint64_t seed : test::seeds(200)) {
    INFO("replay: " << test::replay(seed, "random duplication and reordering*"));
    std::mt19937_64 rng(seed);
    const std::uint64_t count = 1 + rng() % 500;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> arrivals;  // (instance, id)
    for (std::uint64_t instance : {11u, 22u}) {
      for (std::uint64_t id = 1; id <= count; ++id) {
        const auto copies = 1 + rng() % 4;
        for (std::uint64_t c = 0; c < copies; ++c) arrivals.emplace_back(instance, id);
      }
    }
    std::shuffle(arrivals.begin(), arrivals.end(), rng);
    Dedupe dedupe;
    std::map<std::pair<std::uint64_t, std::uint64_t>, int> delivered;
    for (auto [instance, id] : arrivals) {
      const Verdict verdict = dedupe.check(instance, instance == 11 ? "a" : "b", id);
      REQUIRE(verdict != Verdict::overflow);
      REQUIRE(verdict != Verdict::stale);
      if (verdict == Verdict::deliver) ++delivered[{instance, id}];
    }
    CHECK(delivered.size() == 2 * count);
    CHECK(std::all_of(delivered.begin(), delivered.end(), [](const auto& d) { return d.second == 1; }));
    CHECK(dedupe.watermark(11) == count);
    CHECK(dedupe.watermark(22) == count);
    CHECK(dedupe.held(11) == 0);
  }
}

TEST_CASE("ids too far ahead or beyond the held limit overflow, and the next id always passes") {
  // Proves overflow neither delivers nor records, and watermark + 1 is accepted even when the held set is full.
  DedupeOptions options;
  options.max_out_of_order = 3;
  options.max_ahead = 10;
  Dedupe dedupe(options);
  CHECK(dedupe.check(1, "a", 11) == Verdict::overflow);  // 11 - 0 > max_ahead
  CHECK(dedupe.check(1, "a", 10) == Verdict::deliver);
  CHECK(dedupe.check(1, "a", 5) == Verdict::deliver);
  CHECK(dedupe.check(1, "a", 3) == Verdict::deliver);
  CHECK(dedupe.held(1) == 3);
  CHECK(dedupe.check(1, "a", 7) == Verdict::overflow);  // held set full
  CHECK(dedupe.check(1, "a", 7) == Verdict::overflow);  // not recorded, so not a duplicate either
  CHECK(dedupe.check(1, "a", 1) == Verdict::deliver);
  CHECK(dedupe.check(1, "a", 2) == Verdict::deliver);  // folds 3 into the watermark
  CHECK(dedupe.watermark(1) == 3);
  CHECK(dedupe.held(1) == 2);
  CHECK(dedupe.check(1, "a", 7) == Verdict::deliver);
  CHECK(dedupe.check(1, "a", 10) == Verdict::duplicate);
}

TEST_CASE("forgotten instances are refused as stale; a new incarnation starts fresh") {
  // Proves forget_instance/retain_only drop state and that late retransmissions of a dead incarnation never deliver.
  Dedupe dedupe;
  CHECK(dedupe.check(1, "a", 1) == Verdict::deliver);
  CHECK(dedupe.check(2, "b", 1) == Verdict::deliver);
  CHECK(dedupe.check(3, "c", 1) == Verdict::deliver);
  dedupe.forget_instance(1);
  CHECK(dedupe.forgotten(1));
  CHECK(dedupe.check(1, "a", 1) == Verdict::stale);
  CHECK(dedupe.check(1, "a", 2) == Verdict::stale);
  CHECK(dedupe.check(4, "a", 1) == Verdict::deliver);  // node a restarted as instance 4
  dedupe.retain_only({3, 4});
  CHECK(dedupe.instances() == 2);
  CHECK(dedupe.check(2, "b", 2) == Verdict::stale);
  CHECK(dedupe.check(3, "c", 1) == Verdict::duplicate);
  CHECK(dedupe.check(3, "other-name", 2) == Verdict::stale);  // instance bound to its name
}

TEST_CASE("a full instance table refuses newcomers, or evicts the least recently used") {
  // Proves max_instances bounds state under both policies.
  DedupeOptions options;
  options.max_instances = 2;
  Dedupe refuse(options);
  CHECK(refuse.check(1, "a", 1) == Verdict::deliver);
  CHECK(refuse.check(2, "b", 1) == Verdict::deliver);
  CHECK(refuse.check(3, "c", 1) == Verdict::overflow);
  CHECK(refuse.instances() == 2);
  options.when_full = WhenFull::evict_lru;
  Dedupe evict(options);
  CHECK(evict.check(1, "a", 1) == Verdict::deliver);
  CHECK(evict.check(2, "b", 1) == Verdict::deliver);
  CHECK(evict.check(1, "a", 2) == Verdict::deliver);  // 2 is now least recently used
  CHECK(evict.check(3, "c", 1) == Verdict::deliver);
  CHECK(evict.instances() == 2);
  CHECK(evict.watermark(2) == 0);
  CHECK(evict.watermark(1) == 2);
}

TEST_CASE("the ack batcher groups ids per origin, sorted, split at the batch size, bounded") {
  // Proves drain() emits each queued ack once, per origin in ascending order, and that a full batcher drops acks.
  AckBatcherOptions options;
  options.max_ids_per_batch = 3;
  options.max_pending_ids = 6;
  AckBatcher batcher(options);
  for (std::uint64_t id : {5, 1, 4, 2, 3}) CHECK(batcher.add("a", id));
  CHECK(batcher.add("a", 4));  // already queued: free
  CHECK(batcher.add("b", 9));
  CHECK_FALSE(batcher.add("b", 10));
  CHECK(batcher.pending() == 6);
  auto batches = batcher.drain();
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].origin == "a");
  CHECK(batches[0].ids == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(batches[1].ids == std::vector<std::uint64_t>{4, 5});
  CHECK(batches[2].origin == "b");
  CHECK(batches[2].ids == std::vector<std::uint64_t>{9});
  CHECK(batcher.pending() == 0);
  CHECK(batcher.drain().empty());
}
