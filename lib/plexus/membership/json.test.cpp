// Tests for the JSON forms: persistence (to_json/from_json, with a restart
// that refutes its previous life) and local_state/decode_local_state, plus
// every rejection naming its field.
#include <doctest/doctest.h>

#include <functional>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/membership/membership.hpp"
#include "plexus/membership/test_support.hpp"

namespace plexus::membership {
namespace {

using nlohmann::json;
using test::check_error;
using test::live;
using test::merge_ok;
using test::spec;
using test::tombstone;

/// a (instance 7) knowing live b and c, tombstoned d, with a reservation for e.
Membership sample() {
  Membership m(spec("a", 7), Options{5});
  merge_ok(m, {live(spec("b"), 3), live(spec("c", 2, 7200), 1), tombstone(spec("d"), 4)});
  REQUIRE(m.reserve("e").ok());
  return m;
}

const std::error_code invalid_field = make_error_code(plexus::errc::invalid_field);

TEST_CASE("a membership survives to_json and from_json, reservations included") {
  // Proves the persistence round trip restores entries, tombstones, reservations and version_floor.
  const Membership m = sample();
  const json saved = m.to_json();
  CHECK(saved.at("format_version") == 1);
  CHECK(saved.at("entries").size() == 3);
  CHECK(saved.at("tombstones").size() == 1);
  auto loaded = Membership::from_json(json::parse(saved.dump()), spec("a", 7), Options{5});
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().message());
  CHECK(loaded->entries() == m.entries());
  CHECK(loaded->reservations() == std::vector<std::string>{"e"});
  CHECK(loaded->refutations() == 0);
  CHECK(loaded->to_json() == saved);
}

TEST_CASE("a node restarting from its data directory refutes its previous life at once") {
  // Proves from_json with a new instance id re-asserts the local spec above the stored one.
  Membership m = sample();
  REQUIRE(m.remove("a").value());  // Even a previous life that left.
  auto restarted = Membership::from_json(m.to_json(), spec("a", 8, 7300));
  REQUIRE(restarted.ok());
  CHECK(*restarted->find("a") == live(spec("a", 8, 7300), 3));
  CHECK(restarted->refutations() == 1);
  CHECK_FALSE(restarted->removed_self());
  // The same life reloading its own removal knows it was removed.
  auto same = Membership::from_json(m.to_json(), spec("a", 7));
  REQUIRE(same.ok());
  CHECK(same->removed_self());
}

TEST_CASE("a collected version floor is persisted") {
  // Proves a reloaded node still re-adds collected names above their old tombstones.
  Membership a(spec("a"));
  merge_ok(a, {tombstone(spec("d"), 6)});
  CHECK(a.collect_garbage() == 1);  // Alone: no other live member to wait for.
  auto loaded = Membership::from_json(a.to_json(), spec("a"));
  REQUIRE(loaded.ok());
  CHECK(loaded->version_floor() == 6);
  REQUIRE(loaded->add(spec("d")).value());
  CHECK(loaded->find("d")->version == 7);
}

TEST_CASE("from_json rejects bad input with the path of the offending field") {
  // Proves each persisted field is checked, and nothing half-loads.
  const json good = sample().to_json();
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& j) { j = json::array(); }, "(root): must be a JSON object"},
      {[](json& j) { j["extra"] = 1; }, "extra: unknown field"},
      {[](json& j) { j.erase("tombstones"); }, "tombstones: missing"},
      {[](json& j) { j["format_version"] = 2; }, "format_version: must be 1"},
      {[](json& j) { j["local"] = "b"; }, "local: is the state of \"b\", not of \"a\""},
      {[](json& j) { j["local"] = 5; }, "local: must be a string"},
      {[](json& j) { j["version_floor"] = -1; }, "version_floor: must be an integer"},
      {[](json& j) { j["entries"] = json::object(); }, "entries: must be an array"},
      {[](json& j) { j["entries"][1]["version"] = 0; }, "entries[1].version: must be an integer 1.."},
      {[](json& j) { j["entries"][1]["version"] = version_max + 1; }, "entries[1].version: "},
      {[](json& j) { j["entries"][0].erase("spec"); }, "entries[0].spec: missing"},
      {[](json& j) { j["entries"][0]["removed"] = true; }, "entries[0].removed: unknown field"},
      {[](json& j) { j["entries"][2]["spec"]["listen_addrs"][0]["port"] = 70000; },
       "entries[2].spec.listen_addrs[0].port: must be an integer 0..65535"},
      {[](json& j) { j["entries"][2]["spec"] = "x"; }, "entries[2].spec: must be a JSON object"},
      {[](json& j) { j["tombstones"][0]["spec"]["name"] = "b"; }, "tombstones[0].spec.name: name appears twice"},
      {[](json& j) { j["reservations"] = {"e", "bad name"}; }, "reservations[1]: has ' '"},
      {[](json& j) { j["reservations"] = {"e", "e"}; }, "reservations[1]: duplicate name"},
  };
  for (const auto& [mutate, expected] : cases) {
    CAPTURE(expected);
    json bad = good;
    mutate(bad);
    check_error(Membership::from_json(bad, spec("a", 7)), invalid_field, expected);
  }
  json huge = good;
  huge["entries"] = json::array();
  for (std::size_t i = 0; i <= entries_max; ++i) huge["entries"].push_back(good["entries"][0]);
  check_error(Membership::from_json(huge, spec("a", 7)), make_error_code(errc::too_many_entries), "entries: ");
}

