// The net fault mode's pure parts: scenario files choose it per fault (and
// are refused, naming the field, for addresses outside 127.0.0.0/8), the plan
// carries the mode into the steps and the timeline labels, and the nft rule
// text matches only node address pairs inside 127/8.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tools/harness/netfilter.hpp"
#include "tools/harness/scenario.hpp"
#include "tools/harness/schedule.hpp"

using namespace plexus::harness;
using nlohmann::json;

namespace {

json net_doc() {
  return json::parse(R"({"name": "t", "nodes": 4, "duration_s": 6,
    "nemesis": {"start_s": 1, "interval_s": 2, "fault_duration_s": 1.5,
                "faults": [{"type": "partition", "shape": "halves", "mode": "net", "flavour": "reject"},
                           {"type": "flap", "shape": "one", "mode": "net"}, {"type": "swizzle"},
                           {"type": "kill"}]}})");
}

std::string error_of(const json& doc) {
  auto s = parse_scenario(doc);
  REQUIRE_FALSE(s.ok());
  return s.error().detail;
}

}  // namespace

TEST_CASE("mode and flavour per fault: api by default, drop by default for net, both round-trip") {
  auto s = parse_scenario(net_doc());
  REQUIRE(s.ok());
  CHECK(s->nemesis.faults[0].mode == FaultMode::net);
  CHECK(s->nemesis.faults[0].flavour == NetFlavour::reject);
  CHECK(s->nemesis.faults[1].flavour == NetFlavour::drop);
  CHECK(s->nemesis.faults[2].mode == FaultMode::api);
  CHECK(first_net_fault(*s) == "nemesis.faults[0].mode");
  const json back = to_json(*s);
  CHECK(back["nemesis"]["faults"][0]["mode"] == "net");
  CHECK(back["nemesis"]["faults"][0]["flavour"] == "reject");
  CHECK(back["nemesis"]["faults"][2]["mode"] == "api");
  CHECK_FALSE(back["nemesis"]["faults"][3].contains("mode"));
  CHECK(back["first_address"] == "127.0.0.2");
  auto again = parse_scenario(back);
  REQUIRE(again.ok());
  CHECK(again->nemesis.faults[0].flavour == NetFlavour::reject);
}

TEST_CASE("bad mode input is refused naming the field") {
  auto doc = net_doc();
  doc["nemesis"]["faults"][0]["mode"] = "iptables";
  CHECK(error_of(doc) == "nemesis.faults[0].mode: must be one of api, net");
  doc = net_doc();
  doc["nemesis"]["faults"][0]["flavour"] = "blackhole";
  CHECK(error_of(doc) == "nemesis.faults[0].flavour: must be one of drop, reject");
  doc = net_doc();
  doc["nemesis"]["faults"][2]["flavour"] = "drop";  // a flavour without net mode
  CHECK(error_of(doc).starts_with("nemesis.faults[2].flavour: unknown field"));
  doc = net_doc();
  doc["nemesis"]["faults"][3]["mode"] = "net";  // kill has no mode
  CHECK(error_of(doc).starts_with("nemesis.faults[3].mode: unknown field"));
}

TEST_CASE("node addresses: inside 127.0.0.0/8 and never the harness's 127.0.0.1, else refused naming first_address") {
  auto doc = net_doc();
  doc["first_address"] = "10.0.0.2";
  CHECK(error_of(doc).starts_with("first_address: the 4 node addresses from 10.0.0.2 must lie inside 127.0.0.0/8"));
  doc["first_address"] = "127.255.255.254";  // the 4th would be 128.0.0.1
  CHECK(error_of(doc).starts_with("first_address: "));
  doc["first_address"] = "127.0.0.0";  // the range would hold 127.0.0.1
  CHECK(error_of(doc).starts_with("first_address: "));
  doc["first_address"] = "localhost";
  CHECK(error_of(doc).starts_with("first_address: must be an IPv4 address"));
  doc["first_address"] = "127.3.0.10";
  auto s = parse_scenario(doc);
  REQUIRE(s.ok());
  auto addresses = node_addresses(*s, 4);
  REQUIRE(addresses.ok());
  CHECK(*addresses == std::vector<std::string>{"127.3.0.10", "127.3.0.11", "127.3.0.12", "127.3.0.13"});
  CHECK_FALSE(node_addresses(*s, 1'000'000'000).ok());
}

TEST_CASE("the plan carries each fault's mode into its steps and timeline labels") {
  auto s = parse_scenario(net_doc());
  REQUIRE(s.ok());
  s->duration_s = 60;  // about 30 seeded picks: every fault of the list comes up
  std::size_t net_steps = 0;
  for (const auto& step : plan_nemesis(*s, 4, 7)) {
    const json j = to_json(step);
    if (step.mode == FaultMode::net) {
      ++net_steps;
      CHECK((step.action == Action::cut || step.action == Action::heal));
      CHECK(step.fault.ends_with(step.flavour == NetFlavour::drop ? " (net drop)" : " (net reject)"));
      CHECK(j["mode"] == mode_label(step.mode, step.flavour));
    } else if (step.action == Action::cut || step.action == Action::heal) {
      CHECK(j["mode"] == "api");
    } else {
      CHECK_FALSE(j.contains("mode"));
    }
  }
  CHECK(net_steps > 0);
}

TEST_CASE("nft rules: one per directed address pair, reject as a TCP reset, nothing outside 127/8") {
  const std::set<NetRule> rules{{"127.0.0.2", "127.0.0.3", NetFlavour::drop}, {"127.0.0.3", "127.0.0.4", NetFlavour::reject}};
  auto script = net_script(rules);
  REQUIRE(script.ok());
  const std::string chain = std::string("inet ") + net_table + " input";
  CHECK(script->starts_with("flush chain " + chain + "\n"));
  CHECK(script->find("add rule " + chain + " ip saddr 127.0.0.2 ip daddr 127.0.0.3 drop\n") != std::string::npos);
  CHECK(script->find("ip saddr 127.0.0.3 ip daddr 127.0.0.4 meta l4proto tcp reject with tcp reset\n") != std::string::npos);
  auto empty = net_script({});
  REQUIRE(empty.ok());
  CHECK(*empty == "flush chain " + chain + "\n");
  auto outside = net_script({{"127.0.0.2", "192.168.1.5", NetFlavour::drop}});
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().detail == "net rule address 192.168.1.5 is not inside 127.0.0.0/8");
}
