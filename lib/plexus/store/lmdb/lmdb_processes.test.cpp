// The LMDB backend across processes: two processes with one environment open
// see each other's commits and adopt each other's map growth, a process
// killed while it held a snapshot leaves a reader slot that the next open
// frees, durable commits of a killed process are all there, and a commit
// stuck behind another process's write lock answers within commit_wait_max.
#include <doctest/doctest.h>
#include <lmdb.h>

#include "plexus/store/conformance_support.hpp"
#include "plexus/store/lmdb/lmdb_test_support.hpp"

namespace plexus::store {
namespace {

using testing::TempDir;

Result<void> put(Database& db, std::string_view key, std::string_view value) {
  return db.run([&](Transaction& t) { return t.set(key, value); });
}

constexpr auto report_wait = std::chrono::seconds(60);

LmdbOptions tiny_map(const std::string& path) {
  auto options = testing::options_at(path);
  options.map_size_bytes = 256 << 10;
  return options;
}

/// The child of the two-process test: opens, waits for the parent's commit,
/// grows the map with 2 MiB of data, reports, waits to be told to exit.
int grow_in_child(const std::string& path, int report_fd, int command_fd) {
  auto opened = testing::open_database(tiny_map(path));
  if (!opened.db) return 2;
  testing::report(report_fd, 1);
  if (!testing::read_report(command_fd, testing::after(report_wait))) return 3;
  {
    auto t = opened.db->begin(Mode::snapshot);
    if (!t || !t->get("parent").ok() || !*t->get("parent")) return 4;  // the parent's commit is visible
  }
  for (int i = 0; i < 32; ++i) {
    if (!put(*opened.db, "child/" + std::to_string(i), std::string(64 << 10, 'c')).ok()) return 5;
  }
  testing::report(report_fd, opened.counters().map_size_bytes);
  if (!testing::read_report(command_fd, testing::after(report_wait))) return 6;
  return 0;
}

TEST_CASE("two processes share one environment: each sees the other's commits and adopts its map growth") {
  TempDir dir;
  const std::string path = dir.path;
  auto child = testing::spawn([&](int report_fd, int command_fd) { return grow_in_child(path, report_fd, command_fd); });
  REQUIRE(child);
  REQUIRE(testing::read_report(child->from_child, testing::after(report_wait)) == 1u);

  auto opened = testing::open_database(tiny_map(path));
  REQUIRE(opened.db);
  REQUIRE(put(*opened.db, "parent", "here").ok());
  const auto resizes_before = opened.counters().map_resizes;
  REQUIRE(testing::report(child->to_child, 1));
  const auto child_map_size = testing::read_report(child->from_child, testing::after(report_wait));
  REQUIRE(child_map_size.has_value());
  CHECK(*child_map_size >= (std::uint64_t{2} << 20));

  auto t = opened.db->begin(Mode::snapshot);  // MDB_MAP_RESIZED inside: the child's size is adopted
  REQUIRE(t.ok());
  auto rows = t->get_range("child/", "child0");
  REQUIRE(rows.ok());
  CHECK(rows->rows.size() == 32);
  REQUIRE(t->commit().ok());
  CHECK(opened.counters().map_resizes > resizes_before);
  CHECK(opened.counters().map_size_bytes >= *child_map_size);
  REQUIRE(put(*opened.db, "parent/after", "still writes").ok());

  REQUIRE(testing::report(child->to_child, 2));
  CHECK(testing::wait_exit(*child, testing::after(report_wait)) == 0);
}

TEST_CASE("a reader slot left by a killed process is freed by the next open (mdb_reader_check)") {
  TempDir dir;
  const std::string path = dir.path;
  {
    auto opened = testing::open_database(testing::options_at(path));
    REQUIRE(opened.db);
    REQUIRE(put(*opened.db, "k", "v").ok());
  }
  // `keeper` keeps the environment open throughout: when no process has it
  // open, LMDB resets the reader table at the next open and no slot is stale.
  auto keeper = testing::spawn([&](int report_fd, int command_fd) -> int {
    auto opened = testing::open_database(testing::options_at(path));
    if (!opened.db) return 2;
    testing::report(report_fd, 1);
    return testing::read_report(command_fd, testing::after(report_wait)) ? 0 : 3;
  });
  REQUIRE(keeper);
  REQUIRE(testing::read_report(keeper->from_child, testing::after(report_wait)) == 1u);
  auto reader = testing::spawn([&](int report_fd, int command_fd) -> int {
    auto opened = testing::open_database(testing::options_at(path));
    if (!opened.db) return 2;
    auto held = opened.db->begin(Mode::snapshot);
    if (!held) return 3;
    testing::report(report_fd, 1);
    testing::read_report(command_fd, testing::after(report_wait));  // killed while waiting here
    return 0;
  });
  REQUIRE(reader);
  REQUIRE(testing::read_report(reader->from_child, testing::after(report_wait)) == 1u);
  testing::kill_now(*reader);

  auto opened = testing::open_database(testing::options_at(path));
  REQUIRE(opened.db);
  CHECK(opened.counters().stale_readers_cleared >= 1);
  auto t = opened.db->begin(Mode::snapshot);
  CHECK(**t->get("k") == "v");
  REQUIRE(testing::report(keeper->to_child, 1));
  CHECK(testing::wait_exit(*keeper, testing::after(report_wait)) == 0);
}

TEST_CASE("a commit behind another process's write lock answers commit_unknown_result in time, then applies") {
  TempDir dir;
  const std::string path = dir.path;
  auto child = testing::spawn([&](int report_fd, int command_fd) -> int {
    auto backend = open_lmdb(testing::options_at(path));
    if (!backend) return 2;
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(lmdb_env(**backend), nullptr, 0, &txn) != 0) return 3;  // holds LMDB's write lock
    testing::report(report_fd, 1);
    const bool told = testing::read_report(command_fd, testing::after(report_wait)).has_value();
    mdb_txn_abort(txn);
    return told ? 0 : 4;
  });
  REQUIRE(child);
  REQUIRE(testing::read_report(child->from_child, testing::after(report_wait)) == 1u);

