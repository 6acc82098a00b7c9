// Reading a tenant's range past get_range's row ceiling: TupleRangeResult's
// rest, TenantTransaction::get_range_rest and TenantRangeIterator (batches,
// lazy unpacking, limits, reverse, resuming in a later transaction).
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "plexus/store/tenant.hpp"
#include "plexus/store/tenant_test_support.hpp"

namespace plexus::store {
namespace {

using tenant_test::Fixture;

/// Past Limits::range_rows_max (10,000), so one get_range cannot return them all.
constexpr std::int64_t item_count = 10'500;

void fill_items(const Tenant& tenant) {
  for (std::int64_t first = 0; first < item_count; first += 1'500) {
    PLEXUS_REQUIRE_OK(tenant.run([&](TenantTransaction& t) -> Result<void> {
      for (std::int64_t i = first; i < std::min(item_count, first + 1'500); ++i) {
        if (auto r = t.set({"item", i}, "v" + std::to_string(i)); !r.ok()) return r;
      }
      return t.set({"other"}, "outside the prefix");
    }));
  }
}

/// Every row `iterator` hands out (bounded by item_count + 1), as (relative tuple, value).
std::vector<TupleRow> drain(TenantRangeIterator& iterator) {
  std::vector<TupleRow> rows;
  for (std::int64_t n = 0; n <= item_count; ++n) {
    auto row = iterator.next();
    PLEXUS_REQUIRE_OK(row);
    if (*row == nullptr) break;
    auto key = (*row)->tuple();
    PLEXUS_REQUIRE_OK(key);
    rows.push_back(TupleRow{*key, std::string((*row)->value)});
  }
  return rows;
}

TEST_CASE("tenant: a tuple range past the row ceiling resumes from its rest") {
  // Proves get_range stops at range_rows_max with `more` and a rest, and get_range_rest reads the remainder in a later transaction.
  Fixture f;
  if (!f.store.available()) return;
  auto tenant = f.tenants.open_or_create("ranges");
  PLEXUS_REQUIRE_OK(tenant);
  fill_items(*tenant);
  auto first = tenant->begin(Mode::snapshot);
  PLEXUS_REQUIRE_OK(first);
  auto head = first->get_range({"item"});
  PLEXUS_REQUIRE_OK(head);
  REQUIRE(head->rows.size() == 10'000);
  CHECK(head->more);
  CHECK(head->rows.back().key == Tuple{"item", 9'999});
  first->cancel();

  auto second = tenant->begin(Mode::snapshot);
  PLEXUS_REQUIRE_OK(second);
  auto tail = second->get_range_rest(head->rest);
  PLEXUS_REQUIRE_OK(tail);
  REQUIRE(tail->rows.size() == 500);
  CHECK_FALSE(tail->more);
  CHECK(tail->rows.front().key == Tuple{"item", 10'000});
  CHECK(tail->rows.back().value == "v10499");
  PLEXUS_REQUIRE_ERROR(second->get_range_rest(KeyRange{std::string(), head->rest.end}), errc::outside_tenant);
}

TEST_CASE("tenant: TenantRangeIterator walks a whole prefix in batches and resumes from rest()") {
  // Proves the iterator hands out every row in order past the ceiling, honours limit and reverse, and its rest() continues exactly.
  Fixture f;
  if (!f.store.available()) return;
  auto tenant = f.tenants.open_or_create("iterated");
  PLEXUS_REQUIRE_OK(tenant);
  fill_items(*tenant);
  auto t = tenant->begin(Mode::snapshot);
  PLEXUS_REQUIRE_OK(t);
  auto all = TenantRangeIterator::tuples(*t, {"item"}, {}, 700);
  PLEXUS_REQUIRE_OK(all);
  const auto rows = drain(*all);
  REQUIRE(rows.size() == static_cast<std::size_t>(item_count));
  for (std::int64_t i = 0; i < item_count; i += 997) CHECK(rows[static_cast<std::size_t>(i)].key == Tuple{"item", i});
  CHECK(rows.back().value == "v10499");
  CHECK(all->rest().begin == all->rest().end);

  auto part = TenantRangeIterator::tuples(*t, {"item"}, RangeOptions{.limit = 4'000}, 1'500);
  PLEXUS_REQUIRE_OK(part);
  CHECK(drain(*part).size() == 4'000);
  const KeyRange rest = part->rest();
  t->cancel();
  auto later = tenant->begin(Mode::snapshot);
  PLEXUS_REQUIRE_OK(later);
  auto resumed = TenantRangeIterator::raw(*later, rest.begin, rest.end);
  PLEXUS_REQUIRE_OK(resumed);
  const auto remainder = drain(*resumed);
  REQUIRE(remainder.size() == 6'500);
  CHECK(remainder.front().key == Tuple{"item", 4'000});

  auto backwards = TenantRangeIterator::tuples(*later, {"item"}, RangeOptions{.limit = 3, .reverse = true}, 2);
  PLEXUS_REQUIRE_OK(backwards);
  const auto last_three = drain(*backwards);
  REQUIRE(last_three.size() == 3);
  CHECK(last_three[0].key == Tuple{"item", 10'499});
  CHECK(last_three[2].key == Tuple{"item", 10'497});
  const KeyRange before = backwards->rest();
  auto on = TenantRangeIterator::raw(*later, before.begin, before.end, RangeOptions{.limit = 1, .reverse = true});
  PLEXUS_REQUIRE_OK(on);
  const auto next_one = drain(*on);
  REQUIRE(next_one.size() == 1);
  CHECK(next_one[0].key == Tuple{"item", 10'496});
  PLEXUS_REQUIRE_ERROR(TenantRangeIterator::raw(*later, std::string(), tenant->key_range().end), errc::outside_tenant);
}

}  // namespace
}  // namespace plexus::store
