// LeaseTable: leases run out at their time and not before, renewals move the
// time, closes forget, and the table refuses to grow past its capacity.
#include <doctest/doctest.h>

#include "plexus/node/presence_leases.hpp"

using plexus::node::LeaseTable;
using Millis = std::chrono::milliseconds;

TEST_CASE("a lease runs out at open time + ttl, soonest first") {
  LeaseTable table(10);
  const LeaseTable::TimePoint t0{};
  REQUIRE(table.open(1, t0, Millis(300)));
  REQUIRE(table.open(2, t0, Millis(100)));
  CHECK(table.next_expiry() == t0 + Millis(100));
  CHECK(table.expire(t0 + Millis(99)).empty());
  CHECK(table.expire(t0 + Millis(100)) == std::vector<std::uint64_t>{2});
  CHECK(table.expire(t0 + Millis(1000)) == std::vector<std::uint64_t>{1});
  CHECK(table.size() == 0);
  CHECK_FALSE(table.next_expiry().has_value());
}

TEST_CASE("renew moves the expiry; unknown ids are refused") {
  LeaseTable table(10);
  const LeaseTable::TimePoint t0{};
  REQUIRE(table.open(1, t0, Millis(100)));
  CHECK(table.renew(1, t0 + Millis(90), Millis(100)));
  CHECK(table.expire(t0 + Millis(150)).empty());
  CHECK(table.expiry_of(1) == t0 + Millis(190));
  CHECK_FALSE(table.renew(7, t0, Millis(100)));
  CHECK(table.expire(t0 + Millis(190)) == std::vector<std::uint64_t>{1});
  CHECK_FALSE(table.renew(1, t0 + Millis(200), Millis(100)));  // ran out: gone for good
}

TEST_CASE("close forgets a lease; the table is bounded") {
  LeaseTable table(2);
  const LeaseTable::TimePoint t0{};
  REQUIRE(table.open(1, t0, Millis(100)));
  REQUIRE(table.open(2, t0, Millis(100)));
  CHECK(table.full());
  CHECK_FALSE(table.open(3, t0, Millis(100)));
  CHECK(table.close(1));
  CHECK_FALSE(table.close(1));
  CHECK(table.open(3, t0, Millis(50)));
  CHECK(table.expire(t0 + Millis(100)) == std::vector<std::uint64_t>{3, 2});
}
