// Conformance, part 3: every limit and misuse has its own error code — key,
// value, transaction size and age, writes in a snapshot, use after close,
// inverted ranges, run()'s retry limit — and the counters of Stats move.
#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "plexus/store/conformance_support.hpp"

namespace plexus::store {
namespace {

using testing::Fixture;

template <class T>
bool fails_with(const Result<T>& outcome, errc code) {
  return !outcome.ok() && is(outcome.error(), code);
}

TEST_CASE("keys over key_bytes_max are key_too_large for every call, range bounds may be one byte longer") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh(Limits{.key_bytes_max = 100});
  REQUIRE(db);
  CHECK(db->limits().key_bytes_max == 100);
  const std::string longest(100, 'k');
  const std::string bound(101, 'k');
  const std::string too_long(102, 'k');
  auto t = db->begin();
  REQUIRE(t.ok());
  CHECK(t->set(longest, "v").ok());
  CHECK(fails_with(t->set(bound, "v"), errc::key_too_large));
  CHECK(fails_with(t->get(bound), errc::key_too_large));
  CHECK(fails_with(t->clear(bound), errc::key_too_large));
  CHECK(t->get_range(longest, bound).ok());
  CHECK(fails_with(t->get_range(too_long, too_long), errc::key_too_large));
  CHECK(fails_with(t->get_range("", too_long), errc::key_too_large));
  CHECK(fails_with(t->clear_range(too_long, too_long + "z"), errc::key_too_large));
  // Limit errors leave the transaction open.
  REQUIRE(t->commit().ok());
  auto check = db->begin(Mode::snapshot);
  CHECK(check->get(longest)->has_value());
}

TEST_CASE("the backend's own key limit is in force and keys at it work") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  const std::size_t max = db->limits().key_bytes_max;
  CHECK(max <= Limits{}.key_bytes_max);
  const std::string longest(max, '\xff');
  REQUIRE(db->run([&](Transaction& t) { return t.set(longest, "edge"); }).ok());
  auto t = db->begin(Mode::snapshot);
  CHECK(**t->get(longest) == "edge");
  CHECK(t->get_range(std::string(max, '\xfe'), longest + '\0')->rows.size() == 1);
  CHECK(fails_with(t->get(longest + 'x'), errc::key_too_large));
}

