// Tests of the node's durable event log on a real datastore (LMDB files here,
// PostgreSQL in suite 'postgres'): appends read back in order after a
// sequence, retention keeps the last keep_max, the log and its sequence
// survive a reopen (a new Database handle), nodes keep separate logs, and
// wait() wakes on an append and gives up at its deadline.
#include <doctest/doctest.h>

#include <thread>

#include "plexus/store/tenant_test_support.hpp"
#include "plexus/tenants/event_log.hpp"

namespace plexus::tenants {
namespace {

using store::tenant_test::Fixture;
using store::tenant_test::Store;
using Clock = std::chrono::steady_clock;

Event event(std::string tenant, std::uint64_t seq, EventKind kind, bool ok = true, std::string reason = {}) {
  return Event{tenant + ":1:" + std::to_string(seq), seq, tenant, 7, kind, ok, std::move(reason)};
}

TEST_CASE("event log: appends read back after a sequence, in pages, and survive a reopen") {
  // Proves the log is durable and ordered: a new handle on the same files reads every event and continues the sequence.
  Fixture f;
  if (!f.database) return;
  auto log = EventLog::open(f.database, "node-a");
  PLEXUS_REQUIRE_OK(log);
  CHECK(*(*log)->append(event("t1", 1, EventKind::install)) == 1);
  CHECK(*(*log)->append(event("t1", 2, EventKind::update, false, "module_error: bad")) == 2);
  CHECK(*(*log)->append(event("t2", 1, EventKind::uninstall)) == 3);
  auto page = (*log)->read(1, 1);
  PLEXUS_REQUIRE_OK(page);
  REQUIRE(page->events.size() == 1);
  CHECK(page->events[0].seq == 2);
  CHECK(page->events[0].kind == EventKind::update);
  CHECK_FALSE(page->events[0].ok);
  CHECK(page->events[0].reason == "module_error: bad");
  CHECK(page->events[0].key == "t1:1:2");
  CHECK(page->events[0].generation == 7);
  CHECK(page->next == 2);
  CHECK(page->first_kept == 1);

  auto reopened = EventLog::open(Store::open(), "node-a");
  PLEXUS_REQUIRE_OK(reopened);
  CHECK((*reopened)->last() == 3);
  auto all = (*reopened)->read(0, 0);
  PLEXUS_REQUIRE_OK(all);
  REQUIRE(all->events.size() == 3);
  CHECK(all->events == (*(*log)->read(0, 0)).events);
  CHECK(all->events[2].tenant == "t2");
  CHECK(*(*reopened)->append(event("t3", 1, EventKind::install)) == 4);
  auto none = (*reopened)->read(4, 0);
  CHECK(none->events.empty());
  CHECK(none->next == 4);
}

TEST_CASE("event log: retention keeps the last keep_max; nodes keep their own logs") {
  // Proves bounded retention (old events cleared, the sequence still grows) and the per-node layout.
  Fixture f;
  if (!f.database) return;
  auto a = EventLog::open(f.database, "a", {.keep_max = 3, .read_max = 100});
  auto b = EventLog::open(f.database, "b");
  PLEXUS_REQUIRE_OK(a);
  PLEXUS_REQUIRE_OK(b);
  for (std::uint64_t i = 1; i <= 10; ++i) PLEXUS_REQUIRE_OK((*a)->append(event("t", i, EventKind::update)));
  PLEXUS_REQUIRE_OK((*b)->append(event("u", 1, EventKind::install)));
  auto page = (*a)->read(0, 0);
  PLEXUS_REQUIRE_OK(page);
  REQUIRE(page->events.size() == 3);
  CHECK(page->events[0].seq == 8);
  CHECK(page->events[2].seq == 10);
  CHECK(page->first_kept == 8);
  auto reopened = EventLog::open(Store::open(), "a", {.keep_max = 3});
  CHECK((*reopened)->last() == 10);
  auto other = (*b)->read(0, 0);
  REQUIRE(other->events.size() == 1);
  CHECK(other->events[0].tenant == "u");
  CHECK_FALSE(EventLog::open(f.database, "c", {.keep_max = 0}));
}

TEST_CASE("event log: wait wakes on an append, gives up at its deadline, and subscribers see each commit") {
  // Proves the long poll's primitive: no event -> false at the deadline; an append from another thread wakes it.
  Fixture f;
  if (!f.database) return;
  auto log = EventLog::open(f.database, "node-w");
  PLEXUS_REQUIRE_OK(log);
  const auto start = Clock::now();
  CHECK_FALSE((*log)->wait(0, start + std::chrono::milliseconds(50)));
  CHECK(Clock::now() - start >= std::chrono::milliseconds(50));
  std::vector<std::uint64_t> seen;
  const auto id = (*log)->subscribe([&seen](const LoggedEvent& e) { seen.push_back(e.seq); });
  std::thread appender([&] { (void)(*log)->append(event("t", 1, EventKind::install)); });
  CHECK((*log)->wait(0, Clock::now() + std::chrono::seconds(10)));
  appender.join();
  CHECK(seen == std::vector<std::uint64_t>{1});
  (*log)->unsubscribe(id);
  PLEXUS_REQUIRE_OK((*log)->append(event("t", 2, EventKind::update)));
  CHECK(seen.size() == 1);
  (*log)->close();
  CHECK((*log)->wait(2, Clock::now() + std::chrono::seconds(10)) == false);  // closed: returns at once
}

}  // namespace
}  // namespace plexus::tenants
