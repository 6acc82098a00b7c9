// A tenant handle's key space: tuple reads and writes relative to the tenant,
// raw keys, and isolation (nothing a handle is given reaches another tenant).
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "plexus/store/tenant.hpp"
#include "plexus/store/tenant_test_support.hpp"

namespace plexus::store {
namespace {

using tenant_test::Fixture;

/// Writes rows at pack((P,)) itself, a tuple key, and the last tuple-like keys of the space.
Result<void> fill(const Tenant& tenant, const std::string& tag) {
  return tenant.run([&](TenantTransaction& t) -> Result<void> {
    if (auto r = t.set({}, tag + "/root"); !r.ok()) return r;
    if (auto r = t.set({"k", 1}, tag + "/k1"); !r.ok()) return r;
    if (auto r = t.set({Bytes{std::string("\xff\xff", 2)}}, tag + "/ff"); !r.ok()) return r;
    return t.set({Tuple{nullptr, Bytes{std::string("\x00", 1)}}}, tag + "/nested");
  });
}

std::size_t row_count(const Tenant& tenant) {
  auto transaction = tenant.begin(Mode::snapshot);
  REQUIRE(transaction.ok());
  const KeyRange all = tenant.key_range();
  auto rows = transaction->get_range_raw(all.begin, all.end);
  REQUIRE(rows.ok());
  return rows->rows.size();
}

TEST_CASE("tenant: tuple keys are relative and rows come back unpacked") {
  // Proves get/set/clear/get_range/clear_range work on tuples relative to the tenant, prefix stripped on the way out.
  Fixture f;
  if (!f.store.available()) return;
  auto tenant = f.tenants.open_or_create("acme");
  PLEXUS_REQUIRE_OK(tenant);
  PLEXUS_REQUIRE_OK(tenant->run([](TenantTransaction& t) -> Result<void> {
    for (int i = 0; i < 5; ++i) {
      if (auto r = t.set({"user", i}, "u" + std::to_string(i)); !r.ok()) return r;
    }
    return t.set({"zone"}, "z");
  }));
  auto read = tenant->begin(Mode::snapshot);
  PLEXUS_REQUIRE_OK(read);
  CHECK(**read->get({"user", 3}) == "u3");
  auto users = read->get_range({"user"});
  PLEXUS_REQUIRE_OK(users);
  REQUIRE(users->rows.size() == 5);
  CHECK(users->rows[0].key == Tuple{"user", 0});
  CHECK(users->rows[4].value == "u4");
  auto limited = read->get_range({"user"}, RangeOptions{.limit = 2, .reverse = true});
  PLEXUS_REQUIRE_OK(limited);
  REQUIRE(limited->rows.size() == 2);
  CHECK(limited->more);
  CHECK(limited->rows[0].key == Tuple{"user", 4});
  CHECK(*tenant->pack({"zone"}) == tenant->key_range().begin + *pack({"zone"}));
  CHECK(*tenant->unpack(*tenant->pack({"zone", 7})) == Tuple{"zone", 7});
  read->cancel();

  PLEXUS_REQUIRE_OK(tenant->run([](TenantTransaction& t) -> Result<void> {
    if (auto r = t.clear({"user", 0}); !r.ok()) return r;
    return t.clear_range({"user"});
  }));
  auto after = tenant->run([](TenantTransaction& t) { return t.get_range({}); });
  PLEXUS_REQUIRE_OK(after);
  REQUIRE(after->rows.size() == 1);
  CHECK(after->rows[0].key == Tuple{"zone"});
}

TEST_CASE("tenant: raw keys and range bounds outside the tenant are refused") {
  // Proves every raw call with a key or bound outside [pack((P,)), pack((P,)) + ff) fails with outside_tenant.
  Fixture f;
  if (!f.store.available()) return;
  tenant_test::set_prefix_counter(*f.database, 0);
  auto one = f.tenants.open_or_create("one");  // P = 01
  PLEXUS_REQUIRE_OK(one);
  tenant_test::set_prefix_counter(*f.database, 255);
  auto one_zero = f.tenants.open_or_create("one_zero");  // P = 01 00: pack((P,)) = pack((01,)) + ff 00
  PLEXUS_REQUIRE_OK(one_zero);
  REQUIRE(one_zero->key_range().begin.starts_with(one->key_range().begin));
  PLEXUS_REQUIRE_OK(fill(*one_zero, "one_zero"));

  const std::string begin = one->key_range().begin;
  const std::vector<std::string> outside{
      std::string(),
      begin.substr(0, begin.size() - 1),
      std::string("\xff") + "tenant",
      one_zero->key_range().begin,
      *one_zero->pack({"k", 1}),
      begin + '\xff',
      one->key_range().end,
      std::string(1, '\x02'),
  };
  auto t = one->begin(Mode::read_write);
  PLEXUS_REQUIRE_OK(t);
  for (const auto& key : outside) {
    CAPTURE(to_hex(key));
    PLEXUS_REQUIRE_ERROR(t->get_raw(key), errc::outside_tenant);
    PLEXUS_REQUIRE_ERROR(t->set_raw(key, "x"), errc::outside_tenant);
    PLEXUS_REQUIRE_ERROR(t->clear_raw(key), errc::outside_tenant);
    PLEXUS_REQUIRE_ERROR(one->unpack(key), errc::outside_tenant);
  }
  const KeyRange own = one->key_range();
  // Bounds reaching into the neighbour, before the tenant, or past its end.
  const std::vector<std::pair<std::string, std::string>> ranges{
      {own.begin, own.end + '\x00'},
      {own.begin, begin + std::string("\xff\x00", 2)},
      {std::string(), own.end},
      {own.begin.substr(0, own.begin.size() - 1), own.begin},
      {own.begin, std::string(1, '\xff')},
  };
  for (const auto& [low, high] : ranges) {
    CAPTURE(to_hex(low));
    CAPTURE(to_hex(high));
    PLEXUS_REQUIRE_ERROR(t->get_range_raw(low, high), errc::outside_tenant);
    PLEXUS_REQUIRE_ERROR(t->clear_range_raw(low, high), errc::outside_tenant);
  }
  // The whole own space is fine and holds none of the neighbour's rows.
  auto own_rows = t->get_range_raw(own.begin, own.end);
  PLEXUS_REQUIRE_OK(own_rows);
  CHECK(own_rows->rows.empty());
  PLEXUS_REQUIRE_OK(t->clear_range_raw(own.begin, own.end));
  PLEXUS_REQUIRE_OK(t->set_raw(own.begin, "root"));
  PLEXUS_REQUIRE_OK(t->commit());
  CHECK(row_count(*one_zero) == 4);
}

TEST_CASE("tenant: tuples whose bytes sort outside still land inside the tenant") {
  // Proves odd tuple keys (ff bytes, nulls, nested tuples, another tenant's prefix) are written under pack((P,)).
  Fixture f;
  if (!f.store.available()) return;
  auto a = f.tenants.open_or_create("a");
  auto b = f.tenants.open_or_create("b");
  PLEXUS_REQUIRE_OK(a);
  PLEXUS_REQUIRE_OK(b);
  const std::vector<Tuple> odd{
      {Bytes{std::string("\xff\xff\xff", 3)}},
      {Bytes{b->prefix()}},
      {nullptr},
      {Tuple{Bytes{b->prefix()}, nullptr}},
      {Bytes{std::string("\x00\xff", 2)}, "x"},
      {std::string("\xef\xbf\xbf")},  // U+FFFF: a string element of high bytes
  };
  PLEXUS_REQUIRE_OK(a->run([&](TenantTransaction& t) -> Result<void> {
    for (const auto& key : odd) {
      if (auto r = t.set(key, "odd"); !r.ok()) return r;
    }
    return {};
  }));
  const KeyRange space = a->key_range();
  int inside = 0;
  for (const auto& row : tenant_test::all_rows(*f.database)) {
    if (row.key[0] == '\xff') continue;
    CHECK(row.key >= space.begin);
    CHECK(row.key < space.end);
    ++inside;
  }
  CHECK(inside == static_cast<int>(odd.size()));
  CHECK(row_count(*b) == 0);
}

TEST_CASE("tenant: clear leaves neighbours sharing leading prefix bytes intact") {
  // Proves clearing tenants 01, 01 00 and 01 02 touches only each one's own keys, pack((P,)) itself included.
  Fixture f;
  if (!f.store.available()) return;
  auto one = f.tenants.open_or_create("one");  // 01
  tenant_test::set_prefix_counter(*f.database, 255);
  auto one_zero = f.tenants.open_or_create("one_zero");  // 01 00
  tenant_test::set_prefix_counter(*f.database, 257);
  auto one_two = f.tenants.open_or_create("one_two");  // 01 02
  auto two = f.tenants.open_or_create("two");          // 01 03
  for (auto* tenant : {&one, &one_zero, &one_two, &two}) {
    PLEXUS_REQUIRE_OK(*tenant);
    PLEXUS_REQUIRE_OK(fill(**tenant, (*tenant)->id()));
    CHECK(row_count(**tenant) == 4);
  }
  CHECK(one_zero->prefix() == std::string("\x01\x00", 2));
  CHECK(one_two->prefix() == std::string("\x01\x02", 2));

  PLEXUS_REQUIRE_OK(f.tenants.clear("one"));
  CHECK(row_count(*one) == 0);
  CHECK(row_count(*one_zero) == 4);
  CHECK(row_count(*one_two) == 4);
  PLEXUS_REQUIRE_OK(f.tenants.clear("one_zero"));
  CHECK(row_count(*one_zero) == 0);
  CHECK(row_count(*one_two) == 4);
  PLEXUS_REQUIRE_OK(f.tenants.clear_remove("one_two"));
  CHECK(row_count(*two) == 4);
  auto root = two->run([](TenantTransaction& t) { return t.get({}); });
  PLEXUS_REQUIRE_OK(root);
  CHECK(**root == "two/root");
}

TEST_CASE("tenant: one handle serves many threads") {
  // Proves a Tenant handle is safe to share: concurrent read-modify-write transactions lose no increment.
  Fixture f;
  if (!f.store.available()) return;
  auto tenant = f.tenants.open_or_create("shared");
  PLEXUS_REQUIRE_OK(tenant);
  constexpr int threads_count = 4;
  constexpr int increments_per_thread = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(threads_count, 0);
  for (int index = 0; index < threads_count; ++index) {
    threads.emplace_back([&, index] {
      for (int i = 0; i < increments_per_thread; ++i) {
        auto done = tenant->run([](TenantTransaction& t) -> Result<void> {
          auto value = t.get({"counter"});
          if (!value.ok()) return value.error();
          const int current = value->has_value() ? std::stoi(**value) : 0;
          return t.set({"counter"}, std::to_string(current + 1));
        });
        if (!done.ok()) ++failures[index];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == std::vector<int>(threads_count, 0));
  auto total = tenant->run([](TenantTransaction& t) { return t.get({"counter"}); });
  PLEXUS_REQUIRE_OK(total);
  CHECK(**total == std::to_string(threads_count * increments_per_thread));
}

}  // namespace
}  // namespace plexus::store
