// Unit tests of replica::Map on a map of strings: writes and versions, the
// total order, merge, digests and diffs, limits, and tombstone GC with its
// version_floor.
#include <doctest/doctest.h>

#include "plexus/replica/test_support.hpp"

namespace plexus::replica {
namespace {

using test::live;
using test::merge_ok;
using test::StringEntry;
using test::StringMap;
using test::tombstone;

const auto keep_none = [](const std::string&) { return false; };

TEST_CASE("put writes above the current version and remove leaves a tombstone") {
  // Proves local writes always beat what they replace, and tombstones keep the value.
  StringMap map;
  CHECK(*map.put({"k", "a"}) == 1);
  CHECK(*map.put({"k", "b"}) == 2);
  CHECK(*map.remove(std::string("k")));
  CHECK_FALSE(*map.remove(std::string("k")));
  CHECK_FALSE(*map.remove(std::string("absent")));
  REQUIRE(map.find(std::string("k")) != nullptr);
  CHECK(*map.find(std::string("k")) == tombstone("k", "b", 3));
  CHECK(*map.put({"k", "c"}) == 4);
}

TEST_CASE("the order: version, then live over removed, then the encoded value") {
  // Proves the total order the merge keeps the maximum of.
  CHECK(StringMap::compare(live("k", "a", 2), live("k", "z", 1)) > 0);
  CHECK(StringMap::compare(live("k", "a", 2), tombstone("k", "a", 2)) > 0);
  CHECK(StringMap::compare(live("k", "b", 2), live("k", "a", 2)) > 0);
  CHECK(StringMap::compare(live("k", "a", 2), live("k", "a", 2)) == 0);
}

TEST_CASE("merge keeps the greater entry per key and reports what it replaced") {
  // Proves merge is a per-key max and calls back before each replacement.
  StringMap map;
  merge_ok(map, {live("a", "1", 2), live("b", "1", 1)});
  std::vector<std::pair<std::string, std::string>> replaced;
  auto taken = map.merge(std::vector{live("a", "0", 1), tombstone("b", "1", 2), live("c", "1", 1)},
                         [&](const StringEntry* before, const StringEntry& after) {
                           replaced.emplace_back(before ? before->value : "-", after.key);
                         });
  REQUIRE(taken.ok());
  CHECK(*taken == 2);
  CHECK(replaced == std::vector<std::pair<std::string, std::string>>{{"1", "b"}, {"-", "c"}});
  CHECK(map.find(std::string("a"))->value == "1");
  CHECK(map.find(std::string("b"))->removed);
}

TEST_CASE("a bad batch changes nothing") {
  // Proves versions and sizes are checked before anything is merged.
  StringMap map(Limits{2, 10});
  auto bad_version = map.merge(std::vector{live("a", "1", 1), live("b", "1", 11)});
  REQUIRE_FALSE(bad_version.ok());
  CHECK(bad_version.error().code == errc::invalid_version);
  CHECK(bad_version.error().detail.starts_with("entries[1].version"));
  CHECK(map.size() == 0);
  auto too_many = map.merge(std::vector{live("a", "1", 1), live("b", "1", 1), live("c", "1", 1)});
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().code == errc::too_many_entries);
  merge_ok(map, {live("a", "1", 1), live("b", "1", 1)});
  CHECK(map.put({"c", "1"}).error().code == errc::too_many_entries);
  merge_ok(map, {live("a", "1", 10)});
  CHECK(map.put({"a", "2"}).error().code == errc::version_exhausted);
  CHECK(map.remove(std::string("a")).error().code == errc::version_exhausted);
}

TEST_CASE("diff pushes what is greater here and pulls what is greater there") {
  // Proves the digest exchange moves exactly the entries that differ, both ways.
  StringMap a;
  StringMap b;
  merge_ok(a, {live("same", "x", 1), live("ours", "x", 2), live("only-a", "x", 1), live("tie", "a", 1)});
  merge_ok(b, {live("same", "x", 1), live("ours", "x", 1), live("only-b", "x", 1), live("tie", "b", 1)});
  const auto diff = a.diff(b.digest());
  REQUIRE(diff.ok());
  std::vector<std::string> pushed;
  for (const auto& entry : diff->push) pushed.push_back(entry.key);
  CHECK(pushed == std::vector<std::string>{"only-a", "ours", "tie"});
  CHECK(diff->pull == std::vector<std::string>{"only-b", "tie"});
  test::exchange(a, b);
  CHECK(a.entries() == b.entries());
  CHECK(a.find(std::string("tie"))->value == "b");
  CHECK(a.entries_for(std::vector<std::string>{"tie", "nope", "tie"}).size() == 1);
}

TEST_CASE("a tombstone is collected once every live peer holds it, and a re-add goes above it") {
  // Proves GC waits for every peer's evidence, raises version_floor, and a later put beats the old tombstone.
  StringMap a;
  StringMap b;
  StringMap c;
  REQUIRE(a.put({"k", "v"}).ok());
  REQUIRE(*a.remove(std::string("k")));
  merge_ok(b, a.entries());
  const std::vector<Life> peers{{"b", 7}, {"c", 9}};
  CHECK(a.observe("b", 7, b.digest()));
  CHECK(a.collect_garbage(peers, keep_none) == 0);  // c has not reported
  CHECK(a.observe("c", 9, c.digest()));
  CHECK(a.collect_garbage(peers, keep_none) == 0);  // c lacks the key: not evidence
  merge_ok(c, a.entries());
  CHECK(a.observe("c", 8, c.digest()));  // another life of c: does not count
  CHECK(a.collect_garbage(peers, keep_none) == 0);
  CHECK(a.observe("c", 9, c.digest()));
  CHECK(a.observers_of(*a.find(std::string("k")), peers) == std::vector<std::string>{"b", "c"});
  CHECK(a.collect_garbage(peers, [](const std::string& key) { return key == "k"; }) == 0);
  CHECK(a.collect_garbage(peers, keep_none) == 1);
  CHECK(a.find(std::string("k")) == nullptr);
  CHECK(a.version_floor() == 2);
  CHECK(*a.put({"k", "again"}) == 3);
  merge_ok(c, a.entries());
  CHECK_FALSE(c.find(std::string("k"))->removed);
}

}  // namespace
}  // namespace plexus::replica