TEST_CASE("values over value_bytes_max are value_too_large; the limit itself fits") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh(Limits{.value_bytes_max = 1'000});
  REQUIRE(db);
  auto t = db->begin();
  CHECK(t->set("k", std::string(1'000, 'v')).ok());
  CHECK(fails_with(t->set("k", std::string(1'001, 'v')), errc::value_too_large));
  REQUIRE(t->commit().ok());
}

TEST_CASE("writes past transaction_bytes_max are transaction_too_large, counting keys, values and clear bounds") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh(Limits{.transaction_bytes_max = 100});
  REQUIRE(db);
  auto t = db->begin();
  CHECK(t->set("key", std::string(47, 'v')).ok());  // 50 bytes
  CHECK(t->clear_range("aaaaaaaaaa", "bbbbbbbbbb").ok());  // 70
  CHECK(t->clear("cccccccccccccccccccc").ok());  // 90
  CHECK(t->bytes_written() == 90);
  CHECK(fails_with(t->set("k", "0123456789"), errc::transaction_too_large));
  CHECK(t->bytes_written() == 90);  // the refused write counts nothing
  CHECK(t->set("k", "012345678").ok());  // exactly 100
  REQUIRE(t->commit().ok());
  CHECK(db->stats().bytes_written.load() == 100);
}

TEST_CASE("a transaction older than transaction_age_max is transaction_too_old on its next call and at commit") {
  CONFORMANCE_FIXTURE(fx);
  constexpr auto age = std::chrono::milliseconds(40);
  auto db = Fixture::fresh(Limits{.transaction_age_max = age});
  REQUIRE(db);
  auto reading = db->begin();
  auto committing = db->begin();
  REQUIRE(reading.ok());
  REQUIRE(committing.ok());
  REQUIRE(committing->set("k", "v").ok());
  // Waiting for the clock is the condition here, not synchronisation.
  std::this_thread::sleep_until(testing::after(age + std::chrono::milliseconds(10)));
  CHECK(fails_with(reading->get("k"), errc::transaction_too_old));
  CHECK(fails_with(reading->get("k"), errc::transaction_closed));
  CHECK(fails_with(committing->commit(), errc::transaction_too_old));
  // Checks go through a handle with the default age, so a loaded machine cannot fail them.
  auto checker = Fixture::reopen();
  REQUIRE(checker);
  {
    auto t = checker->begin(Mode::snapshot);
    CHECK_FALSE(t->get("k")->has_value());
  }
  // run() retries transaction_too_old like a conflict.
  int attempts = 0;
  auto outcome = db->run([&](Transaction& tx) -> Result<void> {
    if (++attempts == 1) std::this_thread::sleep_until(testing::after(age + std::chrono::milliseconds(10)));
    return tx.set("k", "second try");
  });
  CHECK(outcome.ok());
  CHECK(attempts >= 2);
  auto t = checker->begin(Mode::snapshot);
  CHECK(**t->get("k") == "second try");
}

TEST_CASE("a write in a snapshot transaction is read_only and leaves the snapshot usable") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  auto t = db->begin(Mode::snapshot);
  REQUIRE(t.ok());
  CHECK(t->mode() == Mode::snapshot);
  CHECK(fails_with(t->set("k", "v"), errc::read_only));
  CHECK(fails_with(t->clear("k"), errc::read_only));
  CHECK(fails_with(t->clear_range("a", "b"), errc::read_only));
  CHECK(t->get("k").ok());
  CHECK(t->commit().ok());
}

TEST_CASE("after commit, cancel or a closing error every call is transaction_closed") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  auto committed = db->begin();
  REQUIRE(committed->set("k", "v").ok());
  REQUIRE(committed->commit().ok());
  CHECK(fails_with(committed->get("k"), errc::transaction_closed));
  CHECK(fails_with(committed->set("k", "v"), errc::transaction_closed));
  CHECK(fails_with(committed->commit(), errc::transaction_closed));

  auto cancelled = db->begin();
  REQUIRE(cancelled->set("gone", "v").ok());
  cancelled->cancel();
  CHECK(fails_with(cancelled->get_range("a", "b"), errc::transaction_closed));
  CHECK(fails_with(cancelled->clear_range("a", "b"), errc::transaction_closed));
  auto t = db->begin(Mode::snapshot);
  CHECK_FALSE(t->get("gone")->has_value());

  auto moved_from = db->begin();
  Transaction moved_to = std::move(*moved_from);
  CHECK(fails_with(moved_from->get("k"), errc::transaction_closed));
  CHECK(moved_to.get("k").ok());
}

TEST_CASE("run() stops after attempts_max conflicts with retry_limit_reached") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  int attempts = 0;
  auto outcome = db->run(
      [&](Transaction& t) -> Result<void> {
        ++attempts;
        if (auto read = t.get("k"); !read) return read.error();
        // Someone else always changes what this attempt read.
        if (auto other = db->run([&](Transaction& u) { return u.set("k", std::to_string(attempts)); }); !other) {
          return other;
        }
        return t.set("k", "mine");
      },
      RetryOptions{.attempts_max = 3});
  REQUIRE_FALSE(outcome.ok());
  CHECK(is(outcome.error(), errc::retry_limit_reached));
  CHECK(attempts == 3);
  CHECK(db->stats().retries.load() == 2);
  CHECK(db->stats().conflicts.load() == 3);
  CHECK(fails_with(db->run([](Transaction&) -> Result<void> { return {}; }, RetryOptions{.attempts_max = 0}),
                   errc::invalid_option));
}

TEST_CASE("run() returns any other error at once, without retrying and without committing") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  int attempts = 0;
  auto outcome = db->run([&](Transaction& t) -> Result<void> {
    ++attempts;
    if (auto ok = t.set("k", "v"); !ok) return ok;
    return make_error(errc::invalid_option, "the caller's own error");
  });
  CHECK(fails_with(outcome, errc::invalid_option));
  CHECK(attempts == 1);
  auto t = db->begin(Mode::snapshot);
  CHECK_FALSE(t->get("k")->has_value());
}

TEST_CASE("Stats count transactions, bytes and commit latencies") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  REQUIRE(db->run([](Transaction& t) { return t.set("key", "value"); }).ok());
  {
    auto t = db->begin(Mode::snapshot);
    CHECK(**t->get("key") == "value");
    CHECK(t->get_range("a", "z")->rows.size() == 1);
  }
  const auto& stats = db->stats();
  CHECK(stats.transactions_started.load() == 2);
  CHECK(stats.transactions_committed.load() == 1);
  CHECK(stats.transactions_failed.load() == 0);
  CHECK(stats.bytes_written.load() == 8);
  CHECK(stats.bytes_read.load() == 16);
  CHECK(stats.commit_latency_count.load() == 1);
  std::uint64_t bucketed = 0;
  for (const auto& bucket : stats.commit_latency_buckets) bucketed += bucket.load();
  CHECK(bucketed == 1);
}

}  // namespace
}  // namespace plexus::store