TEST_CASE("local_state describes everything and decode_local_state reads it back") {
  // Proves the local_state/decode round trip, with GC evidence and counters.
  Membership a(spec("a", 7), Options{4});
  Membership b(spec("b"));
  merge_ok(a, b.entries());
  merge_ok(a, {tombstone(spec("d"), 2), live(spec("a", 3), 2)});  // One refutation.
  merge_ok(b, a.entries());
  CHECK(a.observe("b", b.digest()));
  REQUIRE(a.reserve("z").ok());
  const LocalState expected = a.snapshot();
  CHECK(expected.local == "a");
  CHECK(expected.local_instance_id == 7);
  CHECK(expected.max_members == 4);
  CHECK(expected.refutations == 1);
  CHECK(expected.observed_by.at("d") == std::vector<std::string>{"b"});
  CHECK(expected.reservations == std::vector<std::string>{"z"});
  const json encoded = a.local_state();
  CHECK(encoded.at("tombstones")[0].at("observed_by") == json::array({"b"}));
  const auto decoded = decode_local_state(json::parse(encoded.dump()));
  REQUIRE_MESSAGE(decoded.ok(), decoded.error().message());
  CHECK(*decoded == expected);
  CHECK(to_json(*decoded) == encoded);
}

TEST_CASE("decode_local_state rejects bad input with the path of the offending field") {
  // Proves the description format is parsed as strictly as the persisted one.
  Membership a(spec("a"));
  merge_ok(a, {tombstone(spec("d"), 2)});
  const json good = a.local_state();
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& j) { j.erase("refutations"); }, "refutations: missing"},
      {[](json& j) { j["local_instance_id"] = 7; }, "local_instance_id: must be 16 hex digits"},
      {[](json& j) { j["removed_self"] = "no"; }, "removed_self: must be true or false"},
      {[](json& j) { j["max_members"] = 1.5; }, "max_members: must be an integer"},
      {[](json& j) { j["tombstones"][0].erase("observed_by"); }, "tombstones[0].observed_by: missing"},
      {[](json& j) { j["tombstones"][0]["observed_by"] = {"x", "x"}; }, "tombstones[0].observed_by[1]: duplicate"},
      {[](json& j) { j["entries"][0]["observed_by"] = json::array(); }, "entries[0].observed_by: unknown field"},
  };
  for (const auto& [mutate, expected] : cases) {
    CAPTURE(expected);
    json bad = good;
    mutate(bad);
    check_error(decode_local_state(bad), invalid_field, expected);
  }
}

}  // namespace
}  // namespace plexus::membership
