// Conformance, part 1: what one transaction sees — its own writes, a stable
// snapshot, ranges with their bounds, order, limits and `more`, the batched
// RangeIterator, clears, and bytewise order of binary keys. Runs against
// every backend (conformance.hpp).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "plexus/store/conformance_support.hpp"

namespace plexus::store {
namespace {

using testing::Fixture;

Result<void> put(Database& db, std::vector<KeyValue> rows) {
  return db.run([&](Transaction& t) -> Result<void> {
    for (const auto& row : rows) {
      if (auto ok = t.set(row.key, row.value); !ok) return ok;
    }
    return {};
  });
}

std::vector<std::string> keys_of(const RangeResult& result) {
  std::vector<std::string> keys;
  for (const auto& row : result.rows) keys.push_back(row.key);
  return keys;
}

/// Every row of [begin, end) in a fresh snapshot.
std::vector<KeyValue> everything(Database& db, std::string_view begin, std::string_view end) {
  auto t = db.begin(Mode::snapshot);
  REQUIRE(t.ok());
  auto rows = t->get_range(begin, end);
  REQUIRE(rows.ok());
  REQUIRE_FALSE(rows->more);
  return rows->rows;
}

TEST_CASE("a transaction reads its own sets, clears and range clears before committing") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(put(*db, {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}).ok());

  auto t = db->begin();
  REQUIRE(t.ok());
  REQUIRE(t->set("b", "two").ok());
  REQUIRE(t->set("bb", "new").ok());
  REQUIRE(t->clear("a").ok());
  REQUIRE(t->clear_range("c", "d").ok());
  CHECK(t->get("a")->has_value() == false);
  CHECK(**t->get("b") == "two");
  CHECK(**t->get("bb") == "new");
  CHECK(t->get("c")->has_value() == false);
  CHECK(**t->get("d") == "4");
  auto rows = t->get_range("", "\xff");
  REQUIRE(rows.ok());
  CHECK(rows->rows == std::vector<KeyValue>{{"b", "two"}, {"bb", "new"}, {"d", "4"}});
  auto reversed = t->get_range("", "\xff", RangeOptions{.limit = 0, .reverse = true});
  REQUIRE(reversed.ok());
  CHECK(keys_of(*reversed) == std::vector<std::string>{"d", "bb", "b"});
  // A set after a range clear shows through it.
  REQUIRE(t->clear_range("a", "z").ok());
  REQUIRE(t->set("m", "back").ok());
  CHECK(t->get_range("", "\xff")->rows == std::vector<KeyValue>{{"m", "back"}});
  REQUIRE(t->commit().ok());
  CHECK(everything(*db, "", "\xff") == std::vector<KeyValue>{{"m", "back"}});
}

TEST_CASE("a snapshot begun before a commit does not see it; a later one does") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(put(*db, {{"k", "old"}}).ok());
  auto before = db->begin(Mode::snapshot);
  REQUIRE(before.ok());
  auto before_rw = db->begin(Mode::read_write);
  REQUIRE(before_rw.ok());
  CHECK(**before_rw->get("k") == "old");  // a read-write transaction's reads come from its snapshot too
  REQUIRE(put(*db, {{"k", "new"}, {"k2", "x"}}).ok());
  CHECK(**before->get("k") == "old");
  CHECK(before->get("k2")->has_value() == false);
  CHECK(before->get_range("", "\xff")->rows.size() == 1);
  CHECK(**before_rw->get("k") == "old");
  REQUIRE(before->commit().ok());
  auto after = db->begin(Mode::snapshot);
  CHECK(**after->get("k") == "new");
}

