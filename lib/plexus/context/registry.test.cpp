// The context registry core without I/O: three nodes on a simulated network
// (seeded delivery order, cuts) and a fake clock. Registrations are seen
// everywhere, duplicates refused, a name registered on both sides of a
// partition resolves to the same winner on every node by the documented
// rule, and the loser is told; a down node's names stop resolving.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <tuple>

#include "plexus/context/registry.hpp"
#include "plexus/core/test_seed.hpp"

namespace plexus::context {
namespace {

using replica::TimePoint;

struct Net {
  explicit Net(std::uint64_t seed) : random(seed) {}

  std::mt19937_64 random;
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::map<std::string, Registry> nodes;
  std::deque<std::tuple<std::string, std::string, std::vector<std::uint8_t>>> wire;
  std::map<std::string, std::vector<Registry::Lost>> lost;
  std::vector<Error> errors;
  std::set<std::pair<std::string, std::string>> cut;

  void add(const std::string& name) { nodes.try_emplace(name, name, now); }
  void collect(const std::string& name) {
    auto out = nodes.at(name).take();
    for (auto& send : out.sends) {
      if (!cut.contains({name, send.to})) wire.emplace_back(name, send.to, std::move(send.bytes));
    }
    for (auto& l : out.lost) lost[name].push_back(std::move(l));
    for (auto& e : out.errors) errors.push_back(std::move(e));
  }
  /// Delivers everything in flight, in a seeded random order.
  void deliver() {
    for (auto& [name, node] : nodes) collect(name);
    for (int i = 0; i < 100'000 && !wire.empty(); ++i) {
      std::uniform_int_distribution<std::size_t> pick(0, wire.size() - 1);
      std::swap(wire[pick(random)], wire.front());
      auto [from, to, bytes] = std::move(wire.front());
      wire.pop_front();
      if (!cut.contains({from, to})) nodes.at(to).on_message(from, bytes, now);
      collect(to);
    }
  }
  void all_up() {
    for (auto& [a, node] : nodes) {
      for (auto& [b, other] : nodes) {
        if (a != b) node.on_peer_up(b, now);
      }
    }
    deliver();
  }
  void tick() {
    now += std::chrono::seconds(1);
    for (auto& [name, node] : nodes) node.on_tick(now);
    deliver();
  }
};

TEST_CASE("registry: a global registration is seen on every node; a duplicate is refused; lookups of a missing name fail") {
  // Proves replication of registrations and the already_registered and context_not_found refusals.
  Net net(1);
  for (const char* n : {"a", "b", "c"}) net.add(n);
  net.all_up();
  REQUIRE(net.nodes.at("a").register_context("billing", "app", "app_api", Scope::global, 1000).ok());
  net.deliver();
  for (const char* n : {"a", "b", "c"}) {
    auto where = net.nodes.at(n).whereis("billing");
    REQUIRE(where.ok());
    CHECK(where->node == "a");
    CHECK(where->datastore == "app");
    CHECK(where->context == "app_api");
  }
  auto duplicate = net.nodes.at("b").register_context("billing", "app", "app_ui", Scope::global, 2000);
  REQUIRE_FALSE(duplicate.ok());
  CHECK(is(duplicate.error(), errc::already_registered));
  CHECK(duplicate.error().detail.find("held by a (app/app_api)") != std::string::npos);
  auto missing = net.nodes.at("c").whereis("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(is(missing.error(), errc::context_not_found));
  CHECK(is(net.nodes.at("b").unregister_context("billing", Scope::global).error(), errc::context_not_found));
  REQUIRE(net.nodes.at("a").unregister_context("billing", Scope::global).ok());
  net.deliver();
  CHECK(is(net.nodes.at("c").whereis("billing").error(), errc::context_not_found));
  CHECK(net.errors.empty());
}

TEST_CASE("registry: local names stay on their node and shadow global ones; scope none registers nothing") {
  // Proves the local and none scopes.
  Net net(2);
  for (const char* n : {"a", "b"}) net.add(n);
  net.all_up();
  REQUIRE(net.nodes.at("a").register_context("ui", "app", "app_ui", Scope::local, 1).ok());
  REQUIRE(net.nodes.at("a").register_context("quiet", "app", "app_ui", Scope::none, 1).ok());
  CHECK(is(net.nodes.at("a").register_context("ui", "app", "app_api", Scope::local, 2).error(), errc::already_registered));
  net.deliver();
  CHECK(net.nodes.at("a").whereis("ui").ok());
  CHECK(is(net.nodes.at("b").whereis("ui").error(), errc::context_not_found));
  CHECK(is(net.nodes.at("a").whereis("quiet").error(), errc::context_not_found));
  REQUIRE(net.nodes.at("b").register_context("ui", "app", "app_api", Scope::global, 3).ok());
  net.deliver();
  CHECK(net.nodes.at("a").whereis("ui")->context == "app_ui");  // local first
  CHECK(net.nodes.at("b").whereis("ui")->context == "app_api");
}

TEST_CASE("registry: a name registered on both sides of a partition resolves the same everywhere, the loser told") {
  // Proves the heal rule (earlier registered_at wins, then the greater node name) for seeded orders and times.
  for (const std::uint64_t seed : test_seed::seeds(200)) {
    CAPTURE(seed);
    Net net(seed);
    for (const char* n : {"a", "b", "c"}) net.add(n);
    net.all_up();
    // Partition {a} | {b, c}.
    for (const char* other : {"b", "c"}) {
      net.cut.insert({"a", other});
      net.cut.insert({other, "a"});
    }
    std::uniform_int_distribution<std::uint64_t> time(1000, 1003);
    const std::uint64_t at_a = time(net.random), at_b = time(net.random);
    REQUIRE(net.nodes.at("a").register_context("orders", "app", "from_a", Scope::global, at_a).ok());
    REQUIRE(net.nodes.at("b").register_context("orders", "app", "from_b", Scope::global, at_b).ok());
    net.deliver();
    CHECK(net.nodes.at("c").whereis("orders")->node == "b");
    net.cut.clear();
    net.tick();
    net.tick();
    const std::string winner = at_a < at_b ? "a" : at_b < at_a ? "b" : "b";  // equal times: the greater node name
    const std::string loser = winner == "a" ? "b" : "a";
    for (const char* n : {"a", "b", "c"}) {
      auto where = net.nodes.at(n).whereis("orders");
      REQUIRE(where.ok());
      CHECK(where->node == winner);
    }
    CHECK(net.nodes.at("a").map().entries() == net.nodes.at("c").map().entries());
    CHECK(net.nodes.at("b").map().entries() == net.nodes.at("c").map().entries());
    REQUIRE(net.lost[loser].size() == 1);
    CHECK(net.lost[loser][0].name == "orders");
    CHECK(net.lost[loser][0].ours.node == loser);
    CHECK(net.lost[loser][0].winner.node == winner);
    CHECK(net.lost[winner].empty());
    CHECK(net.errors.empty());
  }
}

TEST_CASE("registry: a down node's names stop resolving and may be taken; back up, it is told it lost them") {
  // Proves names follow their holder's liveness: hidden while it is down, taken at a higher version, the
  // returning holder told; and a node's own name left by its earlier run is taken over, not refused.
  Net net(4);
  for (const char* n : {"a", "b", "c"}) net.add(n);
  net.all_up();
  REQUIRE(net.nodes.at("a").register_context("billing", "app", "app_api", Scope::global, 1000).ok());
  REQUIRE(net.nodes.at("b").register_context("orders", "app", "app_api", Scope::global, 1000).ok());
  net.deliver();
  REQUIRE(net.nodes.at("c").whereis("billing").ok());
  // a is down for b and c (killed: its sockets closed).
  for (const char* n : {"b", "c"}) {
    net.cut.insert({"a", n});
    net.cut.insert({n, "a"});
    net.nodes.at(n).on_peer_down("a", net.now);
    auto gone = net.nodes.at(n).whereis("billing");
    REQUIRE_FALSE(gone.ok());
    CHECK(is(gone.error(), errc::context_not_found));
    CHECK(gone.error().detail.find("holder a is down") != std::string::npos);
    CHECK_FALSE(net.nodes.at(n).global().contains("billing"));
  }
  REQUIRE(net.nodes.at("b").register_context("billing", "app", "app_ui", Scope::global, 2000).ok());
  net.deliver();
  CHECK(net.nodes.at("c").whereis("billing")->context == "app_ui");
  // a comes back: the later registration (higher version) wins everywhere and a is told.
  net.cut.clear();
  net.all_up();
  net.tick();
  for (const char* n : {"a", "b", "c"}) CHECK(net.nodes.at(n).whereis("billing")->node == "b");
  REQUIRE(net.lost["a"].size() == 1);
  CHECK(net.lost["a"][0].winner.context == "app_ui");
  // b restarts with an empty registry, learns its own old "orders" back, and registers it again.
  net.nodes.erase("b");
  net.add("b");
  net.all_up();
  net.tick();
  CHECK(net.nodes.at("b").whereis("orders")->node == "b");
  REQUIRE(net.nodes.at("b").register_context("orders", "app", "app_api", Scope::global, 3000).ok());
  net.deliver();
  CHECK(net.nodes.at("a").whereis("orders")->registered_at_unix_ms == 3000);
  CHECK(net.errors.empty());
}

TEST_CASE("registry: hostile bytes are refused with an error, changing nothing") {
  // Proves truncated, oversized, undecodable and unknown messages are reported and dropped.
  Net net(3);
  net.add("a");
  auto& a = net.nodes.at("a");
  const std::vector<std::vector<std::uint8_t>> hostile{
      {}, {9, 0, 0, 0, 0}, {2, 1, 0, 0, 0, 5, 0}, {1, 0xff, 0xff, 0xff, 0xff}, {3, 1, 0, 0, 0},
      {2, 1, 0, 0, 0, 1, 0, 0, 0, 'k', 2, 0, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0}};
  for (const auto& bytes : hostile) a.on_message("evil", bytes, net.now);
  const auto out = a.take();
  CHECK(out.errors.size() == hostile.size());
  CHECK(out.sends.empty());
  CHECK(a.map().size() == 0);
}

TEST_CASE("registry: the registration codec round-trips and orders earlier registrations greater") {
  // Proves the canonical encoding the conflict rule relies on.
  const Registration early{"z", "d", "c", 5}, late{"a", "d", "c", 6};
  CHECK(RegistrationCodec::decode(RegistrationCodec::encode(early)) == early);
  CHECK(RegistrationCodec::encode(early) > RegistrationCodec::encode(late));
  CHECK_FALSE(RegistrationCodec::decode("short").has_value());
}

}  // namespace
}  // namespace plexus::context
