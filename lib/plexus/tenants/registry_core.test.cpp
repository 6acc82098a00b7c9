// Tests of RegistryCore driven without I/O by a FIFO network and a fake
// clock (as replica's example registry tests): writes reach up peers, a late
// peer catches up by digest, concurrent installs on the two sides of a split
// converge to one record, an uninstall + forget is collected once every
// member holds the tombstone, changes are reported for persisting, hostile
// bytes are refused without changing anything; and a seeded property: random
// writes under random splits converge after the heal, no node going back.
#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <random>
#include <tuple>

#include "plexus/core/test_seed.hpp"

#include "plexus/tenants/registry_core.hpp"

namespace plexus::tenants {
namespace {

using replica::TimePoint;

struct Net {
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::map<std::string, RegistryCore> nodes;
  std::deque<std::tuple<std::string, std::string, std::vector<std::uint8_t>>> wire;
  std::set<std::pair<std::string, std::string>> cut;
  std::map<std::string, std::vector<RegistryEntry>> persisted;
  std::map<std::string, std::vector<std::string>> dropped;
  std::map<std::string, std::vector<Error>> errors;

  void add(const std::string& name, std::uint64_t instance) { nodes.try_emplace(name, name, instance, now); }
  void collect(const std::string& name) {
    auto out = nodes.at(name).take();
    for (auto& e : out.persist) persisted[name].push_back(std::move(e));  // persisted before sending
    for (auto& id : out.dropped) dropped[name].push_back(std::move(id));
    for (auto& e : out.errors) errors[name].push_back(std::move(e));
    for (auto& send : out.sends) {
      if (!cut.contains({name, send.to})) wire.emplace_back(name, send.to, std::move(send.bytes));
    }
  }
  void deliver() {
    for (auto& [name, node] : nodes) collect(name);
    for (int i = 0; i < 10'000 && !wire.empty(); ++i) {
      auto [from, to, bytes] = std::move(wire.front());
      wire.pop_front();
      nodes.at(to).on_message(from, bytes, now);
      collect(to);
    }
    REQUIRE(wire.empty());
  }
  void connect_all() {
    for (auto& [a, core_a] : nodes) {
      std::set<std::string> members;
      for (auto& [b, core_b] : nodes) {
        members.insert(b);
        if (a != b) core_a.on_peer_up(b, now);
      }
      core_a.set_members(members);
    }
    deliver();
  }
  void tick(std::chrono::milliseconds step) {
    now += step;
    for (auto& [name, node] : nodes) node.on_tick(now);
    deliver();
  }
};

TEST_CASE("registry core: an install reaches every up peer and is persisted where it lands") {
  // Proves local writes are sent at once, merged, reported as changes and listed for persisting.
  Net net;
  net.add("a", 1);
  net.add("b", 2);
  net.add("c", 3);
  net.connect_all();
  REQUIRE(net.nodes.at("a").install("t1", "kv", {}, net.now).ok());
  net.deliver();
  for (const std::string name : {"a", "b", "c"}) {
    INFO(name);
    REQUIRE(net.nodes.at(name).registry().find("t1"));
    CHECK(net.persisted[name].size() == 1);
  }
  CHECK(is(net.nodes.at("b").install("t1", "kv", {}, net.now).error(), errc::already_exists));
}

TEST_CASE("registry core: a split with concurrent installs converges to one record after the heal") {
  // Proves anti-entropy by digest heals a partition deterministically, and late peers catch up.
  Net net;
  net.add("a", 1);
  net.add("b", 2);
  net.connect_all();
  net.cut = {{"a", "b"}, {"b", "a"}};
  Config one, two;
  one.config["side"] = "a";
  two.config["side"] = "b";
  REQUIRE(net.nodes.at("a").install("t1", "kv", one, net.now).ok());
  REQUIRE(net.nodes.at("b").install("t1", "counter", two, net.now).ok());
  net.deliver();
  CHECK(net.nodes.at("a").registry().find("t1")->record.module == "kv");
  CHECK(net.nodes.at("b").registry().find("t1")->record.module == "counter");
  net.cut.clear();
  net.tick(std::chrono::seconds(1));
  const auto a = net.nodes.at("a").registry().find("t1");
  const auto b = net.nodes.at("b").registry().find("t1");
  REQUIRE((a && b));
  CHECK(a->record == b->record);
  CHECK(a->generation == b->generation);
  net.add("c", 3);
  net.connect_all();
  CHECK(net.nodes.at("c").registry().find("t1")->record == a->record);
}

TEST_CASE("registry core: a forgotten tenant's tombstone is collected once every member holds it") {
  // Proves GC waits for every live member (a silent one blocks it), then drops and reports the tombstone.
  Net net;
  net.add("a", 1);
  net.add("b", 2);
  net.add("c", 3);
  net.connect_all();
  auto& a = net.nodes.at("a");
  REQUIRE(a.install("t1", "kv", {}, net.now).ok());
  REQUIRE(a.uninstall("t1", net.now).ok());
  REQUIRE(a.forget("t1", net.now).ok());
  net.cut = {{"c", "a"}, {"a", "c"}, {"b", "c"}, {"c", "b"}};  // c is silent: it holds the tombstone, nobody knows
  net.tick(std::chrono::seconds(1));
  net.tick(std::chrono::seconds(1));
  CHECK(a.registry().map().find("t1") != nullptr);
  CHECK(net.dropped["a"].empty());
  net.cut.clear();
  // Round 1: c pulls the tombstone; round 2: its digest shows it; round 3: every node collects.
  for (int round = 0; round < 3; ++round) net.tick(std::chrono::seconds(1));
  for (const std::string name : {"a", "b", "c"}) {
    INFO(name);
    CHECK(net.nodes.at(name).registry().map().find("t1") == nullptr);
    CHECK(net.dropped[name] == std::vector<std::string>{"t1"});
  }
  // Installed again, the id gets a generation above the collected tombstone.
  auto again = a.install("t1", "kv", {}, net.now);
  REQUIRE(again.ok());
  CHECK(again->generation == 4);
}

TEST_CASE("registry core: hostile bytes are refused, named, and change nothing") {
  // Proves untrusted messages stop at the core's boundary with a precise error.
  Net net;
  net.add("a", 1);
  auto& a = net.nodes.at("a");
  const std::vector<std::string> hostile{
      "not json", R"({"kind":1})", R"({"kind":"digest","items":[["t",1,false]],"instance":2})",
      R"({"kind":"entries","items":[["t",1,false,"{}"]]})", R"({"kind":"entries","items":[["t",0,false,"{\"module\":\"m\",\"config\":{},\"capabilities\":{},\"desired\":\"running\"}"]]})",
      R"({"kind":"gossip"})", R"({"kind":"pull","ids":[1]})"};
  for (const auto& text : hostile) a.on_message("evil", std::vector<std::uint8_t>(text.begin(), text.end()), net.now);
  auto out = a.take();
  CHECK(out.errors.size() == hostile.size());
  CHECK(out.errors[5].detail == "registry message from evil: unknown kind 'gossip'");
  CHECK(out.errors[3].detail.find("field 'module' missing") != std::string::npos);
  CHECK(a.registry().list().empty());
  CHECK(out.sends.empty());
}

