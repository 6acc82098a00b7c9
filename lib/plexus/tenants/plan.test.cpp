// Tests of one node's placement plan: start what it owns and may run, stop
// what it no longer owns (or may not run, or was forgotten), carry desired
// uninstalls through; and a seeded property: when every node sees the same
// members and holds the same registry, the nodes' plans together run each
// runnable tenant exactly once, and a leaving node's tenants are the only
// ones any plan moves.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "plexus/core/test_seed.hpp"
#include "plexus/tenants/plan.hpp"

namespace plexus::tenants {
namespace {

using namespace std::chrono_literals;
using Names = std::set<std::string, std::less<>>;

Registered tenant(std::string id, std::string module, Desired desired = Desired::running) {
  return Registered{std::move(id), Record{std::move(module), {}, desired}, 1};
}

Policy majority(std::string_view) { return Policy::majority; }

TEST_CASE("plan: starts owned tenants, stops moved or unrunnable ones, uninstalls desired-uninstalled ones") {
  // Proves each list of the plan on a small cluster, and that the quorum gates starting.
  const std::vector<Member> members{{"a", true, {"kv"}}, {"b", true, {"kv"}}, {"c", true, {"counter"}}};
  std::vector<Registered> registry;
  for (int i = 0; i < 20; ++i) registry.push_back(tenant("t" + std::to_string(i), "kv"));
  registry.push_back(tenant("gone", "kv", Desired::uninstalled));
  registry.push_back(tenant("c1", "counter"));
  Quorum quorum(QuorumOptions{0ms});
  quorum.observe(3, 3, Time{0});
  const Names none;
  const auto fresh = plan("a", registry, members, none, quorum, majority, Time{0});
  CHECK_FALSE(fresh.start.empty());
  for (const auto& id : fresh.start) {
    const std::vector<std::string> kv{"a", "b"};
    CHECK(*owner_of(id, kv) == "a");
  }
  CHECK(std::find(fresh.start.begin(), fresh.start.end(), "c1") == fresh.start.end());  // a does not host counter
  Names running(fresh.start.begin(), fresh.start.end());
  running.insert("gone");
  running.insert("forgotten");
  const auto steady = plan("a", registry, members, running, quorum, majority, Time{0});
  CHECK(steady.start.empty());
  CHECK(steady.uninstall == std::vector<std::string>{"gone"});
  CHECK(steady.stop == std::vector<std::string>{"forgotten"});
  quorum.observe(3, 1, Time{0});  // a alone: the minority stops everything
  const auto minority = plan("a", registry, members, Names(fresh.start.begin(), fresh.start.end()), quorum, majority, Time{0});
  CHECK(minority.stop == fresh.start);
  CHECK(minority.start.empty());
}

TEST_CASE("plan property: with one view, the nodes' plans run each runnable tenant exactly once") {
  // Proves plans agree across nodes, and that after a node leaves only its tenants are started elsewhere.
  const char* name = "plan property: with one view, the nodes' plans run each runnable tenant exactly once";
  for (const auto seed : test_seed::seeds(100)) {
    INFO("replay: ", test_seed::replay(seed, "lib/plexus/tenants/tenants_test", name));
    std::mt19937_64 rng(seed);
    std::vector<Member> members;
    const std::size_t count = 3 + rng() % 6;
    for (std::size_t i = 0; i < count; ++i) {
      Member m{"n" + std::to_string(i), true, {}};
      if (rng() % 4 != 0) m.modules.insert("kv");
      if (rng() % 2 != 0) m.modules.insert("counter");
      members.push_back(m);
    }
    std::vector<Registered> registry;
    for (int i = 0; i < 60; ++i) registry.push_back(tenant("t" + std::to_string(i), rng() % 2 ? "kv" : "counter"));
    Quorum quorum(QuorumOptions{0ms});
    quorum.observe(count, count, Time{0});
    std::map<std::string, std::string> where;  // tenant -> the node whose plan starts it
    std::map<std::string, Names> running;
    for (const auto& m : members) {
      const auto p = plan(m.name, registry, members, {}, quorum, majority, Time{0});
      for (const auto& id : p.start) {
        CHECK_MESSAGE(where.emplace(id, m.name).second, id, " started twice");
        running[m.name].insert(id);
      }
    }
    for (const auto& t : registry) CHECK(where.contains(t.id) == !candidates(members, t.record.module).empty());
    // One node leaves: every plan only moves the leaver's tenants.
    const std::string leaver = members[rng() % members.size()].name;
    std::vector<Member> after;
    for (const auto& m : members) if (m.name != leaver) after.push_back(m);
    quorum.observe(after.size(), after.size(), Time{0});
    for (const auto& m : after) {
      const auto p = plan(m.name, registry, after, running[m.name], quorum, majority, Time{0});
      CHECK(p.stop.empty());
      for (const auto& id : p.start) CHECK(where.at(id) == leaver);
    }
  }
}

}  // namespace
}  // namespace plexus::tenants
