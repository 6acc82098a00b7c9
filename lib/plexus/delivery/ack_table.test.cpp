// AckTable: ids, retransmission schedule, limits, give-up and target loss.
#include <doctest/doctest.h>

#include "plexus/delivery/ack_table.hpp"
#include "plexus/delivery/errors.hpp"

using namespace plexus::delivery;
using namespace std::chrono_literals;

namespace {

Payload bytes(std::size_t n, std::uint8_t fill = 1) { return Payload(n, fill); }

AckTableOptions every_100ms() {
  AckTableOptions options;
  options.retransmit_interval = 100ms;
  return options;
}

}  // namespace

TEST_CASE("ids are sequential per target, starting at 1") {
  // Proves each target gets its own gap-free sequence, which the receiver's watermark relies on.
  AckTable table(every_100ms());
  CHECK(*table.add("a#1", bytes(1), 0ms) == 1);
  CHECK(*table.add("a#1", bytes(1), 0ms) == 2);
  CHECK(*table.add("b#7", bytes(1), 0ms) == 1);
  CHECK(*table.add("a#1", bytes(1), 0ms) == 3);
  CHECK(table.size() == 4);
  CHECK(table.size_for("a#1") == 3);
  CHECK(table.size_for("nobody") == 0);
}

TEST_CASE("an entry is retransmitted every interval until acknowledged") {
  // Proves due() returns the entry once per retransmit_interval with its payload, and never after the ack.
  AckTable table(every_100ms());
  auto id = table.add("q#1", Payload{1, 2, 3}, 0ms);
  REQUIRE(id.ok());
  CHECK(table.next_deadline() == Time{100ms});
  CHECK(table.due(99ms).empty());
  auto first = table.due(100ms);
  REQUIRE(first.size() == 1);
  CHECK(first[0].target == "q#1");
  CHECK(first[0].id == *id);
  CHECK(first[0].attempt == 2);
  CHECK(std::vector<std::uint8_t>(first[0].payload.begin(), first[0].payload.end()) == Payload{1, 2, 3});
  CHECK(table.due(150ms).empty());
  CHECK(table.next_deadline() == Time{200ms});
  auto second = table.due(200ms);
  REQUIRE(second.size() == 1);
  CHECK(second[0].attempt == 3);
  CHECK(table.acknowledge("q#1", *id));
  CHECK_FALSE(table.acknowledge("q#1", *id));
  CHECK(table.due(10s).empty());
  CHECK(table.size() == 0);
  CHECK(table.bytes() == 0);
  CHECK_FALSE(table.next_deadline().has_value());
}

TEST_CASE("exponential backoff doubles the wait up to the cap") {
  // Proves the retransmission times follow 100, 200, 400, 800, then 1000 ms steps when capped at 1 s.
  auto options = every_100ms();
  options.exponential_backoff = true;
  options.retransmit_interval_max = 1s;
  AckTable table(options);
  REQUIRE(table.add("q#1", bytes(1), 0ms).ok());
  std::vector<Time> sends;
  for (Time now = 0ms; now <= 5s; now += 1ms) {
    if (!table.due(now).empty()) sends.push_back(now);
  }
  const std::vector<Time> expected{100ms, 300ms, 700ms, 1500ms, 2500ms, 3500ms, 4500ms};
  CHECK(sends == expected);
}

TEST_CASE("a full table refuses with ack_table_full, by entries, bytes and targets") {
  // Proves every limit gives a definite error instead of silent loss, and room comes back after acks.
  auto options = every_100ms();
  options.max_entries = 3;
  options.max_bytes = 100;
  options.max_targets = 2;
  AckTable table(options);
  REQUIRE(table.add("a#1", bytes(10), 0ms).ok());
  REQUIRE(table.add("a#1", bytes(10), 0ms).ok());
  REQUIRE(table.add("b#1", bytes(10), 0ms).ok());
  auto full = table.add("a#1", bytes(10), 0ms);
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().code == errc::ack_table_full);
  CHECK(table.acknowledge("a#1", 1));
  auto targets = table.add("c#1", bytes(10), 0ms);
  REQUIRE_FALSE(targets.ok());
  CHECK(targets.error().code == errc::ack_table_full);
  auto too_big = table.add("a#1", bytes(81), 0ms);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == errc::ack_table_full);
  CHECK(*table.add("a#1", bytes(80), 0ms) == 3);  // exactly max_bytes held now
  CHECK(table.bytes() == 100);
  CHECK(table.size() == 3);
}

