// Tenant migrations and racing processes: steps applied in order and once,
// also when several forked processes open (or create) the same tenant at once.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "plexus/store/tenant.hpp"
#include "plexus/store/tenant_test_support.hpp"

namespace plexus::store {
namespace {

using tenant_test::Fixture;

/// A step that counts its own applications in the tenant's data, at ("applied", version).
Migration counting_step(std::int64_t version, std::string name) {
  return Migration{version, std::move(name), [version](TenantTransaction& t) -> Result<void> {
                     auto value = t.get({"applied", version});
                     if (!value.ok()) return value.error();
                     const int count = value->has_value() ? std::stoi(**value) : 0;
                     return t.set({"applied", version}, std::to_string(count + 1));
                   }};
}

/// The applications counted by counting_step, per version 1..versions_count.
std::vector<int> applications(const Tenant& tenant, int versions_count) {
  std::vector<int> counts;
  auto read = tenant.begin(Mode::snapshot);
  REQUIRE(read.ok());
  for (int version = 1; version <= versions_count; ++version) {
    auto value = read->get({"applied", version});
    REQUIRE(value.ok());
    counts.push_back(value->has_value() ? std::stoi(**value) : 0);
  }
  return counts;
}

TEST_CASE("tenant: migrations run in order, once, and resume after new steps") {
  // Proves open applies only pending steps, records the version, and re-opening applies nothing twice.
  Fixture f;
  if (!f.store.available()) return;
  PLEXUS_REQUIRE_OK(f.tenants.create("acme"));
  Migrations steps{counting_step(1, "create_users"), counting_step(2, "index_email")};
  auto first = f.tenants.open("acme", steps);
  PLEXUS_REQUIRE_OK(first);
  CHECK(first->migration_version() == 2);
  CHECK(f.tenants.meta("acme")->migration_version == 2);
  auto second = f.tenants.open("acme", steps);
  PLEXUS_REQUIRE_OK(second);
  steps.push_back(counting_step(5, "add_orders"));
  auto third = f.tenants.open_or_create("acme", steps);
  PLEXUS_REQUIRE_OK(third);
  CHECK(third->migration_version() == 5);
  CHECK(applications(*third, 5) == std::vector<int>{1, 1, 0, 0, 1});
}

TEST_CASE("tenant: a failing step names itself and keeps the earlier steps") {
  // Proves migration_failed names the failing step, earlier steps stay applied, and its writes are rolled back.
  Fixture f;
  if (!f.store.available()) return;
  PLEXUS_REQUIRE_OK(f.tenants.create("acme"));
  Migrations steps{counting_step(1, "create_users"),
                   Migration{2, "broken_step", [](TenantTransaction& t) -> Result<void> {
                               if (auto r = t.set({"half"}, "written"); !r.ok()) return r;
                               return make_error(errc::invalid_option, "no such column");
                             }},
                   counting_step(3, "never_reached")};
  auto opened = f.tenants.open("acme", steps);
  PLEXUS_REQUIRE_ERROR(opened, errc::migration_failed);
  CHECK(opened.error().detail.find("broken_step") != std::string::npos);
  CHECK(opened.error().detail.find("no such column") != std::string::npos);
  CHECK(f.tenants.meta("acme")->migration_version == 1);
  steps.erase(steps.begin() + 1, steps.end());
  auto reopened = f.tenants.open("acme", steps);
  PLEXUS_REQUIRE_OK(reopened);
  CHECK(applications(*reopened, 3) == std::vector<int>{1, 0, 0});
  auto half = reopened->run([](TenantTransaction& t) { return t.get({"half"}); });
  PLEXUS_REQUIRE_OK(half);
  CHECK_FALSE(half->has_value());
}

TEST_CASE("tenant: migration lists must be well formed") {
  // Proves out-of-order, non-positive or empty steps are refused with invalid_option before anything runs.
  Fixture f;
  if (!f.store.available()) return;
  PLEXUS_REQUIRE_OK(f.tenants.create("acme"));
  PLEXUS_REQUIRE_ERROR(f.tenants.open("acme", {counting_step(2, "b"), counting_step(1, "a")}), errc::invalid_option);
  PLEXUS_REQUIRE_ERROR(f.tenants.open("acme", {counting_step(1, "a"), counting_step(1, "a_again")}),
                       errc::invalid_option);
  PLEXUS_REQUIRE_ERROR(f.tenants.open("acme", {counting_step(0, "zero")}), errc::invalid_option);
  PLEXUS_REQUIRE_ERROR(f.tenants.open("acme", {Migration{1, "empty", {}}}), errc::invalid_option);
  CHECK(f.tenants.meta("acme")->migration_version == 0);
}

TEST_CASE("tenant: clear resets the migration version so open_empty migrates again") {
  // Proves the data migrations wrote is cleared with the rest, and the steps run again on the next open.
  Fixture f;
  if (!f.store.available()) return;
  const Migrations steps{counting_step(1, "create_users")};
  auto first = f.tenants.open_empty("acme", steps);
  PLEXUS_REQUIRE_OK(first);
  CHECK(applications(*first, 1) == std::vector<int>{1});
  auto second = f.tenants.open_empty("acme", steps);
  PLEXUS_REQUIRE_OK(second);
  CHECK(second->migration_version() == 1);
  CHECK(applications(*second, 1) == std::vector<int>{1});
}

constexpr int racers_count = 4;

TEST_CASE("tenant: processes racing open_or_create make one tenant") {
  // Proves forked processes creating and migrating the same tenant at once end with one entry, one prefix,
  // one allocation, and each step applied once.
  tenant_test::Store store;
  if (!store.available()) return;
  const Migrations steps{counting_step(1, "first"), counting_step(2, "second")};
  const auto codes = tenant_test::run_forked(racers_count, [&](int index) {
    Tenants tenants(store.open());
    auto tenant = tenants.open_or_create("raced", steps);
    if (!tenant.ok()) return 1;
    auto written = tenant->run([&](TenantTransaction& t) { return t.set({"opener", index}, tenant->prefix()); });
    return written.ok() ? 0 : 2;
  });
  CHECK(codes == std::vector<int>(racers_count, 0));
  Tenants tenants(store.open());
  auto page = tenants.list();
  PLEXUS_REQUIRE_OK(page);
  CHECK(page->ids == std::vector<std::string>{"raced"});
  auto tenant = tenants.open("raced");
  PLEXUS_REQUIRE_OK(tenant);
  CHECK(tenant->prefix() == std::string("\x01"));
  CHECK(tenant->migration_version() == 2);
  CHECK(applications(*tenant, 2) == std::vector<int>{1, 1});
  auto openers = tenant->run([](TenantTransaction& t) { return t.get_range({"opener"}); });
  PLEXUS_REQUIRE_OK(openers);
  REQUIRE(openers->rows.size() == racers_count);
  for (const auto& row : openers->rows) CHECK(row.value == tenant->prefix());
  PLEXUS_REQUIRE_OK(tenants.create("next"));
  CHECK(tenants.meta("next")->prefix == std::string("\x02"));
}

TEST_CASE("tenant: processes opening at once apply each migration once") {
  // Proves concurrent opens from forked processes apply every step exactly once, counted in the tenant's data.
  tenant_test::Store store;
  if (!store.available()) return;
  constexpr int steps_count = 5;
  Migrations steps;
  for (int version = 1; version <= steps_count; ++version) steps.push_back(counting_step(version, "step"));
  {
    Tenants tenants(store.open());
    PLEXUS_REQUIRE_OK(tenants.create("migrated"));
  }
  const auto codes = tenant_test::run_forked(racers_count, [&](int) {
    Tenants tenants(store.open());
    auto tenant = tenants.open("migrated", steps);
    return tenant.ok() && tenant->migration_version() == steps_count ? 0 : 1;
  });
  CHECK(codes == std::vector<int>(racers_count, 0));
  Tenants tenants(store.open());
  auto tenant = tenants.open("migrated");
  PLEXUS_REQUIRE_OK(tenant);
  CHECK(tenant->migration_version() == steps_count);
  CHECK(applications(*tenant, steps_count) == std::vector<int>(steps_count, 1));
}

}  // namespace
}  // namespace plexus::store
