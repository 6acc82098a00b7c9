// The LMDB backend's own promises beyond the conformance suite, in one
// process: map growth, group commit, durability across reopening, sharing
// one environment per process, validation that is exact (no conflict outside
// what was read) and skipped when nothing changed, and transactions moving
// between threads.
#include <doctest/doctest.h>
#include <lmdb.h>

#include <cstdint>
#include <latch>
#include <thread>
#include <vector>

#include "plexus/store/lmdb/cursor.hpp"
#include "plexus/store/lmdb/lmdb_test_support.hpp"

namespace plexus::store {
namespace {

using testing::LmdbDatabase;
using testing::TempDir;

Result<void> put(Database& db, std::string_view key, std::string_view value) {
  return db.run([&](Transaction& t) { return t.set(key, value); });
}

/// Writes `count` values of 64 KiB under "big/<first + i>" in one transaction.
Result<void> put_big(Database& db, int first, int count) {
  return db.run([&](Transaction& t) -> Result<void> {
    for (int i = first; i < first + count; ++i) {
      if (auto ok = t.set("big/" + std::to_string(i), std::string(64 << 10, static_cast<char>('a' + i % 26))); !ok) {
        return ok;
      }
    }
    return {};
  });
}

TEST_CASE("a tiny map grows on MDB_MAP_FULL, in the middle of a batch, and keeps every commit") {
  TempDir dir;
  auto options = testing::options_at(dir.path);
  options.map_size_bytes = 256 << 10;
  auto opened = testing::open_database(options);
  REQUIRE(opened.db);
  const auto initial = opened.counters().map_size_bytes;
  for (int round = 0; round < 8; ++round) REQUIRE(put_big(*opened.db, round * 8, 8).ok());  // 4 MiB
  const auto counters = opened.counters();
  CHECK(counters.map_resizes >= 4);
  CHECK(counters.map_size_bytes >= (std::uint64_t{4} << 20));
  CHECK(counters.map_size_bytes > initial);
  auto t = opened.db->begin(Mode::snapshot);
  auto rows = t->get_range("big/", "big0");
  REQUIRE(rows.ok());
  CHECK(rows->rows.size() == 64);
  for (const auto& row : rows->rows) CHECK(row.value.size() == (64u << 10));
}

TEST_CASE("a map resize waits a bounded time for open transactions, then the commit is unavailable") {
  TempDir dir;
  auto options = testing::options_at(dir.path);
  options.map_size_bytes = 256 << 10;
  options.resize_wait_max = std::chrono::milliseconds(100);
  auto opened = testing::open_database(options);
  REQUIRE(opened.db);
  auto holder = opened.db->begin(Mode::snapshot);  // an active LMDB transaction in this process
  REQUIRE(holder.ok());
  auto blocked = put_big(*opened.db, 0, 8);
  REQUIRE_FALSE(blocked.ok());
  CHECK(is(blocked.error(), errc::unavailable));
  REQUIRE(holder->commit().ok());
  CHECK(put_big(*opened.db, 0, 8).ok());
  CHECK(opened.counters().map_resizes >= 1);
}

TEST_CASE("many threads committing at once share LMDB write transactions (group commit)") {
  TempDir dir;
  auto opened = testing::open_database(testing::options_at(dir.path, /*durable=*/true));
  REQUIRE(opened.db);
  constexpr int threads = 8;
  constexpr int commits_per_thread = 40;
  std::latch start(threads);
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      start.arrive_and_wait();
      for (int i = 0; i < commits_per_thread; ++i) {
        if (!put(*opened.db, "w" + std::to_string(w) + "/" + std::to_string(i), "v").ok()) ++failures;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  CHECK(failures.load() == 0);
  const auto counters = opened.counters();
  CHECK(counters.transactions_committed == threads * commits_per_thread);
  CHECK(counters.batches_committed < counters.transactions_committed);
  MESSAGE("group commit: " << counters.transactions_committed << " transactions in " << counters.batches_committed
                           << " LMDB commits");
  auto t = opened.db->begin(Mode::snapshot);
  CHECK(t->get_range("w", "x")->rows.size() == threads * commits_per_thread);
}

TEST_CASE("threads incrementing one counter through run() lose nothing, also when a batch holds several") {
  TempDir dir;
  auto opened = testing::open_database(testing::options_at(dir.path));
  REQUIRE(opened.db);
  constexpr int threads = 8;
  constexpr int increments = 250;
  std::latch start(threads);
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < increments; ++i) {
        auto ok = opened.db->run(
            [](Transaction& t) -> Result<void> {
              auto current = t.get("counter");
              if (!current) return current.error();
              return t.set("counter", std::to_string((*current ? std::stol(**current) : 0) + 1));
            },
            RetryOptions{.attempts_max = 10'000});
        if (!ok) ++failures;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  CHECK(failures.load() == 0);
  auto t = opened.db->begin(Mode::snapshot);
  CHECK(**t->get("counter") == std::to_string(threads * increments));
  const auto counters = opened.counters();
  CHECK(counters.transactions_committed == threads * increments);
  MESSAGE("one counter, " << threads << " threads: " << counters.conflicts << " conflicts, "
                          << counters.batches_committed << " LMDB commits for " << counters.transactions_committed
                          << " transactions");
}

TEST_CASE("durable commits survive closing and reopening the environment") {
  TempDir dir;
  {
    auto opened = testing::open_database(testing::options_at(dir.path, /*durable=*/true));
    REQUIRE(opened.db);
    REQUIRE(put(*opened.db, "durable", "yes").ok());
  }
  auto opened = testing::open_database(testing::options_at(dir.path, /*durable=*/true));
  REQUIRE(opened.db);
  auto t = opened.db->begin(Mode::snapshot);
  CHECK(**t->get("durable") == "yes");
}

TEST_CASE("opening one path twice in a process shares the environment and sees the same data") {
  TempDir dir;
  auto first = testing::open_database(testing::options_at(dir.path));
  auto second = testing::open_database(testing::options_at(dir.path));
  REQUIRE(first.db);
  REQUIRE(second.db);
  CHECK(lmdb_env(*first.backend) == lmdb_env(*second.backend));
  REQUIRE(put(*first.db, "k", "from first").ok());
  auto t = second.db->begin(Mode::snapshot);
  CHECK(**t->get("k") == "from first");
}

TEST_CASE("the key limit is LMDB's less the prefix byte, and the empty key is an ordinary key") {
  TempDir dir;
  auto opened = testing::open_database(testing::options_at(dir.path));
  REQUIRE(opened.db);
  const auto lmdb_max = static_cast<std::size_t>(mdb_env_get_maxkeysize(lmdb_env(*opened.backend)));
  CHECK(opened.db->limits().key_bytes_max == lmdb_max - 1);
  REQUIRE(put(*opened.db, "", "empty").ok());
  REQUIRE(put(*opened.db, std::string(lmdb_max - 1, 'k'), "longest").ok());
  auto t = opened.db->begin(Mode::snapshot);
  CHECK(**t->get("") == "empty");
  CHECK(t->get_range("", "\x01")->rows.size() == 1);
  CHECK(t->get_range(std::string(lmdb_max - 1, 'k'), std::string(lmdb_max, 'k'))->rows.size() == 1);
}

TEST_CASE("validation is exact: blind writes and writes outside what was read do not conflict") {
  TempDir dir;
  auto opened = testing::open_database(testing::options_at(dir.path));
  REQUIRE(opened.db);
  auto& db = *opened.db;
  auto first = db.begin();
  auto second = db.begin();
  REQUIRE(first->set("k", "first").ok());
  REQUIRE(second->set("k", "second").ok());
  REQUIRE(first->commit().ok());
  REQUIRE(second->commit().ok());  // neither read k

  for (const char* key : {"q/1", "q/2", "q/3", "q/4"}) REQUIRE(put(db, key, "x").ok());
  auto head = db.begin();
  REQUIRE(head->get_range("q/", "q0", {.limit = 2})->rows.size() == 2);  // covers q/ .. q/3 (the look-ahead)
  REQUIRE(head->set("taken", "1").ok());
  REQUIRE(put(db, "q/5", "x").ok());  // past the covered span
  CHECK(head->commit().ok());

  auto again = db.begin();
  REQUIRE(again->get_range("q/", "q0", {.limit = 2})->rows.size() == 2);
  REQUIRE(again->set("taken", "2").ok());
  REQUIRE(put(db, "q/25", "x").ok());  // between the last row returned and the look-ahead
  auto outcome = again->commit();
  CHECK((!outcome.ok() && is(outcome.error(), errc::conflict)));
}

TEST_CASE("a read-write transaction that only read still validates; one nobody disturbed skips re-reading") {
  TempDir dir;
  auto opened = testing::open_database(testing::options_at(dir.path));
  REQUIRE(opened.db);
  auto& db = *opened.db;
  REQUIRE(put(db, "k", "1").ok());
  auto reader = db.begin();
  CHECK(**reader->get("k") == "1");
  REQUIRE(put(db, "k", "2").ok());
  auto outcome = reader->commit();
  CHECK((!outcome.ok() && is(outcome.error(), errc::conflict)));

  const auto skipped_before = opened.counters().validations_skipped;
  REQUIRE(db.run([](Transaction& t) -> Result<void> {
               auto value = t.get("k");
               if (!value) return value.error();
               return t.set("k", **value + "+");
             }).ok());
  CHECK(opened.counters().validations_skipped == skipped_before + 1);
}

TEST_CASE("a transaction begun on one thread is used and committed on others (MDB_NOTLS)") {
  TempDir dir;
  auto opened = testing::open_database(testing::options_at(dir.path));
  REQUIRE(opened.db);
  REQUIRE(put(*opened.db, "k", "v").ok());
  auto t = opened.db->begin();
  REQUIRE(t.ok());
  bool read_ok = false;
  std::thread([&] {
    auto value = t->get("k");
    read_ok = value.ok() && *value && **value == "v";
    read_ok = read_ok && t->set("k2", "v2").ok();
  }).join();
  CHECK(read_ok);
  Result<void> committed = make_error(errc::backend_error, "not run");
  std::thread([&] { committed = t->commit(); }).join();
  CHECK(committed.ok());
  auto check = opened.db->begin(Mode::snapshot);
  CHECK(**check->get("k2") == "v2");
}

TEST_CASE("a full reader table is unavailable, naming max_readers, and frees up as transactions end") {
  TempDir dir;
  auto options = testing::options_at(dir.path);
  options.max_readers = 4;  // LMDB rounds up to fill the lock file's page
  auto opened = testing::open_database(options);
  REQUIRE(opened.db);
  unsigned slots = 0;
  REQUIRE(mdb_env_get_maxreaders(lmdb_env(*opened.backend), &slots) == 0);
  REQUIRE(slots < 1'000);
  std::vector<Transaction> open;
  for (unsigned i = 0; i < slots; ++i) {
    auto t = opened.db->begin(Mode::snapshot);
    REQUIRE(t.ok());
    open.push_back(std::move(*t));
  }
  auto refused = opened.db->begin(Mode::snapshot);
  REQUIRE_FALSE(refused.ok());
  CHECK(is(refused.error(), errc::unavailable));
  CHECK(refused.error().detail.find("max_readers") != std::string::npos);
  open.pop_back();
  CHECK(opened.db->begin(Mode::snapshot).ok());
}

TEST_CASE("bad options are invalid_option, an unusable path is backend_error") {
  LmdbOptions options;
  CHECK(is(open_lmdb(options).error(), errc::invalid_option));
  options.path = "/proc/plexus-cannot-create-here";
  auto opened = open_lmdb(options);
  REQUIRE_FALSE(opened.ok());
  CHECK(is(opened.error(), errc::backend_error));
}

TEST_CASE("the bound comparison of range walks orders bytes as memcmp then length, for every length and byte") {
  // Proves lmdb::bytes_less (the word-at-a-time compare of every row with its bound) agrees with std::string_view's order.
  std::uint64_t state = 42;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(state >> 33);
  };
  const std::string alphabet("\x00\x01\x7f\x80\xfe\xff", 6);
  for (int round = 0; round < 20'000; ++round) {
    std::string a(next() % 40, '\0');
    for (auto& c : a) c = alphabet[next() % alphabet.size()];
    std::string b = a.substr(0, next() % (a.size() + 1));  // often a prefix, so later bytes and lengths decide
    for (std::size_t extra = next() % 12; extra > 0; --extra) b.push_back(alphabet[next() % alphabet.size()]);
    if (!b.empty() && next() % 3 == 0) b[next() % b.size()] = alphabet[next() % alphabet.size()];
    REQUIRE(lmdb::bytes_less(a, b) == (std::string_view(a) < std::string_view(b)));
    REQUIRE(lmdb::bytes_less(b, a) == (std::string_view(b) < std::string_view(a)));
  }
}

}  // namespace
}  // namespace plexus::store
