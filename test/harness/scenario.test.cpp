// Scenario files are checked strictly: every mistake is refused with the
// path of the offending field; and a seed fixes the whole plan.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "tools/harness/scenario.hpp"
#include "tools/harness/schedule.hpp"

using namespace plexus::harness;
using nlohmann::json;

namespace {

json minimal() {
  return json::parse(R"({"name": "t", "nodes": 4, "duration_s": 6,
    "workloads": [{"type": "acked", "rate_per_s": 10}, {"type": "causal", "label": "x"}, {"type": "churn", "rate_per_s": 0.5}],
    "nemesis": {"start_s": 1, "interval_s": 2, "fault_duration_s": 1.5,
                "faults": [{"type": "partition", "shape": "bridge"}, {"type": "kill"}, {"type": "pause"},
                           {"type": "flap", "shape": "one", "period_ms": 200}, {"type": "swizzle", "step_ms": 100}]}})");
}

std::string error_of(const json& doc) {
  auto s = parse_scenario(doc);
  REQUIRE_FALSE(s.ok());
  return s.error().detail;
}

}  // namespace

TEST_CASE("a valid scenario parses with every field and its defaults") {
  auto s = parse_scenario(minimal());
  REQUIRE(s.ok());
  CHECK(s->nodes == 4);
  CHECK(s->workloads.size() == 3);
  CHECK(s->workloads[1].label == "x");
  CHECK(s->workloads[0].timeout_ms == 3000);
  CHECK(s->nemesis.faults.size() == 5);
  CHECK(s->nemesis.faults[3].flap_period_ms == 200);
  CHECK(to_json(*s)["nemesis"]["faults"][0]["shape"] == "bridge");
}

TEST_CASE("errors name the field path") {
  auto doc = minimal();
  doc["bogus"] = 1;
  CHECK(error_of(doc).starts_with("bogus: unknown field"));

  doc = minimal();
  doc["workloads"][0]["rate_per_s"] = 0;
  CHECK(error_of(doc) == "workloads[0].rate_per_s: must be 0.01..1000.0");

  doc = minimal();
  doc["workloads"][1]["timeout_ms"] = 5;  // only acked sends have a timeout
  CHECK(error_of(doc).starts_with("workloads[1].timeout_ms: unknown field"));

  doc = minimal();
  doc["nemesis"]["faults"][0]["shape"] = "triangle";
  CHECK(error_of(doc).starts_with("nemesis.faults[0].shape: must be one of halves, random-halves"));

  doc = minimal();
  doc["nemesis"]["faults"][1].erase("type");
  CHECK(error_of(doc).starts_with("nemesis.faults[1].type: required"));

  doc = minimal();
  doc["nemesis"]["fault_duration_s"] = 3;
  CHECK(error_of(doc) == "nemesis.fault_duration_s: must be at most interval_s (faults do not overlap)");

  doc = minimal();
  doc["nodes"] = "four";
  CHECK(error_of(doc) == "nodes: must be an integer");

  doc = minimal();
  doc["node_settings"] = {{"peer_timeout_ms", -1}};
  CHECK(error_of(doc) == "node_settings.peer_timeout_ms: must be a positive integer");

  doc = minimal();
  doc["node_settings"] = {{"listen", "0.0.0.0:1"}};
  CHECK(error_of(doc).starts_with("node_settings.listen: unknown field"));

  CHECK(error_of(json::array()) == "(root): must be an object");
  CHECK(error_of(json::parse(R"({"nodes": 3})")) == "name: required");
}

TEST_CASE("the presence workload: its fields, defaults, and errors naming the field path") {
  auto doc = minimal();
  doc["workloads"] = json::array({{{"type", "presence"}, {"rate_per_s", 20}, {"topics", 2}, {"update_share", 0.5}}});
  auto s = parse_scenario(doc);
  REQUIRE(s.ok());
  CHECK(s->workloads[0].kind == WorkloadKind::presence);
  CHECK(s->workloads[0].topics == 2);
  CHECK(s->workloads[0].keys == 8);
  CHECK(s->workloads[0].lease_ms == 5000);
  CHECK(to_json(*s)["workloads"][0]["update_share"] == 0.5);
  CHECK_FALSE(to_json(*s)["workloads"][0].contains("transitive"));

  doc["workloads"][0]["update_share"] = 1.5;
  CHECK(error_of(doc) == "workloads[0].update_share: must be 0.0..1.0");
  doc["workloads"][0]["update_share"] = 0.2;
  doc["workloads"][0]["lease_ms"] = 100;
  CHECK(error_of(doc) == "workloads[0].lease_ms: must be 400..3600000");
  doc["workloads"][0]["lease_ms"] = 1000;
  doc["workloads"][0]["transitive"] = true;  // presence ops are not messages
  CHECK(error_of(doc).starts_with("workloads[0].transitive: unknown field"));
  doc["workloads"][0].erase("transitive");
  doc["workloads"].push_back({{"type", "presence"}});
  CHECK(error_of(doc) == "workloads[1].type: at most one presence workload");
}

