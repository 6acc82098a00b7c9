// The PostgreSQL backend's isolation promise on a real server: lost updates
// and write skew end in `conflict` for one side, and a snapshot keeps seeing
// the state it started from.
#include <doctest/doctest.h>

#include <string>

#include "plexus/store/errors.hpp"
#include "plexus/store/postgres/test_server.hpp"

using namespace plexus;
using namespace plexus::store;
using postgres::test::TestTable;

namespace {

std::unique_ptr<BackendTransaction> begin(Backend& backend, Mode mode = Mode::read_write) {
  auto transaction = backend.begin(mode);
  REQUIRE(transaction.ok());
  return std::move(*transaction);
}

void seed(Backend& backend, std::string_view key, std::string_view value) {
  auto t = begin(backend);
  REQUIRE(t->set(key, value).ok());
  REQUIRE(t->commit().ok());
}

/// One transaction's outcome: its first error across the given steps and its commit.
Result<void> then_commit(BackendTransaction& t, Result<void> step) {
  if (!step.ok()) return step;
  return t.commit();
}

}  // namespace

TEST_CASE("two read-modify-writes of one key: the second to commit gets conflict") {
  // Proves lost updates are refused: SQLSTATE 40001 from two backends (two pools) maps to conflict.
  TestTable table;
  seed(table.backend(), "counter", "0");
  // Two backends, two pools: as two nodes would.
  auto other_backend = table.open_another();
  REQUIRE(other_backend.ok());
  auto first = begin(table.backend());
  auto second = begin(**other_backend);
  REQUIRE(first->get("counter")->value() == "0");
  REQUIRE(second->get("counter")->value() == "0");
  REQUIRE(first->set("counter", "1").ok());
  REQUIRE(first->commit().ok());
  auto lost = then_commit(*second, second->set("counter", "1"));
  REQUIRE_FALSE(lost.ok());
  INFO(lost.error().message());
  CHECK(is(lost.error(), errc::conflict));
  CHECK(is(second->get("counter").error(), errc::transaction_closed));
  // The retry, as Database::run would do it, now sees 1.
  auto retry = begin(**other_backend);
  CHECK(retry->get("counter")->value() == "1");
  REQUIRE(retry->set("counter", "2").ok());
  CHECK(retry->commit().ok());
}

TEST_CASE("write skew over a range is refused: two inserts into a range both read empty do not both commit") {
  // Proves range reads are protected: two inserts into a span both read empty cannot both commit.
  TestTable table;
  seed(table.backend(), "other", "x");
  auto first = begin(table.backend());
  auto second = begin(table.backend());
  // Each checks that the range [slot/, slot0) is empty, then claims a slot in it.
  auto seen_first = first->get_range("slot/", "slot0", 10, false);
  auto seen_second = second->get_range("slot/", "slot0", 10, false);
  REQUIRE(seen_first.ok());
  REQUIRE(seen_second.ok());
  REQUIRE(seen_first->rows.empty());
  REQUIRE(seen_second->rows.empty());
  REQUIRE(first->set("slot/a", "first").ok());
  REQUIRE(second->set("slot/b", "second").ok());
  auto first_done = first->commit();
  auto second_done = second->commit();
  INFO("first: ", first_done.ok() ? "ok" : first_done.error().message());
  INFO("second: ", second_done.ok() ? "ok" : second_done.error().message());
  CHECK_FALSE((first_done.ok() && second_done.ok()));
  if (!first_done.ok()) CHECK(is(first_done.error(), errc::conflict));
  if (!second_done.ok()) CHECK(is(second_done.error(), errc::conflict));
  auto check = begin(table.backend(), Mode::snapshot);
  CHECK(check->get_range("slot/", "slot0", 10, false)->rows.size() == 1);
}

TEST_CASE("write skew over two keys is refused: each reads both and writes the other") {
  // Proves the classic write skew on two keys is refused with conflict.
  TestTable table;
  seed(table.backend(), "x", "on");
  seed(table.backend(), "y", "on");
  auto first = begin(table.backend());
  auto second = begin(table.backend());
  REQUIRE(first->get("x").ok());
  REQUIRE(first->get("y").ok());
  REQUIRE(second->get("x").ok());
  REQUIRE(second->get("y").ok());
  REQUIRE(first->set("x", "off").ok());
  REQUIRE(second->set("y", "off").ok());
  auto first_done = first->commit();
  auto second_done = second->commit();
  CHECK_FALSE((first_done.ok() && second_done.ok()));
  if (!second_done.ok()) CHECK(is(second_done.error(), errc::conflict));
}