TEST_CASE("ranges include begin, exclude end, run backwards, stop at the limit and say whether more remain") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(put(*db, {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}}).ok());
  auto t = db->begin(Mode::snapshot);
  REQUIRE(t.ok());
  CHECK(keys_of(*t->get_range("b", "d")) == std::vector<std::string>{"b", "c"});
  CHECK(keys_of(*t->get_range("b", "d", {.limit = 0, .reverse = true})) == std::vector<std::string>{"c", "b"});

  auto limited = t->get_range("a", "z", {.limit = 2});
  CHECK(keys_of(*limited) == std::vector<std::string>{"a", "b"});
  CHECK(limited->more);
  auto limited_back = t->get_range("a", "z", {.limit = 2, .reverse = true});
  CHECK(keys_of(*limited_back) == std::vector<std::string>{"e", "d"});
  CHECK(limited_back->more);
  auto exact = t->get_range("a", "z", {.limit = 5});
  CHECK(exact->rows.size() == 5);
  CHECK_FALSE(exact->more);  // the limit was reached but nothing was left out
  auto all = t->get_range("a", "z");
  CHECK(all->rows.size() == 5);
  CHECK_FALSE(all->more);
}

TEST_CASE("empty ranges return no rows, and begin after end is invalid_range") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(put(*db, {{"a", "1"}, {"b", "2"}}).ok());
  auto t = db->begin();
  REQUIRE(t.ok());
  CHECK(t->get_range("b", "b")->rows.empty());
  CHECK(t->get_range("c", "z")->rows.empty());
  CHECK(t->get_range("", "")->rows.empty());
  CHECK_FALSE(t->get_range("", "")->more);
  auto backwards = t->get_range("b", "a");
  REQUIRE_FALSE(backwards.ok());
  CHECK(is(backwards.error(), errc::invalid_range));
  auto clear_backwards = t->clear_range("b", "a");
  REQUIRE_FALSE(clear_backwards.ok());
  CHECK(is(clear_backwards.error(), errc::invalid_range));
  CHECK(t->clear_range("a", "a").ok());  // empty: clears nothing
  CHECK(t->get("a")->has_value());
  REQUIRE(t->commit().ok());  // argument errors leave the transaction open
}

TEST_CASE("a RangeIterator walks more rows than one batch, forwards, backwards and with a limit") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  std::vector<KeyValue> rows;
  for (int i = 0; i < 250; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "row%04d", i);
    rows.push_back({key, std::to_string(i)});
  }
  REQUIRE(put(*db, rows).ok());
  auto t = db->begin(Mode::snapshot);
  REQUIRE(t.ok());

  auto collect = [&](RangeIterator it) {
    std::vector<KeyValue> seen;
    for (int guard = 0; guard < 1'000; ++guard) {
      auto row = it.next();
      REQUIRE(row.ok());
      if (!*row) break;
      seen.push_back(**row);
    }
    return seen;
  };
  CHECK(collect(RangeIterator(*t, "row", "rox", 0, false, 32)) == rows);
  auto backwards = collect(RangeIterator(*t, "row", "rox", 0, true, 32));
  REQUIRE(backwards.size() == rows.size());
  CHECK(backwards.front() == rows.back());
  CHECK(backwards.back() == rows.front());
  auto limited = collect(RangeIterator(*t, "row", "rox", 70, false, 32));
  REQUIRE(limited.size() == 70);
  CHECK(limited.back() == rows[69]);
  CHECK(collect(RangeIterator(*t, "row", "rox", 0, false, 250)) == rows);  // exactly one full batch
}

