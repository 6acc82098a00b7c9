// Tests for Membership's local operations and merge: the total order, add and
// remove, add-wins, stale spec replacement, self-refutation, removed_self,
// batch validation, and capacity with reservations.
#include "plexus/membership/membership.hpp"

#include <doctest/doctest.h>

#include "plexus/core/errors.hpp"
#include "plexus/membership/test_support.hpp"

namespace plexus::membership {
namespace {

using test::check_error;
using test::live;
using test::merge_ok;
using test::names;
using test::spec;
using test::tombstone;

TEST_CASE("a new membership holds the local node alone, alive at version 1") {
  // Proves the constructor's starting state.
  const Membership m(spec("a"));
  CHECK(names(m) == std::vector<std::string>{"a"});
  REQUIRE(m.find("a") != nullptr);
  CHECK(*m.find("a") == live(spec("a"), 1));
  CHECK(m.find("b") == nullptr);
  CHECK_FALSE(m.removed_self());
  CHECK(m.refutations() == 0);
}

TEST_CASE("compare orders by version, then live over removed, instance id, addresses, channels") {
  // Proves each tie-breaker of the total order in turn, and that equal means identical.
  const NodeSpec base = spec("n", 5, 7000);
  CHECK(compare(live(base, 2), live(base, 1)) > 0);
  CHECK(compare(tombstone(base, 2), live(base, 1)) > 0);
  CHECK(compare(live(base, 2), tombstone(base, 2)) > 0);
  CHECK(compare(live(spec("n", 6, 7000), 2), live(spec("n", 5, 9000), 2)) > 0);
  CHECK(compare(live(spec("n", 5, 7001), 2), live(base, 2)) > 0);
  NodeSpec more_channels = base;
  more_channels.channels.emplace("data", ChannelSpec{2, false});
  CHECK(compare(live(more_channels, 2), live(base, 2)) != 0);
  CHECK((compare(live(more_channels, 2), live(base, 2)) < 0) == (compare(live(base, 2), live(more_channels, 2)) > 0));
  NodeSpec monotonic = base;
  monotonic.channels["default"].monotonic = true;
  CHECK(compare(live(monotonic, 2), live(base, 2)) > 0);
  CHECK(compare(live(base, 2), live(base, 2)) == 0);
}

TEST_CASE("add writes at the next version and reports whether anything changed") {
  // Proves add/remove versioning: new, identical, replaced, removed, re-added.
  Membership m(spec("a"));
  CHECK(m.add(spec("b")).value());
  CHECK(*m.find("b") == live(spec("b"), 1));
  CHECK_FALSE(m.add(spec("b")).value());
  CHECK(m.add(spec("b", 2, 7100)).value());
  CHECK(*m.find("b") == live(spec("b", 2, 7100), 2));
  CHECK(m.remove("b").value());
  CHECK(*m.find("b") == tombstone(spec("b", 2, 7100), 3));
  CHECK_FALSE(m.remove("b").value());
  CHECK_FALSE(m.remove("nobody").value());
  CHECK(names(m) == std::vector<std::string>{"a"});
  CHECK(m.add(spec("b", 2, 7100)).value());
  CHECK(*m.find("b") == live(spec("b", 2, 7100), 4));
}

TEST_CASE("add rejects invalid specs and any other spec for the local name") {
  // Proves add validates its input and guards the local entry.
  Membership m(spec("a"));
  NodeSpec bad = spec("b");
  bad.listen_addrs[0].ip = "localhost";
  check_error(m.add(bad), make_error_code(plexus::errc::invalid_field), "listen_addrs[0].ip: ");
  check_error(m.add(spec("a", 2)), make_error_code(errc::local_spec_conflict), "name: \"a\"");
  CHECK_FALSE(m.add(spec("a")).value());
  CHECK(*m.find("a") == live(spec("a"), 1));
}

TEST_CASE("a concurrent add and remove at the same version resolve to the add on every replica") {
  // Proves add-wins: merge order does not matter and both sides end alive.
  Membership x(spec("x"));
  Membership y(spec("y"));
  REQUIRE(x.add(spec("n", 1)).value());
  REQUIRE(y.add(spec("n", 1)).value());
  REQUIRE(x.remove("n").value());             // (n#1, v2, removed)
  REQUIRE(y.add(spec("n", 2, 7200)).value());  // (n#2, v2, alive)
  const auto y_entries = y.entries();
  merge_ok(y, x.entries());
  merge_ok(x, y_entries);
  CHECK(*x.find("n") == live(spec("n", 2, 7200), 2));
  CHECK(*y.find("n") == live(spec("n", 2, 7200), 2));
  // Same spec too: a live entry beats its own tombstone at one version.
  Membership z(spec("z"));
  merge_ok(z, {tombstone(spec("m"), 4)});
  const auto changes = merge_ok(z, {live(spec("m"), 4)});
  REQUIRE(changes.size() == 1);
  CHECK(changes[0] == Change{ChangeKind::added, spec("m"), std::nullopt});
}

TEST_CASE("a restarted node's new spec replaces its stale one and is reported as updated") {
  // Proves stale spec replacement with the previous spec, whichever instance id is larger.
  for (const std::uint64_t new_instance : {std::uint64_t{9}, std::uint64_t{1}}) {
    CAPTURE(new_instance);
    Membership a(spec("a"));
    Membership b_old(spec("b", 5, 7001));
    merge_ok(a, b_old.entries());
    merge_ok(b_old, a.entries());
    // b restarts without a data directory: new instance id, new port, version 1.
    Membership b(spec("b", new_instance, 7002));
    auto to_a = merge_ok(a, b.entries());
    if (new_instance < 5) {
      // a keeps the old spec (greater at v1); b learns of it and refutes at v2.
      CHECK(to_a.empty());
      merge_ok(b, a.entries());
      CHECK(b.refutations() == 1);
      to_a = merge_ok(a, b.entries());
    }
    REQUIRE(to_a.size() == 1);
    CHECK(to_a[0] == Change{ChangeKind::updated, spec("b", new_instance, 7002), spec("b", 5, 7001)});
    CHECK(a.find("b")->spec == spec("b", new_instance, 7002));
  }
}

TEST_CASE("merge reports added, updated and removed members sorted by name, and nothing for stale news") {
  // Proves the change list describes exactly the live-view difference.
  Membership m(spec("a"));
  merge_ok(m, {live(spec("c"), 1), live(spec("d"), 1)});
  const auto changes = merge_ok(m, {tombstone(spec("d"), 2), live(spec("b"), 3), live(spec("c", 2), 2),
                                    live(spec("c", 2), 2), live(spec("e"), 1), tombstone(spec("e"), 2)});
  REQUIRE(changes.size() == 3);
  CHECK(changes[0] == Change{ChangeKind::added, spec("b"), std::nullopt});
  CHECK(changes[1] == Change{ChangeKind::updated, spec("c", 2), spec("c")});
  CHECK(changes[2] == Change{ChangeKind::removed, spec("d"), std::nullopt});
  CHECK(m.find("e")->removed);  // Added and removed in one batch: no live change.
  CHECK(merge_ok(m, {live(spec("b"), 2), live(spec("d"), 1), live(spec("c"), 1)}).empty());
  CHECK(names(m) == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("a bad batch is rejected whole and names the offending entry") {
  // Proves merge validates every entry before changing anything.
  Membership m(spec("a"));
  NodeSpec bad = spec("c");
  bad.listen_addrs.clear();
  const auto before = m.entries();
  check_error(m.merge(std::vector<Entry>{live(spec("b"), 1), live(bad, 1)}),
              make_error_code(plexus::errc::invalid_field), "entries[1].spec.listen_addrs: ");
  check_error(m.merge(std::vector<Entry>{live(spec("b"), 0)}), make_error_code(plexus::errc::invalid_field),
              "entries[0].version: ");
  check_error(m.merge(std::vector<Entry>{live(spec("b"), version_max + 1)}),
              make_error_code(plexus::errc::invalid_field), "entries[0].version: ");
  CHECK(m.entries() == before);
}

TEST_CASE("a node that finds a foreign spec for its name re-asserts itself at that version + 1") {
  // Proves self-refutation against a previous incarnation, live or removed.
  Membership a(spec("a", 7));
  SUBCASE("live previous incarnation") {
    CHECK(merge_ok(a, {live(spec("a", 3, 7500), 5)}).empty());
    CHECK(*a.find("a") == live(spec("a", 7), 6));
    // The refutation wins on a replica still holding the foreign entry.
    Membership b(spec("b"));
    merge_ok(b, {live(spec("a", 3, 7500), 5)});
    merge_ok(b, a.entries());
    CHECK(b.find("a")->spec == spec("a", 7));
  }
  SUBCASE("tombstone of a previous incarnation") {
    CHECK(merge_ok(a, {tombstone(spec("a", 3), 4)}).empty());
    CHECK(*a.find("a") == live(spec("a", 7), 5));
  }
  SUBCASE("same instance, other addresses written by someone else") {
    merge_ok(a, {live(spec("a", 7, 7999), 2)});
    CHECK(*a.find("a") == live(spec("a", 7), 3));
  }
  CHECK(a.refutations() == 1);
  CHECK_FALSE(a.removed_self());
}

TEST_CASE("a tombstone with the node's own instance id means it was removed, and it stays removed") {
  // Proves removed_self: no refutation, the self removal is reported, and it is latched.
  Membership a(spec("a", 7));
  Membership b(spec("b"));
  merge_ok(b, a.entries());
  REQUIRE(b.remove("a").value());
  const auto changes = merge_ok(a, b.entries());
  CHECK(a.removed_self());
  CHECK(a.refutations() == 0);
  CHECK(*a.find("a") == tombstone(spec("a", 7), 2));
  REQUIRE(changes.size() == 2);
  CHECK(changes[0] == Change{ChangeKind::removed, spec("a", 7), std::nullopt});
  CHECK(changes[1].kind == ChangeKind::added);
  // Later news of another life under this name does not wake this one up.
  merge_ok(a, {live(spec("a", 8), 3)});
  CHECK(a.removed_self());
  CHECK(a.refutations() == 0);
  // Leaving by removing oneself sets it too.
  Membership c(spec("c"));
  CHECK(c.remove("c").value());
  CHECK(c.removed_self());
  CHECK(c.members().empty());
  CHECK_FALSE(c.add(spec("c")).value());  // A removed life cannot re-add itself.
}

TEST_CASE("entries at version_max cannot be bumped, and an unbeatable foreign self entry removes us") {
  // Proves the version limit is enforced instead of overflowing.
  Membership m(spec("a"));
  merge_ok(m, {live(spec("b"), version_max)});
  check_error(m.remove("b"), make_error_code(errc::version_exhausted), "name: \"b\"");
  check_error(m.add(spec("b", 2)), make_error_code(errc::version_exhausted), "name: \"b\"");
  merge_ok(m, {live(spec("a", 2), version_max)});
  CHECK(m.removed_self());
  CHECK(m.refutations() == 0);
}

TEST_CASE("max_members bounds admissions through add, and reserve holds a slot for one name") {
  // Proves capacity: free slots, reservations used up by their name, and errors when full.
  Membership m(spec("a"), Options{3});
  CHECK(m.add(spec("b")).value());
  REQUIRE(m.reserve("c").ok());
  REQUIRE(m.reserve("c").ok());  // Idempotent: still one hold.
  REQUIRE(m.reserve("b").ok());  // Already live: holds its slot already.
  CHECK(m.reservations() == std::vector<std::string>{"c"});
  check_error(m.reserve("d"), make_error_code(errc::no_available_slots), "tag \"d\": 2 members and 1 reservations");
  check_error(m.add(spec("d")), make_error_code(errc::members_full), "name: \"d\": 2 members and 1 reservations");
  CHECK(m.add(spec("b", 2)).value());  // Replacing a live member's spec needs no slot.
  CHECK(m.add(spec("c")).value());     // Uses its reservation.
  CHECK(m.reservations().empty());
  check_error(m.add(spec("d")), make_error_code(errc::members_full), "name: \"d\"");
  REQUIRE(m.remove("b").value());
  CHECK(m.add(spec("d")).value());
  check_error(m.add(spec("b")), make_error_code(errc::members_full), "name: \"b\"");  // Re-adding counts.
  check_error(m.reserve("bad name"), make_error_code(plexus::errc::invalid_field), "tag: ");
  CHECK(names(m) == std::vector<std::string>{"a", "c", "d"});
}

TEST_CASE("reservations are local: release frees them, merged admissions use them up, merges ignore the limit") {
  // Proves reservations never block convergence and never double count a member.
  Membership m(spec("a"), Options{2});
  REQUIRE(m.reserve("b").ok());
  CHECK(m.release("b"));
  CHECK_FALSE(m.release("b"));
  REQUIRE(m.reserve("b").ok());
  merge_ok(m, {live(spec("b"), 1)});
  CHECK(m.reservations().empty());
  merge_ok(m, {live(spec("c"), 1), live(spec("d"), 1)});
  CHECK(m.members().size() == 4);
  check_error(m.reserve("e"), make_error_code(errc::no_available_slots), "tag \"e\"");
  // Unlimited: reserve always succeeds and add never needs it.
  Membership u(spec("a"));
  REQUIRE(u.reserve("x").ok());
  CHECK(u.add(spec("y")).value());
}

TEST_CASE("membership error codes have stable names and messages in their own category") {
  // Proves the category wiring the report asks to keep stable.
  const std::error_code code = errc::members_full;
  CHECK(std::string(code.category().name()) == "plexus.membership");
  CHECK(errc_name(errc::no_available_slots) == "no_available_slots");
  CHECK(code.message().starts_with("membership full"));
  CHECK(code != make_error_code(plexus::errc::invalid_json));  // Same value, other category.
}

}  // namespace
}  // namespace plexus::membership