  auto options = testing::options_at(path);
  options.commit_wait_max = std::chrono::milliseconds(200);
  auto opened = testing::open_database(options);
  REQUIRE(opened.db);
  auto stuck = opened.db->begin();
  REQUIRE(stuck->set("stuck", "applied later").ok());
  auto outcome = stuck->commit();
  REQUIRE_FALSE(outcome.ok());
  CHECK(is(outcome.error(), errc::commit_unknown_result));

  REQUIRE(testing::report(child->to_child, 1));
  CHECK(testing::wait_exit(*child, testing::after(report_wait)) == 0);
  // The writer answers in queue order: once a later commit is answered, the
  // stuck one was applied. Each try waits at most commit_wait_max.
  bool answered = false;
  for (int tries = 0; tries < 100 && !answered; ++tries) {
    auto later = put(*opened.db, "after", "x");
    answered = later.ok();
    if (!answered) REQUIRE(is(later.error(), errc::commit_unknown_result));
  }
  REQUIRE(answered);
  auto t = opened.db->begin(Mode::snapshot);
  CHECK(**t->get("stuck") == "applied later");
}

TEST_CASE("with durable commits, a process killed mid-stream loses no acknowledged commit") {
  TempDir dir;
  const std::string path = dir.path;
  auto child = testing::spawn([&](int report_fd, int) -> int {
    auto opened = testing::open_database(testing::options_at(path, /*durable=*/true));
    if (!opened.db) return 2;
    for (std::uint64_t i = 0; i < 100'000; ++i) {
      auto ok = opened.db->run([&](Transaction& t) -> Result<void> {
        if (auto first = t.set("a/" + std::to_string(i), "x"); !first) return first;
        return t.set("b/" + std::to_string(i), "x");
      });
      if (!ok || !testing::report(report_fd, i)) return 1;
    }
    return 0;
  });
  REQUIRE(child);
  std::uint64_t last = 0;
  for (int n = 0; n < 50; ++n) {
    auto i = testing::read_report(child->from_child, testing::after(report_wait));
    REQUIRE(i.has_value());
    last = *i;
  }
  testing::kill_now(*child);
  auto opened = testing::open_database(testing::options_at(path, /*durable=*/true));
  REQUIRE(opened.db);
  auto t = opened.db->begin(Mode::snapshot);
  for (std::uint64_t i = 0; i <= last; ++i) {
    CHECK(t->get("a/" + std::to_string(i))->has_value());
    CHECK(t->get("b/" + std::to_string(i))->has_value());
  }
  CHECK(t->get_range("a/", "a0")->rows.size() == t->get_range("b/", "b0")->rows.size());
}

}  // namespace
}  // namespace plexus::store
