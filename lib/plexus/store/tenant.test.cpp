// Tenant directory calls and their outcomes: create, exists, list, open,
// open_or_create, open_empty, clear, remove, clear_remove, id validation.
#include "plexus/store/tenant.hpp"

#include <string>

#include <doctest/doctest.h>

#include "plexus/store/tenant_test_support.hpp"

namespace plexus::store {
namespace {

using tenant_test::Fixture;

TEST_CASE("tenant: create, exists and open report each outcome") {
  // Proves create/exists/open/open_or_create answer tenant_already_exists and tenant_not_found exactly when due.
  Fixture f;
  if (!f.store.available()) return;
  CHECK_FALSE(*f.tenants.exists("acme"));
  PLEXUS_REQUIRE_ERROR(f.tenants.open("acme"), errc::tenant_not_found);
  PLEXUS_REQUIRE_ERROR(f.tenants.meta("acme"), errc::tenant_not_found);
  PLEXUS_REQUIRE_OK(f.tenants.create("acme"));
  CHECK(*f.tenants.exists("acme"));
  PLEXUS_REQUIRE_ERROR(f.tenants.create("acme"), errc::tenant_already_exists);

  auto opened = f.tenants.open("acme");
  PLEXUS_REQUIRE_OK(opened);
  CHECK(opened->id() == "acme");
  CHECK(opened->prefix() == std::string("\x01"));
  CHECK(opened->migration_version() == 0);
  auto again = f.tenants.open_or_create("acme");
  PLEXUS_REQUIRE_OK(again);
  CHECK(again->prefix() == opened->prefix());

  auto created = f.tenants.open_or_create("globex");
  PLEXUS_REQUIRE_OK(created);
  CHECK(created->prefix() == std::string("\x02"));
  auto meta = f.tenants.meta("globex");
  PLEXUS_REQUIRE_OK(meta);
  CHECK(meta->prefix == std::string("\x02"));
  CHECK(meta->created_unix_ms > 0);
}

TEST_CASE("tenant: ids are non-empty and at most tenant_id_bytes_max bytes") {
  // Proves every call refuses an empty or oversized id with invalid_tenant_id and accepts any bytes up to the limit.
  Fixture f;
  if (!f.store.available()) return;
  const std::string longest(tenant_id_bytes_max, '\x00');
  const std::string too_long(tenant_id_bytes_max + 1, 'x');
  for (const std::string& bad : {std::string(), too_long}) {
    PLEXUS_REQUIRE_ERROR(f.tenants.create(bad), errc::invalid_tenant_id);
    PLEXUS_REQUIRE_ERROR(f.tenants.exists(bad), errc::invalid_tenant_id);
    PLEXUS_REQUIRE_ERROR(f.tenants.open(bad), errc::invalid_tenant_id);
    PLEXUS_REQUIRE_ERROR(f.tenants.open_or_create(bad), errc::invalid_tenant_id);
    PLEXUS_REQUIRE_ERROR(f.tenants.open_empty(bad), errc::invalid_tenant_id);
    PLEXUS_REQUIRE_ERROR(f.tenants.clear(bad), errc::invalid_tenant_id);
    PLEXUS_REQUIRE_ERROR(f.tenants.remove(bad), errc::invalid_tenant_id);
    PLEXUS_REQUIRE_ERROR(f.tenants.clear_remove(bad), errc::invalid_tenant_id);
  }
  PLEXUS_REQUIRE_OK(f.tenants.create(longest));
  CHECK(*f.tenants.exists(longest));
  PLEXUS_REQUIRE_OK(f.tenants.create(std::string("\xff\x00", 2)));
}

TEST_CASE("tenant: remove needs an empty tenant, clear_remove does not, both accept a missing one") {
  // Proves remove answers tenant_not_empty (even for a key at pack((P,)) itself), and both are no-ops when missing.
  Fixture f;
  if (!f.store.available()) return;
  PLEXUS_REQUIRE_OK(f.tenants.remove("missing"));
  PLEXUS_REQUIRE_OK(f.tenants.clear_remove("missing"));
  PLEXUS_REQUIRE_ERROR(f.tenants.clear("missing"), errc::tenant_not_found);

  auto tenant = f.tenants.open_or_create("acme");
  PLEXUS_REQUIRE_OK(tenant);
  // The key pack((P,)) itself, the first key of the tenant's space.
  PLEXUS_REQUIRE_OK(tenant->run([](TenantTransaction& t) { return t.set({}, "root"); }));
  PLEXUS_REQUIRE_ERROR(f.tenants.remove("acme"), errc::tenant_not_empty);
  PLEXUS_REQUIRE_OK(f.tenants.clear("acme"));
  PLEXUS_REQUIRE_OK(f.tenants.remove("acme"));
  CHECK_FALSE(*f.tenants.exists("acme"));

  auto other = f.tenants.open_or_create("globex");
  PLEXUS_REQUIRE_OK(other);
  PLEXUS_REQUIRE_OK(other->run([](TenantTransaction& t) { return t.set({"k", 1}, "v"); }));
  PLEXUS_REQUIRE_OK(f.tenants.clear_remove("globex"));
  CHECK_FALSE(*f.tenants.exists("globex"));
  for (const auto& row : tenant_test::all_rows(*f.database)) CHECK(row.key[0] == '\xff');
}

TEST_CASE("tenant: prefixes come from a counter and are never reused") {
  // Proves a removed tenant's prefix is not handed out again, even to a tenant of the same id.
  Fixture f;
  if (!f.store.available()) return;
  PLEXUS_REQUIRE_OK(f.tenants.create("a"));
  PLEXUS_REQUIRE_OK(f.tenants.create("b"));
  PLEXUS_REQUIRE_OK(f.tenants.remove("a"));
  PLEXUS_REQUIRE_OK(f.tenants.create("c"));
  PLEXUS_REQUIRE_OK(f.tenants.create("a"));
  CHECK(f.tenants.meta("b")->prefix == std::string("\x02"));
  CHECK(f.tenants.meta("c")->prefix == std::string("\x03"));
  CHECK(f.tenants.meta("a")->prefix == std::string("\x04"));
  tenant_test::set_prefix_counter(*f.database, 255);
  PLEXUS_REQUIRE_OK(f.tenants.create("d"));
  CHECK(f.tenants.meta("d")->prefix == std::string("\x01\x00", 2));
}

TEST_CASE("tenant: list pages through ids in byte order") {
  // Proves list(after, limit) returns every id once, in byte order, across pages, ids extending others included.
  Fixture f;
  if (!f.store.available()) return;
  const std::vector<std::string> ids{"a", std::string("a\x00", 2), "a\x01", "ab", "b", "ba", "c"};
  for (const auto& id : ids) PLEXUS_REQUIRE_OK(f.tenants.create(id));
  std::vector<std::string> seen;
  std::string after;
  for (int page_index = 0; page_index < 10; ++page_index) {
    auto page = f.tenants.list(after, 3);
    PLEXUS_REQUIRE_OK(page);
    CHECK(page->ids.size() <= 3);
    seen.insert(seen.end(), page->ids.begin(), page->ids.end());
    if (!page->more) break;
    after = page->ids.back();
  }
  CHECK(seen == ids);
  auto whole = f.tenants.list();
  PLEXUS_REQUIRE_OK(whole);
  CHECK(whole->ids == ids);
  CHECK_FALSE(whole->more);
  auto tail = f.tenants.list("a");
  PLEXUS_REQUIRE_OK(tail);
  CHECK(tail->ids == std::vector<std::string>(ids.begin() + 1, ids.end()));
  PLEXUS_REQUIRE_ERROR(f.tenants.list({}, tenant_list_page_max + 1), errc::invalid_range);
}

TEST_CASE("tenant: open_empty creates, clears and reopens") {
  // Proves open_empty returns an existing or new tenant with no data, keeping its prefix.
  Fixture f;
  if (!f.store.available()) return;
  auto fresh = f.tenants.open_empty("acme");
  PLEXUS_REQUIRE_OK(fresh);
  PLEXUS_REQUIRE_OK(fresh->run([](TenantTransaction& t) { return t.set({"k"}, "v"); }));
  auto emptied = f.tenants.open_empty("acme");
  PLEXUS_REQUIRE_OK(emptied);
  CHECK(emptied->prefix() == fresh->prefix());
  auto read = emptied->run([](TenantTransaction& t) { return t.get({"k"}); });
  PLEXUS_REQUIRE_OK(read);
  CHECK_FALSE(read->has_value());
}

TEST_CASE("tenant: a handle of a removed tenant answers tenant_not_found") {
  // Proves read-write transactions re-check the directory: removed, or removed and created again, both fail.
  Fixture f;
  if (!f.store.available()) return;
  auto old = f.tenants.open_or_create("acme");
  PLEXUS_REQUIRE_OK(old);
  PLEXUS_REQUIRE_OK(f.tenants.remove("acme"));
  PLEXUS_REQUIRE_ERROR(old->begin(Mode::read_write), errc::tenant_not_found);
  PLEXUS_REQUIRE_ERROR(old->run([](TenantTransaction& t) { return t.set({"k"}, "v"); }), errc::tenant_not_found);

  auto renewed = f.tenants.open_or_create("acme");
  PLEXUS_REQUIRE_OK(renewed);
  CHECK(renewed->prefix() != old->prefix());
  PLEXUS_REQUIRE_OK(renewed->run([](TenantTransaction& t) { return t.set({"k"}, "new"); }));
  PLEXUS_REQUIRE_ERROR(old->run([](TenantTransaction& t) { return t.set({"k"}, "old"); }), errc::tenant_not_found);
  // A snapshot of the old handle reads its own (now empty) space, never the new tenant's.
  auto snapshot = old->begin(Mode::snapshot);
  PLEXUS_REQUIRE_OK(snapshot);
  auto value = snapshot->get({"k"});
  PLEXUS_REQUIRE_OK(value);
  CHECK_FALSE(value->has_value());
}

TEST_CASE("tenant: a removal committed during a read-write transaction stops it") {
  // Proves a transaction begun before its tenant was removed cannot commit, and run() then answers tenant_not_found.
  Fixture f;
  if (!f.store.available()) return;
  auto acme = f.tenants.open_or_create("acme");
  PLEXUS_REQUIRE_OK(acme);
  auto in_flight = acme->begin(Mode::read_write);
  PLEXUS_REQUIRE_OK(in_flight);
  PLEXUS_REQUIRE_OK(f.tenants.clear_remove("acme"));
  PLEXUS_REQUIRE_OK(in_flight->set({"k"}, "v"));
  PLEXUS_REQUIRE_ERROR(in_flight->commit(), errc::conflict);

  auto globex = f.tenants.open_or_create("globex");
  PLEXUS_REQUIRE_OK(globex);
  int attempts = 0;
  auto outcome = globex->run([&](TenantTransaction& t) -> Result<void> {
    // The first attempt has read the entry; the removal commits before it does.
    if (++attempts == 1) {
      if (auto removed = f.tenants.clear_remove("globex"); !removed.ok()) return removed;
    }
    return t.set({"k"}, "v");
  });
  PLEXUS_REQUIRE_ERROR(outcome, errc::tenant_not_found);
  CHECK(attempts == 1);
  for (const auto& row : tenant_test::all_rows(*f.database)) CHECK(row.key[0] == '\xff');
}

TEST_CASE("tenant: the key layout is the documented one, byte for byte") {
  // Proves the directory entry, the prefix counter and a data key are the bytes docs/store.md shows.
  Fixture f;
  if (!f.store.available()) return;
  auto acme = f.tenants.open_or_create("acme");
  PLEXUS_REQUIRE_OK(acme);
  PLEXUS_REQUIRE_OK(acme->run([](TenantTransaction& t) { return t.set({"user", 42}, "alice"); }));
  const auto rows = tenant_test::all_rows(*f.database);
  REQUIRE(rows.size() == 3);
  CHECK(to_hex(rows[0].key) == "010100027573657200152a");
  CHECK(rows[0].value == "alice");
  CHECK(to_hex(rows[1].key) == "ff0274656e616e74000161636d6500");
  auto meta = f.tenants.meta("acme");
  PLEXUS_REQUIRE_OK(meta);
  CHECK(rows[1].value == *pack({Bytes{std::string("\x01")}, meta->created_unix_ms, 0}));
  CHECK(to_hex(rows[1].value).starts_with("010100"));
  CHECK(to_hex(rows[2].key) == "ff0274656e616e745f636f756e74657200");
  CHECK(to_hex(rows[2].value) == "1501");
  CHECK(to_hex(acme->key_range().begin) == "010100");
  CHECK(to_hex(acme->key_range().end) == "010100ff");
}

}  // namespace
}  // namespace plexus::store
