// Tests for anti-entropy (digest, diff, entries_for) and tombstone garbage
// collection (observe, collect_garbage, version_floor), including the
// documented limit of GC.
#include <doctest/doctest.h>

#include "plexus/membership/membership.hpp"
#include "plexus/membership/test_support.hpp"

namespace plexus::membership {
namespace {

using test::check_error;
using test::exchange;
using test::live;
using test::merge_ok;
using test::names;
using test::spec;
using test::tombstone;

/// a, b and c, live and known to each other, all holding the tombstone of d.
struct Cluster {
  Membership a{spec("a")};
  Membership b{spec("b")};
  Membership c{spec("c")};
  Cluster() {
    REQUIRE(a.add(spec("d")).value());
    REQUIRE(a.remove("d").value());
    merge_ok(a, b.entries());
    merge_ok(a, c.entries());
    merge_ok(b, a.entries());
    merge_ok(c, a.entries());
  }
  /// Every replica observes every other one.
  void observe_all() {
    for (Membership* x : {&a, &b, &c}) {
      for (const Membership* y : {&a, &b, &c}) {
        if (x != y) CHECK(x->observe(y->local().name, y->digest()));
      }
    }
  }
};

TEST_CASE("spec_hash is stable, covers every field, and digest_of summarizes an entry") {
  // Proves the hash is pinned (same on every build) and tells specs apart.
  const NodeSpec base = spec("n1", 0x9f2c4e0a11d3b577ULL, 7101);
  CHECK(spec_hash(base) == spec_hash(spec("n1", 0x9f2c4e0a11d3b577ULL, 7101)));
  CHECK(spec_hash(base) == 0x2a7f6bc15da74708ULL);
  NodeSpec other = base;
  other.channels["default"].monotonic = true;
  CHECK(spec_hash(other) != spec_hash(base));
  CHECK(spec_hash(spec("n1", 0x9f2c4e0a11d3b577ULL, 7102)) != spec_hash(base));
  CHECK(spec_hash(spec("n2", 0x9f2c4e0a11d3b577ULL, 7101)) != spec_hash(base));
  CHECK(digest_of(tombstone(base, 4)) == DigestEntry{"n1", 4, true, 0x9f2c4e0a11d3b577ULL, spec_hash(base)});
}

TEST_CASE("one digest exchange each way converges two replicas") {
  // Proves diff's push and pull are exactly what each side lacks or holds older.
  Membership a(spec("a"));
  Membership b(spec("b"));
  merge_ok(a, {live(spec("c"), 1), tombstone(spec("d"), 2), live(spec("e"), 1), live(spec("x"), 5)});
  merge_ok(b, {tombstone(spec("c"), 2), live(spec("d"), 1), live(spec("f"), 1), tombstone(spec("g"), 3),
               live(spec("x"), 5)});
  const auto diff = b.diff(a.digest());
  REQUIRE(diff.ok());
  std::vector<std::string> pushed;
  for (const Entry& entry : diff->push) pushed.push_back(entry.spec.name);
  CHECK(pushed == std::vector<std::string>{"b", "c", "f", "g"});
  CHECK(diff->pull == std::vector<std::string>{"a", "d", "e"});
  exchange(a, b);
  CHECK(a.entries() == b.entries());
  CHECK(names(a) == std::vector<std::string>{"a", "b", "e", "f", "x"});
  const auto after = a.diff(b.digest());
  REQUIRE(after.ok());
  CHECK(after->push.empty());
  CHECK(after->pull.empty());
}

TEST_CASE("entries equal in version, liveness and instance but not in spec are exchanged both ways") {
  // Proves digests cannot hide a spec difference: the total order settles it on both sides.
  Membership a(spec("a"));
  Membership b(spec("b"));
  merge_ok(a, {live(spec("n", 5, 7000), 2)});
  merge_ok(b, {live(spec("n", 5, 7001), 2)});
  const auto diff = b.diff(a.digest());
  REQUIRE(diff.ok());
  CHECK(diff->push.size() == 2);  // b and n
  CHECK(diff->pull == std::vector<std::string>{"a", "n"});
  exchange(a, b);
  CHECK(a.find("n")->spec == spec("n", 5, 7001));
  CHECK(a.entries() == b.entries());
}

TEST_CASE("entries_for returns known names once, sorted, and digests over the limit are refused") {
  // Proves entries_for's filtering and the entries_max bound on incoming digests.
  Membership a(spec("a"));
  merge_ok(a, {live(spec("b"), 1)});
  const auto entries = a.entries_for(std::vector<std::string>{"zz", "b", "a", "b"});
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].spec.name == "a");
  CHECK(entries[1].spec.name == "b");
  const std::vector<DigestEntry> huge(entries_max + 1, digest_of(live(spec("b"), 1)));
  check_error(a.diff(huge), make_error_code(errc::too_many_entries), "digest: ");
  CHECK_FALSE(a.observe("b", huge));
}

