// The example registry core (example_registry.hpp) driven without I/O, by a
// FIFO network and a fake clock as presence's shard tests drive Shards:
// writes reach up peers, a peer coming up catches up by digest exchange, a
// healed split converges, and hostile bytes are refused.
#include <doctest/doctest.h>

#include <deque>
#include <map>

#include "plexus/replica/example_registry.hpp"

namespace plexus::replica::example {
namespace {

struct Net {
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::map<std::string, Registry> nodes;
  std::deque<std::tuple<std::string, std::string, std::vector<std::uint8_t>>> wire;
  std::map<std::string, std::vector<Registry::Change>> changes;
  std::map<std::string, std::vector<Error>> errors;
  std::set<std::pair<std::string, std::string>> cut;

  void add(const std::string& name) { nodes.try_emplace(name, name, now); }
  void collect(const std::string& name) {
    auto out = nodes.at(name).take();
    for (auto& send : out.sends) {
      if (!cut.contains({name, send.to})) wire.emplace_back(name, send.to, std::move(send.bytes));
    }
    for (auto& change : out.changes) changes[name].push_back(std::move(change));
    for (auto& error : out.errors) errors[name].push_back(std::move(error));
  }
  void deliver() {
    for (auto& [name, node] : nodes) collect(name);
    for (int i = 0; i < 10000 && !wire.empty(); ++i) {
      auto [from, to, bytes] = std::move(wire.front());
      wire.pop_front();
      nodes.at(to).on_message(from, bytes, now);
      collect(to);
    }
  }
  void up(const std::string& a, const std::string& b) {
    nodes.at(a).on_peer_up(b, now);
    nodes.at(b).on_peer_up(a, now);
    deliver();
  }
  std::string value(const std::string& node, const std::string& key) {
    const std::string* value = nodes.at(node).get(key);
    return value ? *value : "-";
  }
};

TEST_CASE("registry: a write reaches every up peer, and a late peer catches up by digest") {
  // Proves local writes are sent at once and a peer coming up pulls what it lacks.
  Net net;
  for (const char* name : {"a", "b", "c"}) net.add(name);
  net.up("a", "b");
  REQUIRE(net.nodes.at("a").put("t1", "m1", net.now).ok());
  REQUIRE(net.nodes.at("a").put("t2", "m2", net.now).ok());
  REQUIRE(*net.nodes.at("a").remove("t2", net.now));
  net.deliver();
  CHECK(net.value("b", "t1") == "m1");
  CHECK(net.value("b", "t2") == "-");
  CHECK(net.changes["b"] == std::vector<Registry::Change>{{"t1", "m1"}, {"t2", "m2"}, {"t2", std::nullopt}});
  CHECK(net.value("c", "t1") == "-");
  net.up("c", "b");
  CHECK(net.value("c", "t1") == "m1");
  CHECK(net.nodes.at("c").map().entries() == net.nodes.at("a").map().entries());
}

TEST_CASE("registry: a split heals by the periodic digest exchange") {
  // Proves anti-entropy on ticks converges writes made on both sides of a split.
  Net net;
  for (const char* name : {"a", "b"}) net.add(name);
  net.up("a", "b");
  net.cut = {{"a", "b"}, {"b", "a"}};
  REQUIRE(net.nodes.at("a").put("k", "from-a", net.now).ok());
  REQUIRE(net.nodes.at("b").put("k", "from-b", net.now).ok());
  REQUIRE(net.nodes.at("b").put("only-b", "x", net.now).ok());
  net.deliver();
  CHECK(net.value("a", "only-b") == "-");
  net.cut.clear();
  CHECK(net.nodes.at("a").next_deadline() == net.now + std::chrono::seconds(1));
  net.now += std::chrono::seconds(1);
  for (auto& [name, node] : net.nodes) node.on_tick(net.now);
  net.deliver();
  CHECK(net.value("a", "only-b") == "x");
  CHECK(net.value("a", "k") == "from-b");  // same version: the greater encoding wins everywhere
  CHECK(net.nodes.at("a").map().entries() == net.nodes.at("b").map().entries());
}

TEST_CASE("registry: hostile bytes are refused with an error, changing nothing") {
  // Proves truncated, oversized and unknown messages are reported and dropped.
  Net net;
  net.add("a");
  auto& a = net.nodes.at("a");
  const std::vector<std::vector<std::uint8_t>> hostile{
      {}, {9, 0, 0, 0, 0}, {2, 1, 0, 0, 0, 5, 0}, {1, 0xff, 0xff, 0xff, 0xff}, {3, 1, 0, 0, 0}};
  for (const auto& bytes : hostile) a.on_message("evil", bytes, net.now);
  const auto out = a.take();
  CHECK(out.errors.size() == hostile.size());
  CHECK(out.sends.empty());
  CHECK(a.map().size() == 0);
}

}  // namespace
}  // namespace plexus::replica::example
