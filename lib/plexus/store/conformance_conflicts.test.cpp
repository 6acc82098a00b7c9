// Conformance, part 2: serializability between transactions — lost updates
// and write skew are refused with `conflict`, range reads conflict with
// inserts into their span, run() retries to success, two processes
// incrementing one counter through run() lose no increment, and concurrent
// transfers keep a total that every snapshot sees whole.
#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

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

TEST_CASE("concurrent transfers between accounts keep the total, and every snapshot sees it whole") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  constexpr int accounts = 8;
  constexpr long balance = 1'000;
  REQUIRE(db->run([&](Transaction& t) -> Result<void> {
               for (int a = 0; a < accounts; ++a) {
                 if (auto ok = t.set("acct/" + std::to_string(a), std::to_string(balance)); !ok) return ok;
               }
               return {};
             }).ok());
  auto total_of = [](const RangeResult& rows) {
    long total = 0;
    for (const auto& row : rows.rows) total += std::stol(row.value);
    return total;
  };
  constexpr int writers = 4;
  constexpr int transfers = 150;
  std::atomic<int> failures{0};
  std::atomic<int> writers_done{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(static_cast<unsigned>(w));
      for (int i = 0; i < transfers; ++i) {
        const int from = static_cast<int>(random() % accounts);
        const int to = static_cast<int>((from + 1 + random() % (accounts - 1)) % accounts);
        const long amount = static_cast<long>(random() % 50);
        auto ok = db->run(
            [&](Transaction& t) -> Result<void> {
              // Reads the whole range (so range validation is in play) and
              // refuses to overdraw: serializability keeps every balance >= 0.
              auto rows = t.get_range("acct/", "acct0");
              if (!rows) return rows.error();
              const long from_balance = std::stol(rows->rows[static_cast<std::size_t>(from)].value);
              const long to_balance = std::stol(rows->rows[static_cast<std::size_t>(to)].value);
              if (from_balance < amount) return {};
              if (auto set = t.set("acct/" + std::to_string(from), std::to_string(from_balance - amount)); !set) {
                return set;
              }
              return t.set("acct/" + std::to_string(to), std::to_string(to_balance + amount));
            },
            RetryOptions{.attempts_max = 10'000});
        if (!ok) ++failures;
      }
      ++writers_done;
    });
  }
  // Snapshots taken while the writers run must each see the same total.
  // (CHECK, not REQUIRE, while the writer threads run: they are joined below.)
  bool whole = true;
  for (int snapshots = 0; whole && writers_done.load() < writers && snapshots < 100'000; ++snapshots) {
    auto t = db->begin(Mode::snapshot);
    auto rows = t.ok() ? t->get_range("acct/", "acct0") : Result<RangeResult>(t.error());
    whole = rows.ok() && rows->rows.size() == accounts && total_of(*rows) == accounts * balance;
  }
  CHECK(whole);
  for (auto& thread : threads) thread.join();
  CHECK(failures.load() == 0);
  auto t = db->begin(Mode::snapshot);
  auto rows = t->get_range("acct/", "acct0");
  REQUIRE(rows.ok());
  CHECK(total_of(*rows) == accounts * balance);
  for (const auto& row : rows->rows) CHECK(std::stol(row.value) >= 0);
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
