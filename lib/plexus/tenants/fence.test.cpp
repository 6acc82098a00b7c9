// Tests of fenced ownership on a real datastore (this executable links the
// LMDB target: real files; the postgres suite links the same sources with
// PostgreSQL's): the lease's acquire / renew / release and epochs, a stale
// owner's writes refused in the same transaction, the reserved subspace, and
// processes racing for the lease whose committed writes never go back in epoch.
#include <doctest/doctest.h>

#include <chrono>

#include "plexus/store/tenant_test_support.hpp"
#include "plexus/tenants/fence.hpp"

namespace plexus::tenants {
namespace {

using namespace std::chrono_literals;
using store::tenant_test::Fixture;
using store::tenant_test::Store;

#define REQUIRE_TENANTS_ERROR(expr, code)                                                    \
  do {                                                                                       \
    const auto& result_ = (expr);                                                            \
    REQUIRE_FALSE(result_.ok());                                                             \
    REQUIRE_MESSAGE(is(result_.error(), code), result_.error().message());                   \
  } while (false)

Result<void> put(const store::Tenant& tenant, const Lease& lease, std::string key, std::string value) {
  return fenced_run(tenant, lease, [&](FencedTransaction& transaction) { return transaction.set({key}, value); });
}

std::optional<std::string> value_of(const store::Tenant& tenant, std::string key) {
  auto got = tenant.run([&](store::TenantTransaction& transaction) { return transaction.get({key}); });
  REQUIRE(got.ok());
  return *got;
}

TEST_CASE("fence: acquire, renew and release move the epoch only forward and name the holder") {
  // Proves the lease rules: held -> lease_held; expired or released -> next epoch; stale renew/release -> fenced.
  Fixture f;
  if (!f.database) return;
  auto tenant = f.tenants.open_or_create("t1");
  PLEXUS_REQUIRE_OK(tenant);
  auto none = read_lease(*tenant);
  PLEXUS_REQUIRE_OK(none);
  CHECK_FALSE(none->has_value());
  auto a = acquire(*tenant, "node-a", 1'000, 500ms);
  PLEXUS_REQUIRE_OK(a);
  CHECK(*a == Lease{"node-a", 1, 1'500});
  auto held = acquire(*tenant, "node-b", 1'499, 500ms);
  REQUIRE_TENANTS_ERROR(held, errc::lease_held);
  CHECK(held.error().detail == "held by 'node-a' at epoch 1 until 1500 ms");
  auto renewed = renew(*tenant, *a, 1'400, 500ms);
  PLEXUS_REQUIRE_OK(renewed);
  CHECK(renewed->expires_unix_ms == 1'900);
  auto b = acquire(*tenant, "node-b", 1'900, 500ms);
  PLEXUS_REQUIRE_OK(b);
  CHECK(b->epoch == 2);
  auto stale = renew(*tenant, *renewed, 2'000, 500ms);
  REQUIRE_TENANTS_ERROR(stale, errc::fenced);
  CHECK(stale.error().detail == "lease of 'node-a' at epoch 1 is stale: stored is 'node-b' at epoch 2");
  REQUIRE_TENANTS_ERROR(release(*tenant, *renewed), errc::fenced);
  PLEXUS_REQUIRE_OK(release(*tenant, *b));
  CHECK(**read_lease(*tenant) == Lease{"", 2, 0});
  auto again = acquire(*tenant, "node-b", 2'000, 500ms);  // released: free at once, a new epoch
  PLEXUS_REQUIRE_OK(again);
  CHECK(again->epoch == 3);
  auto self = acquire(*tenant, "node-b", 2'001, 500ms);  // a new life of the same node fences the old one
  PLEXUS_REQUIRE_OK(self);
  CHECK(self->epoch == 4);
  REQUIRE_TENANTS_ERROR(put(*tenant, *again, "k", "v"), errc::fenced);
}

TEST_CASE("fence: a stale owner's write is refused in its transaction and changes nothing") {
  // Proves the SIGSTOP scenario's core: the old owner wakes after its lease moved and cannot write.
  Fixture f;
  if (!f.database) return;
  auto tenant = f.tenants.open_or_create("t1");
  PLEXUS_REQUIRE_OK(tenant);
  auto old_owner = acquire(*tenant, "node-a", 0, 100ms);
  PLEXUS_REQUIRE_OK(old_owner);
  PLEXUS_REQUIRE_OK(put(*tenant, *old_owner, "k", "from-a"));
  // node-a pauses; its lease expires; node-b takes over through its own handle on the datastore.
  auto other = Store::open();
  store::Tenants other_tenants(other);
  auto tenant_b = other_tenants.open("t1");
  PLEXUS_REQUIRE_OK(tenant_b);
  auto new_owner = acquire(*tenant_b, "node-b", 200, 100ms);
  PLEXUS_REQUIRE_OK(new_owner);
  PLEXUS_REQUIRE_OK(put(*tenant_b, *new_owner, "k", "from-b"));
  // node-a wakes up and writes with the lease it still believes in.
  int attempts = 0;
  auto stale = fenced_run(*tenant, *old_owner, [&](FencedTransaction& transaction) {
    ++attempts;
    return transaction.set({"k"}, "from-a-again");
  });
  REQUIRE_TENANTS_ERROR(stale, errc::fenced);
  CHECK(attempts == 0);  // refused before the module's function ran
  CHECK(value_of(*tenant, "k") == "from-b");
}

TEST_CASE("fence: module code cannot touch the reserved subspace; snapshots live there") {
  // Proves reserved_key on every call naming "__plexus", and that whole-tenant reads and clears skip it.
  Fixture f;
  if (!f.database) return;
  auto tenant = f.tenants.open_or_create("t1");
  PLEXUS_REQUIRE_OK(tenant);
  auto lease = acquire(*tenant, "node-a", 0, 10'000ms);
  PLEXUS_REQUIRE_OK(lease);
  auto attempt = [&](auto&& fn) { return fenced_run(*tenant, *lease, fn); };
  const store::Tuple lease_key{"__plexus", "lease"};
  REQUIRE_TENANTS_ERROR(attempt([&](FencedTransaction& t) { return t.set(lease_key, "x"); }), errc::reserved_key);
  REQUIRE_TENANTS_ERROR(attempt([&](FencedTransaction& t) { return t.clear(lease_key); }), errc::reserved_key);
  REQUIRE_TENANTS_ERROR(attempt([&](FencedTransaction& t) { return t.get(lease_key); }), errc::reserved_key);
  REQUIRE_TENANTS_ERROR(attempt([&](FencedTransaction& t) { return t.clear_range({"__plexus"}); }), errc::reserved_key);
  PLEXUS_REQUIRE_OK(attempt([&](FencedTransaction& t) -> Result<void> {
    if (auto ok = t.set({"a"}, "1"); !ok) return ok;
    if (auto ok = t.set({"z"}, "2"); !ok) return ok;
    return t.write_snapshot("state-7");
  }));
  auto rows = attempt([&](FencedTransaction& t) { return t.get_range({}); });
  PLEXUS_REQUIRE_OK(rows);
  REQUIRE(rows->rows.size() == 2);
  CHECK(rows->rows[0].key == store::Tuple{"a"});
  PLEXUS_REQUIRE_OK(attempt([&](FencedTransaction& t) { return t.clear_range({}); }));
  auto after = attempt([&](FencedTransaction& t) -> Result<std::optional<std::string>> {
    auto left = t.get_range({});
    if (!left) return left.error();
    if (!left->rows.empty()) return std::optional<std::string>("rows left");
    return t.read_snapshot();
  });
  PLEXUS_REQUIRE_OK(after);
  CHECK(*after == std::optional<std::string>("state-7"));  // the snapshot and the lease survive the clear
  CHECK(read_lease(*tenant)->value().epoch == lease->epoch);
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST_CASE("fence: processes stealing the lease never commit a write older than one already committed") {
  // Proves at most one writing owner at a time across real processes: committed epochs never go back.
  Fixture f;
  if (!f.database) return;
  PLEXUS_REQUIRE_OK(f.tenants.open_or_create("t1"));
  constexpr int processes = 4;
  // Each process runs for race_ms of wall time (and at most rounds_max rounds), so they overlap.
  constexpr int rounds_max = 20'000;
  constexpr std::int64_t race_ms = 300;
  // The log is read back in one range read: stay under store's range_rows_max.
  constexpr std::int64_t log_max = 8'000;
  const auto codes = store::tenant_test::run_forked(processes, [](int index) {
    auto database = Store::open();
    store::Tenants tenants(database);
    auto tenant = tenants.open("t1");
    if (!tenant) return 2;
    const std::string node = "node-" + std::to_string(index);
    const std::int64_t stop_at = wall_ms() + race_ms;
    std::int64_t logged_last = 0;
    for (int round = 0; round < rounds_max && wall_ms() < stop_at && logged_last < log_max; ++round) {
      // A 1 ms lease: the others may take it over between any two writes.
      auto lease = acquire(*tenant, node, wall_ms(), 1ms);
      if (!lease) continue;
      for (int write = 0; write < 3; ++write) {
        auto logged = fenced_run(*tenant, *lease, [&](FencedTransaction& t) -> Result<void> {
          auto count = t.get({"count"});
          if (!count) return count.error();
          const std::int64_t next = *count ? std::stoll(**count) + 1 : 1;
          if (auto ok = t.set({"log", next}, std::to_string(lease->epoch) + " " + node); !ok) return ok;
          logged_last = next;
          return t.set({"count"}, std::to_string(next));
        });
        if (!logged && !is(logged.error(), errc::fenced)) return 3;
        if (!logged) {
          // Counted outside the fence, so the parent can see that stale writes really happened.
          auto counted = tenant->run([&](store::TenantTransaction& t) -> Result<void> {
            auto fenced = t.get({"fenced", node});
            if (!fenced) return fenced.error();
            return t.set({"fenced", node}, std::to_string(*fenced ? std::stoll(**fenced) + 1 : 1));
          });
          if (!counted) return 4;
        }
      }
    }
    return 0;
  });
  for (const int code : codes) CHECK(code == 0);
  auto tenant = f.tenants.open("t1");
  PLEXUS_REQUIRE_OK(tenant);
  auto log = tenant->run([](store::TenantTransaction& t) { return t.get_range({"log"}); });
  PLEXUS_REQUIRE_OK(log);
  REQUIRE_FALSE(log->rows.empty());
  REQUIRE_FALSE(log->more);
  std::int64_t last_epoch = 0;
  for (const auto& row : log->rows) {
    const std::int64_t epoch = std::stoll(row.value);
    INFO("log entry ", row.value, " after epoch ", last_epoch);
    CHECK(epoch >= last_epoch);
    last_epoch = epoch;
  }
  auto fenced = tenant->run([](store::TenantTransaction& t) { return t.get_range({"fenced"}); });
  PLEXUS_REQUIRE_OK(fenced);
  std::int64_t refused = 0;
  for (const auto& row : fenced->rows) refused += std::stoll(row.value);
  INFO("committed ", log->rows.size(), ", fenced ", refused);
  CHECK(refused > 0);  // the race really produced stale owners, and each was refused
  CHECK(log->rows.size() + static_cast<std::size_t>(refused) <= static_cast<std::size_t>(processes * rounds_max * 3));
}

}  // namespace
}  // namespace plexus::tenants