TEST_CASE("registry core property: random writes under random splits converge after the heal, never going back") {
  // Proves convergence and GC safety of the replica core under seeded partitions, writes and ticks.
  const char* name = "registry core property: random writes under random splits converge after the heal, never going back";
  std::size_t collected = 0;
  for (const auto seed : test_seed::seeds(100)) {
    INFO("replay: ", test_seed::replay(seed, "lib/plexus/tenants/tenants_test", name));
    std::mt19937_64 rng(seed);
    Net net;
    const std::size_t count = 3 + rng() % 3;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < count; ++i) {
      names.push_back("n" + std::to_string(i));
      net.add(names.back(), 100 + i);
    }
    net.connect_all();
    std::map<std::string, std::map<std::string, std::uint64_t>> high_water;  // node -> id -> greatest version held
    auto check_monotone = [&] {
      for (auto& [node, core] : net.nodes) {
        for (const auto& [id, entry] : core.registry().map()) {
          auto& seen = high_water[node][id];
          CHECK_MESSAGE(entry.version >= seen, node, " went back on ", id);
          seen = std::max(seen, entry.version);
        }
      }
    };
    for (int step = 0; step < 80; ++step) {
      auto& core = net.nodes.at(names[rng() % count]);
      const std::string id = "t" + std::to_string(rng() % 4);
      switch (rng() % 7) {
        case 0: (void)core.install(id, "kv", {}, net.now); break;
        case 1: (void)core.update(id, {}, net.now); break;
        case 2: (void)core.uninstall(id, net.now); break;
        case 3: (void)core.forget(id, net.now); break;
        case 4: {  // a new random split (or none)
          net.cut.clear();
          for (const auto& a : names) {
            for (const auto& b : names) {
              if (a != b && rng() % 3 == 0) net.cut.insert({a, b});
            }
          }
          break;
        }
        default: net.tick(std::chrono::milliseconds(500 + rng() % 1'000));
      }
      net.deliver();
      check_monotone();
    }
    net.cut.clear();
    for (int round = 0; round < 5; ++round) {
      net.tick(std::chrono::seconds(1));
      check_monotone();
    }
    const auto expected = net.nodes.at(names[0]).registry().map().entries();
    for (const auto& node : names) CHECK(net.nodes.at(node).registry().map().entries() == expected);
    for (const auto& entry : expected) CHECK_MESSAGE(!entry.removed, "tombstone of ", entry.key, " never collected");
    for (const auto& node : names) collected += net.dropped[node].size();
    for (const auto& [node, errors] : net.errors) CHECK_MESSAGE(errors.empty(), node, ": ", errors.front().message());
  }
  if (!test_seed::from_env()) CHECK(collected > 50);
}

}  // namespace
}  // namespace plexus::tenants