TEST_CASE("node settings become plexusd flags over the harness defaults") {
  auto doc = minimal();
  doc["node_settings"] = {{"peer_timeout_ms", 900}, {"test_only_disable_dedupe", true}};
  auto s = parse_scenario(doc);
  REQUIRE(s.ok());
  const auto flags = node_flags(*s);
  const auto at = std::find(flags.begin(), flags.end(), "--peer-timeout-ms");
  REQUIRE(at != flags.end());
  CHECK(*(at + 1) == "900");
  CHECK(std::find(flags.begin(), flags.end(), "--test-only-disable-dedupe") != flags.end());
  CHECK(std::find(flags.begin(), flags.end(), "--heartbeat-ms") != flags.end());
}

TEST_CASE("the same seed gives the same plan; another seed another") {
  auto s = parse_scenario(minimal());
  REQUIRE(s.ok());
  auto dump = [&](std::uint64_t seed) {
    json plan = json::array();
    for (const auto& step : plan_nemesis(*s, 5, seed)) plan.push_back(to_json(step));
    for (const auto& op : plan_workload(*s, 0, 5, seed)) plan.push_back({op.at_ms, op.from, op.to});
    return plan.dump();
  };
  CHECK(dump(42) == dump(42));
  CHECK(dump(42) != dump(43));
  for (const auto& op : plan_workload(*s, 0, 5, 42)) {
    CHECK(op.from != op.to);
    CHECK(op.to < 5);
  }
}

TEST_CASE("every step is undone: kills restart, pauses resume, cuts heal, leaves rejoin") {
  auto s = parse_scenario(minimal());
  REQUIRE(s.ok());
  const auto steps = plan_nemesis(*s, 5, 7);
  REQUIRE(!steps.empty());
  std::map<std::string, int> balance;
  for (const auto& step : steps) {
    CHECK(step.at_ms <= s->duration_s * 1000);
    switch (step.action) {
      case Action::kill: ++balance["kill " + step.targets[0]]; break;
      case Action::restart: --balance["kill " + step.targets[0]]; break;
      case Action::pause: ++balance["pause " + step.targets[0]]; break;
      case Action::resume: --balance["pause " + step.targets[0]]; break;
      case Action::leave: ++balance["leave " + step.targets[0]]; break;
      case Action::rejoin: --balance["leave " + step.targets[0]]; break;
      case Action::cut: for (const auto& c : step.grudge) ++balance[c.node + c.peer + c.direction]; break;
      case Action::heal: for (const auto& c : step.grudge) --balance[c.node + c.peer + c.direction]; break;
    }
  }
  for (const auto& [what, n] : balance) CHECK_MESSAGE(n == 0, what);
}

TEST_CASE("partition shapes") {
  const auto names = node_names(5);
  std::mt19937_64 rng(1);
  auto cut = [](const Grudge& g, const std::string& a, const std::string& b) {
    return std::any_of(g.begin(), g.end(), [&](const Cut& c) { return c.node == a && c.peer == b; });
  };
  SUBCASE("halves: n1,n2 | n3,n4,n5, cut on both sides") {
    const auto g = shape_grudge(Shape::halves, names, rng);
    CHECK(g.size() == 2 * 2 * 3);
    CHECK(cut(g, "n1", "n3"));
    CHECK(cut(g, "n3", "n1"));
    CHECK_FALSE(cut(g, "n1", "n2"));
    CHECK_FALSE(cut(g, "n4", "n5"));
  }
  SUBCASE("one: a single node cut from the four others") {
    CHECK(shape_grudge(Shape::one, names, rng).size() == 2 * 4);
  }
  SUBCASE("bridge: the bridge node is cut from nobody") {
    const auto g = shape_grudge(Shape::bridge, names, rng);
    std::set<std::string> involved;
    for (const auto& c : g) involved.insert(c.node);
    CHECK(involved.size() == 4);
    CHECK(g.size() == 2 * 2 * 2);
  }
  SUBCASE("majorities ring: every node still sees a majority, and not the same one") {
    const auto g = shape_grudge(Shape::majorities_ring, names, rng);
    std::set<std::set<std::string>> views;
    for (const auto& n : names) {
      std::set<std::string> sees{n};
      for (const auto& m : names) if (m != n && !cut(g, n, m)) sees.insert(m);
      CHECK(sees.size() >= 3);
      views.insert(sees);
    }
    CHECK(views.size() == 5);
  }
  SUBCASE("asymmetric: exactly one cut, outbound only") {
    const auto g = shape_grudge(Shape::asymmetric, names, rng);
    REQUIRE(g.size() == 1);
    CHECK(g[0].direction == "outbound");
  }
  SUBCASE("minority third: one node of five (a third, rounded down)") {
    CHECK(shape_grudge(Shape::minority_third, names, rng).size() == 2 * 1 * 4);
  }
}