TEST_CASE("a tombstone is collected only once every other live member was observed holding it") {
  // Proves GC waits for all live members, a silent member blocks it, and it raises version_floor.
  Cluster cluster;
  Membership& a = cluster.a;
  CHECK(a.collect_garbage() == 0);
  CHECK(a.observe("b", cluster.b.digest()));
  CHECK(a.collect_garbage() == 0);  // c never reported: it could still hold d alive.
  CHECK(a.find("d") != nullptr);
  CHECK(a.snapshot().observed_by.at("d") == std::vector<std::string>{"b"});
  CHECK(a.observe("c", cluster.c.digest()));
  CHECK(a.snapshot().observed_by.at("d") == std::vector<std::string>{"b", "c"});
  CHECK(a.collect_garbage() == 1);
  CHECK(a.find("d") == nullptr);
  CHECK(a.version_floor() == 2);
  CHECK(a.snapshot().observed_by.empty());
}

TEST_CASE("a member whose report lacks the tombstone blocks GC until anti-entropy gives it the tombstone") {
  // Proves that only holding the tombstone (or something greater) counts.
  Membership a(spec("a"));
  Membership b(spec("b"));
  merge_ok(a, b.entries());
  merge_ok(a, {tombstone(spec("d"), 2)});
  merge_ok(b, {live(spec("d"), 1)});  // b still believes d is alive.
  CHECK(a.observe("b", b.digest()));
  CHECK(a.collect_garbage() == 0);
  exchange(a, b);
  CHECK(a.observe("b", b.digest()));
  CHECK(a.collect_garbage() == 1);
  // A peer holding something greater than the tombstone counts as well.
  merge_ok(b, {live(spec("e", 2), 4)});
  merge_ok(a, {tombstone(spec("e"), 3)});
  CHECK(a.observe("b", b.digest()));
  CHECK(a.collect_garbage() == 1);
  merge_ok(a, b.entries());
  CHECK(a.find("e")->spec == spec("e", 2));
}

TEST_CASE("observations count only for the live life that made them") {
  // Proves observe refuses non-members and other lives, and a restart or a newer tombstone voids old reports.
  Cluster cluster;
  Membership& a = cluster.a;
  CHECK_FALSE(a.observe("a", a.digest()));
  CHECK_FALSE(a.observe("zz", cluster.b.digest()));
  CHECK_FALSE(a.observe("d", cluster.b.digest()));
  const Membership impostor(spec("b", 42));
  CHECK_FALSE(a.observe("b", impostor.digest()));
  cluster.observe_all();
  SUBCASE("b restarts with a new instance id") {
    Membership b2(spec("b", 2, 7002));
    merge_ok(b2, cluster.b.entries());
    merge_ok(a, b2.entries());  // a now knows b's new life, which has not reported.
    CHECK(a.collect_garbage() == 0);
    CHECK(a.observe("b", b2.digest()));
    CHECK(a.collect_garbage() == 1);
  }
  SUBCASE("d is re-added and removed again after the reports") {
    REQUIRE(a.add(spec("d")).value());
    REQUIRE(a.remove("d").value());
    CHECK(a.collect_garbage() == 0);
    exchange(cluster.b, a);
    exchange(cluster.c, a);
    cluster.observe_all();
    CHECK(a.collect_garbage() == 1);
  }
}

TEST_CASE("once every live member holds the tombstone, merges after GC never bring the member back") {
  // Proves no resurrection: collected everywhere or partly, any merge order keeps d out of the live view.
  Cluster cluster;
  cluster.observe_all();
  CHECK(cluster.a.collect_garbage() == 1);
  // b has not collected yet: its tombstone flows back to a, but d stays removed.
  exchange(cluster.a, cluster.b);
  CHECK(cluster.a.find("d")->removed);
  CHECK(cluster.b.collect_garbage() == 1);
  CHECK(cluster.c.collect_garbage() == 1);
  CHECK(cluster.a.collect_garbage() == 1);
  for (int round = 0; round < 2; ++round) {
    exchange(cluster.c, cluster.a);
    exchange(cluster.b, cluster.c);
    exchange(cluster.a, cluster.b);
  }
  for (const Membership* m : {&cluster.a, &cluster.b, &cluster.c}) {
    CHECK(m->find("d") == nullptr);
    CHECK(names(*m) == std::vector<std::string>{"a", "b", "c"});
  }
}

TEST_CASE("a name re-added after its tombstone was collected beats copies of that tombstone") {
  // Proves version_floor: the re-add is written above every tombstone this replica collected.
  Cluster cluster;
  cluster.observe_all();
  CHECK(cluster.a.collect_garbage() == 1);
  REQUIRE(cluster.a.add(spec("d", 2)).value());
  CHECK(*cluster.a.find("d") == live(spec("d", 2), 3));  // Not version 1, which the tombstone (2) would beat.
  exchange(cluster.a, cluster.b);
  CHECK(names(cluster.b) == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(names(cluster.a) == std::vector<std::string>{"a", "b", "c", "d"});
}

TEST_CASE("the documented limit: state from a node outside the live members can resurrect after GC") {
  // Proves why the shell may merge only from live members: a removed node's stale view brings it back.
  Membership d(spec("d"));
  merge_ok(d, {live(spec("a"), 1)});  // d's own old view, from before its removal.
  Cluster cluster;
  cluster.observe_all();
  CHECK(cluster.a.collect_garbage() == 1);
  merge_ok(cluster.a, d.entries());  // What the shell must not do.
  CHECK(names(cluster.a) == std::vector<std::string>{"a", "b", "c", "d"});
}

}  // namespace
}  // namespace plexus::membership