TEST_CASE("a snapshot keeps reading the state it started from while others commit") {
  // Proves a snapshot transaction reads one consistent state while others commit.
  TestTable table;
  seed(table.backend(), "k", "old");
  auto snapshot = begin(table.backend(), Mode::snapshot);
  REQUIRE(snapshot->get("k")->value() == "old");
  seed(table.backend(), "k", "new");
  seed(table.backend(), "k2", "added");
  CHECK(snapshot->get("k")->value() == "old");
  CHECK(snapshot->get_range("k", "l", 10, false)->rows.size() == 1);
  CHECK(snapshot->commit().ok());
  auto later = begin(table.backend(), Mode::snapshot);
  CHECK(later->get("k")->value() == "new");
}

TEST_CASE("a transaction reads the state as of begin(), not as of its first read") {
  // Proves begin() takes the snapshot, so a commit between begin() and the first read stays unseen.
  TestTable table;
  seed(table.backend(), "k", "old");
  auto reader = begin(table.backend());
  seed(table.backend(), "k", "new");
  CHECK(reader->get("k")->value() == "old");
}

TEST_CASE("a range read conflicts with a later commit into its span even when no cycle forms") {
  // Proves the read validation: FoundationDB's rule holds where SERIALIZABLE alone would commit.
  // SERIALIZABLE alone would let the reader commit (it orders the reader
  // first); the backend promises FoundationDB's rule, which refuses it.
  TestTable table;
  seed(table.backend(), "item/b", "1");
  auto reader = begin(table.backend());
  REQUIRE(reader->get_range("item/a", "item/z", 10, false)->rows.size() == 1);
  seed(table.backend(), "item/c", "inserted");
  auto outcome = then_commit(*reader, reader->set("report", "1 item"));
  REQUIRE_FALSE(outcome.ok());
  CHECK(is(outcome.error(), errc::conflict));
  CHECK(outcome.error().detail.find("item/a") != std::string::npos);
}

TEST_CASE("a point read conflicts with a later delete or update of that key") {
  // Proves the read validation sees deletes and updates of a key read, not only inserts.
  TestTable table;
  seed(table.backend(), "gone", "1");
  seed(table.backend(), "changed", "1");
  auto reads_gone = begin(table.backend());
  auto reads_changed = begin(table.backend());
  REQUIRE(reads_gone->get("gone")->has_value());
  REQUIRE(reads_changed->get("changed")->has_value());
  {
    auto t = begin(table.backend());
    REQUIRE(t->clear("gone").ok());
    REQUIRE(t->set("changed", "2").ok());
    REQUIRE(t->commit().ok());
  }
  CHECK(is(then_commit(*reads_gone, reads_gone->set("x", "1")).error(), errc::conflict));
  CHECK(is(then_commit(*reads_changed, reads_changed->set("y", "1")).error(), errc::conflict));
}

TEST_CASE("reads of the transaction's own writes and changes outside its reads cause no conflict") {
  // Proves the read validation raises no false conflicts for own writes, unrelated commits or write-free transactions.
  TestTable table;
  seed(table.backend(), "mine/a", "1");
  auto t = begin(table.backend());
  REQUIRE(t->set("mine/b", "2").ok());
  REQUIRE(t->clear("mine/a").ok());
  REQUIRE(t->get_range("mine/", "mine0", 10, false)->rows.size() == 1);  // only mine/b, its own
  REQUIRE(t->get("mine/b")->value() == "2");
  REQUIRE_FALSE(t->get("absent")->has_value());
  seed(table.backend(), "elsewhere", "1");  // a later commit outside everything t read
  CHECK(t->commit().ok());
  // A transaction that only read commits even though what it read has changed.
  auto reader = begin(table.backend());
  REQUIRE(reader->get("elsewhere")->has_value());
  seed(table.backend(), "elsewhere", "2");
  CHECK(reader->commit().ok());
}