TEST_CASE("batch and cumulative acknowledgements remove exactly the pending ids") {
  // Proves acknowledge(span) and acknowledge_up_to() count only ids that were pending for that target.
  AckTable table(every_100ms());
  for (int i = 0; i < 10; ++i) REQUIRE(table.add("a#1", bytes(1), 0ms).ok());
  REQUIRE(table.add("b#1", bytes(1), 0ms).ok());
  const std::vector<std::uint64_t> batch{2, 4, 4, 11, 99};
  CHECK(table.acknowledge("a#1", batch) == 2);
  CHECK(table.acknowledge_up_to("a#1", 5) == 3);  // 1, 3, 5
  CHECK(table.acknowledge_up_to("nobody", 5) == 0);
  CHECK(table.size_for("a#1") == 5);
  CHECK(table.size_for("b#1") == 1);
  CHECK(table.acknowledge_up_to("a#1", 1000) == 5);
  CHECK(table.size() == 1);
}

TEST_CASE("fail_target returns every pending entry of the target and restarts its sequence") {
  // Proves a departed target's messages all come back for error callbacks, and other targets are untouched.
  AckTable table(every_100ms());
  for (std::uint8_t i = 1; i <= 5; ++i) REQUIRE(table.add("gone#1", Payload{i}, 0ms).ok());
  REQUIRE(table.add("stays#1", bytes(4), 0ms).ok());
  CHECK(table.acknowledge("gone#1", 3));
  auto failed = table.fail_target("gone#1");
  REQUIRE(failed.size() == 4);
  const std::vector<std::uint64_t> ids{failed[0].id, failed[1].id, failed[2].id, failed[3].id};
  CHECK(ids == std::vector<std::uint64_t>{1, 2, 4, 5});
  for (const Failed& f : failed) {
    CHECK(f.target == "gone#1");
    CHECK(f.reason == errc::target_left);
    CHECK(f.payload == Payload{static_cast<std::uint8_t>(f.id)});
  }
  CHECK(table.size() == 1);
  CHECK(table.bytes() == 4);
  CHECK(table.fail_target("gone#1").empty());
  CHECK(*table.add("gone#1", bytes(1), 0ms) == 1);
  auto due = table.due(100ms);
  CHECK(due.size() == 2);
}

TEST_CASE("an entry gives up after max_attempts transmissions") {
  // Proves the entry is sent max_attempts times in all, then reported once by expired() with gave_up.
  auto options = every_100ms();
  options.max_attempts = 3;
  AckTable table(options);
  REQUIRE(table.add("q#1", bytes(8), 0ms).ok());
  CHECK(table.due(100ms).size() == 1);
  CHECK(table.due(200ms).size() == 1);
  CHECK(table.due(300ms).empty());  // third transmission got no ack within the interval
  CHECK(table.size() == 1);          // still held until expired() hands it out
  CHECK(table.next_deadline() == Time{300ms});
  CHECK_FALSE(table.acknowledge("q#1", 1));  // too late: it is reported as failed
  auto failed = table.expired(300ms);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].reason == errc::gave_up);
  CHECK(failed[0].attempts == 3);
  CHECK(failed[0].payload.size() == 8);
  CHECK(table.size() == 0);
  CHECK(table.bytes() == 0);
  CHECK(table.expired(1s).empty());
}

TEST_CASE("an entry older than max_age is given up at its age deadline") {
  // Proves max_age wakes the shell at first_sent + max_age and expired() works without a prior due().
  auto options = every_100ms();
  options.max_age = 250ms;
  AckTable table(options);
  REQUIRE(table.add("q#1", bytes(1), 0ms).ok());
  REQUIRE(table.add("q#1", bytes(1), 200ms).ok());
  CHECK(table.due(200ms).size() == 1);
  CHECK(table.next_deadline() == Time{250ms});
  CHECK(table.expired(249ms).empty());
  auto failed = table.expired(260ms);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].id == 1);
  CHECK(failed[0].reason == errc::too_old);
  CHECK(table.size() == 1);
  CHECK(table.due(300ms).size() == 1);  // the younger entry still retransmits
}

TEST_CASE("due() honours its limit and leaves the rest due") {
  // Proves a shell can pace retransmissions: unreturned entries stay due and next_deadline stays in the past.
  AckTable table(every_100ms());
  for (int i = 0; i < 5; ++i) REQUIRE(table.add("q#1", bytes(1), 0ms).ok());
  CHECK(table.due(100ms, 2).size() == 2);
  CHECK(table.next_deadline() == Time{100ms});
  CHECK(table.due(100ms).size() == 3);
  CHECK(table.next_deadline() == Time{200ms});
}

TEST_CASE("next_id predicts the id add() returns, per target") {
  // Proves a caller can encode the ack id into the payload before adding it.
  plexus::delivery::AckTable table;
  CHECK(table.next_id("a#1") == 1);
  auto first = table.add("a#1", {1}, plexus::delivery::Time{0});
  REQUIRE(first.ok());
  CHECK(*first == 1);
  CHECK(table.next_id("a#1") == 2);
  CHECK(table.next_id("b#1") == 1);
  auto second = table.add("a#1", {2}, plexus::delivery::Time{0});
  CHECK(*second == 2);
}
