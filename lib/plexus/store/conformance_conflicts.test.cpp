// Conformance, part 2: serializability between transactions — lost updates
// and write skew are refused with `conflict`, range reads conflict with
// inserts into their span, run() retries to success, and two processes
// incrementing one counter through run() lose no increment.
#include <doctest/doctest.h>

#include <string>

#include "plexus/store/conformance_support.hpp"

namespace plexus::store {
namespace {

using testing::Fixture;

Result<void> put(Database& db, std::string_view key, std::string_view value) {
  return db.run([&](Transaction& t) { return t.set(key, value); });
}

/// Sets `key` and commits: the first error of the two. A backend may report a
/// conflict at the write (PostgreSQL's row locks) or at commit (LMDB's
/// validation); the tests accept either.
Result<void> set_and_commit(Transaction& t, std::string_view key, std::string_view value) {
  if (auto ok = t.set(key, value); !ok) return ok;
  return t.commit();
}

bool conflicted(const Result<void>& outcome) { return !outcome.ok() && is(outcome.error(), errc::conflict); }

/// Adds one to the decimal counter at `key` in `t`.
Result<void> increment(Transaction& t, std::string_view key) {
  auto current = t.get(key);
  if (!current) return current.error();
  const long value = *current ? std::stol(**current) : 0;
  return t.set(key, std::to_string(value + 1));
}

TEST_CASE("of two read-modify-write transactions on one key, the second to commit gets conflict") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(put(*db, "counter", "0").ok());
  auto first = db->begin();
  auto second = db->begin();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(**first->get("counter") == "0");
  CHECK(**second->get("counter") == "0");
  REQUIRE(set_and_commit(*first, "counter", "1").ok());
  CHECK(conflicted(set_and_commit(*second, "counter", "1")));
  CHECK(db->stats().conflicts.load() == 1);
  CHECK(is(second->get("counter").error(), errc::transaction_closed));
  auto t = db->begin(Mode::snapshot);
  CHECK(**t->get("counter") == "1");
}

TEST_CASE("run() re-runs a transaction that lost a conflict until it commits") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(put(*db, "counter", "0").ok());
  int attempts = 0;
  auto outcome = db->run([&](Transaction& t) -> Result<int> {
    ++attempts;
    if (auto ok = increment(t, "counter"); !ok) return ok.error();
    // The first two attempts lose to a concurrent increment.
    if (attempts <= 2) {
      if (auto other = put(*db, "counter", std::to_string(100 * attempts)); !other) return other.error();
    }
    return attempts;
  });
  REQUIRE(outcome.ok());
  CHECK(*outcome == 3);
  CHECK(db->stats().retries.load() == 2);
  auto t = db->begin(Mode::snapshot);
  CHECK(**t->get("counter") == "201");
}

TEST_CASE("write skew is refused: two transactions that each insert into a range they read empty cannot both commit") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  // The rule both keep: at most one booking in room/1. Each sees none and books.
  auto alice = db->begin();
  auto bob = db->begin();
  REQUIRE(alice.ok());
  REQUIRE(bob.ok());
  CHECK(alice->get_range("room/1/", "room/1/\xff")->rows.empty());
  CHECK(bob->get_range("room/1/", "room/1/\xff")->rows.empty());
  REQUIRE(set_and_commit(*alice, "room/1/alice", "booked").ok());
  CHECK(conflicted(set_and_commit(*bob, "room/1/bob", "booked")));
  auto t = db->begin(Mode::snapshot);
  CHECK(t->get_range("room/1/", "room/1/\xff")->rows.size() == 1);
}

TEST_CASE("write skew on two keys is refused: each reads both and clears a different one") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(put(*db, "oncall/alice", "1").ok());
  REQUIRE(put(*db, "oncall/bob", "1").ok());
  auto alice = db->begin();
  auto bob = db->begin();
  REQUIRE(alice.ok());
  REQUIRE(bob.ok());
  for (auto* t : {&*alice, &*bob}) {
    CHECK(t->get("oncall/alice")->has_value());
    CHECK(t->get("oncall/bob")->has_value());
  }
  REQUIRE(alice->clear("oncall/alice").ok());
  REQUIRE(alice->commit().ok());
  auto bob_outcome = bob->clear("oncall/bob");
  if (bob_outcome) bob_outcome = bob->commit();
  CHECK(conflicted(bob_outcome));
}

TEST_CASE("a range read conflicts with a concurrent insert into its span") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(put(*db, "item/b", "1").ok());
  REQUIRE(put(*db, "item/d", "1").ok());
  auto reader = db->begin();
  REQUIRE(reader.ok());
  CHECK(reader->get_range("item/a", "item/e")->rows.size() == 2);
  REQUIRE(put(*db, "item/c", "inside").ok());
  CHECK(conflicted(set_and_commit(*reader, "summary", "2")));
}

TEST_CASE("a limited reverse range read conflicts with an insert past the first row it returned") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  for (const char* key : {"q/1", "q/2", "q/3", "q/4"}) REQUIRE(put(*db, key, "x").ok());
  auto head = db->begin();
  REQUIRE(head.ok());
  auto last_two = head->get_range("q/", "q0", {.limit = 2, .reverse = true});
  REQUIRE(last_two->rows.size() == 2);
  CHECK(last_two->more);
  REQUIRE(put(*db, "q/5", "x").ok());  // after q/4: inside what the reverse read covered
  CHECK(conflicted(set_and_commit(*head, "taken", "q/3 q/4")));
}

TEST_CASE("two processes each incrementing one counter 10,000 times through run() end at 20,000") {
  CONFORMANCE_FIXTURE(fx);
  {
    auto db = Fixture::fresh();
    REQUIRE(db);
    REQUIRE(put(*db, "counter", "0").ok());
  }
  constexpr int increments = 10'000;
  auto work = [](int, int) -> int {
    auto db = Fixture::reopen();
    if (!db) return 2;
    for (int i = 0; i < increments; ++i) {
      auto ok = db->run([](Transaction& t) { return increment(t, "counter"); }, RetryOptions{.attempts_max = 1'000});
      if (!ok) {
        std::fprintf(stderr, "increment %d: %s\n", i, ok.error().message().c_str());
        return 1;
      }
    }
    return 0;
  };
  auto child = testing::spawn(work);
  REQUIRE(child);
  const int parent_code = work(-1, -1);
  CHECK(parent_code == 0);
  CHECK(testing::wait_exit(*child, testing::after(std::chrono::minutes(5))) == 0);
  auto db = Fixture::reopen();
  REQUIRE(db);
  auto t = db->begin(Mode::snapshot);
  CHECK(**t->get("counter") == std::to_string(2 * increments));
}

}  // namespace
}  // namespace plexus::store