TEST_CASE("RangeIterators interleaved in one snapshot, forwards and backwards, each see every row once") {
  // Proves batches read on correctly when other range reads and point reads run between them (LMDB keeps one cursor to resume).
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  std::vector<KeyValue> rows;
  for (int i = 0; i < 100; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "row%04d", i);
    rows.push_back({key, std::to_string(i)});
  }
  REQUIRE(put(*db, rows).ok());
  auto t = db->begin(Mode::snapshot);
  REQUIRE(t.ok());
  RangeIterator forwards(*t, "row", "rox", 0, false, 7);
  RangeIterator backwards(*t, "row", "rox", 0, true, 5);
  RangeIterator tail(*t, "row0050", "rox", 0, false, 3);
  std::vector<KeyValue> seen_forwards, seen_backwards, seen_tail;
  for (int turn = 0; turn < 100; ++turn) {
    auto f = forwards.next();
    auto b = backwards.next();
    REQUIRE(f.ok());
    REQUIRE(b.ok());
    REQUIRE(f->has_value());
    REQUIRE(b->has_value());
    seen_forwards.push_back(**f);
    seen_backwards.push_back(**b);
    if (turn % 3 == 0) CHECK(**t->get("row0042") == "42");
    if (auto r = tail.next(); r.ok() && r->has_value()) seen_tail.push_back(**r);
  }
  CHECK(seen_forwards == rows);
  CHECK(std::vector<KeyValue>(seen_backwards.rbegin(), seen_backwards.rend()) == rows);
  CHECK(seen_tail == std::vector<KeyValue>(rows.begin() + 50, rows.end()));
  auto end_forwards = forwards.next();
  REQUIRE(end_forwards.ok());
  CHECK(!end_forwards->has_value());
}

TEST_CASE("clear and clear_range remove rows once committed, and only inside their bounds") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(put(*db, {{"a", "1"}, {"b", "2"}, {std::string("b\0", 2), "3"}, {"c", "4"}, {"d", "5"}}).ok());
  REQUIRE(db->run([](Transaction& t) -> Result<void> {
               if (auto ok = t.clear("a"); !ok) return ok;
               if (auto ok = t.clear("nothing-here"); !ok) return ok;
               return t.clear_range("b", "c");
             }).ok());
  CHECK(everything(*db, "", "\xff") == std::vector<KeyValue>{{"c", "4"}, {"d", "5"}});
}

TEST_CASE("binary keys with 00 and ff bytes order bytewise, shorter before longer, the empty key first") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  using namespace std::string_literals;
  const std::vector<std::string> sorted{""s,         "\x00"s,     "\x00\x00"s, "\x00\xff"s, "\x01"s,
                                        "a"s,        "a\x00"s,    "a\x00\x01"s, "ab"s,       "\x7f"s,
                                        "\x80"s,     "\xfe\xff"s, "\xff"s,     "\xff\x00"s, "\xff\xff\xff"s};
  std::vector<KeyValue> rows;
  for (auto it = sorted.rbegin(); it != sorted.rend(); ++it) rows.push_back({*it, "v" + *it});
  REQUIRE(put(*db, rows).ok());
  auto t = db->begin(Mode::snapshot);
  REQUIRE(t.ok());
  auto all = t->get_range(""s, "\xff\xff\xff\xff"s);
  REQUIRE(all.ok());
  CHECK(keys_of(*all) == sorted);
  CHECK(**t->get(""s) == "v"s);
  CHECK(**t->get("\x00"s) == "v\x00"s);
  CHECK(keys_of(*t->get_range("\x00"s, "\x01"s)) == std::vector<std::string>{"\x00"s, "\x00\x00"s, "\x00\xff"s});
  CHECK(keys_of(*t->get_range("a\x00"s, "ab"s)) == std::vector<std::string>{"a\x00"s, "a\x00\x01"s});
}

TEST_CASE("committed data survives closing and reopening the datastore") {
  CONFORMANCE_FIXTURE(fx);
  {
    auto db = Fixture::fresh();
    REQUIRE(db);
    REQUIRE(put(*db, {{"kept", "yes"}, {"big", std::string(50'000, 'x')}}).ok());
  }
  auto db = Fixture::reopen();
  REQUIRE(db);
  auto t = db->begin(Mode::snapshot);
  REQUIRE(t.ok());
  CHECK(**t->get("kept") == "yes");
  CHECK(**t->get("big") == std::string(50'000, 'x'));
}

}  // namespace
}  // namespace plexus::store
