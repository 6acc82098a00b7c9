// Tests of one node's placement plan: start what it owns and may run, stop
// what it no longer owns (or may not run, or was forgotten), carry desired
// uninstalls through; and a seeded property: when every node sees the same
// members and holds the same registry, the nodes' plans together run each
// runnable tenant exactly once, and a leaving node's tenants are the only
// ones any plan moves. Sticky placement: a join moves nothing, a leave
// moves only the leaver's tenants, and opt-in rebalancing moves at most its
// budget, each to its rendezvous owner.
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
  const std::vector<Member> members{{"a", true, {"kv"}, {}}, {"b", true, {"kv"}, {}}, {"c", true, {"counter"}, {}}};
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
      Member m{"n" + std::to_string(i), true, {}, {}};
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
    // One node leaves: every plan only moves the leaver's tenants. The
    // survivors announce what they run (sticky placement reads it).
    const std::string leaver = members[rng() % members.size()].name;
    std::vector<Member> after;
    for (const auto& m : members) {
      if (m.name == leaver) continue;
      after.push_back(m);
      after.back().running = running[m.name];
    }
    quorum.observe(after.size(), after.size(), Time{0});
    for (const auto& m : after) {
      const auto p = plan(m.name, registry, after, running[m.name], quorum, majority, Time{0});
      CHECK(p.stop.empty());
      for (const auto& id : p.start) CHECK(where.at(id) == leaver);
    }
  }
}

/// The members of a cluster where every node hosts kv and announces what `running` says it runs.
std::vector<Member> cluster(const std::vector<std::string>& names, std::map<std::string, Names>& running) {
  std::vector<Member> out;
  for (const auto& n : names) out.push_back(Member{n, true, {"kv"}, running[n]});
  return out;
}

/// Runs every node's plan once on one view; applies starts and stops to `running`; returns the moves.
std::size_t step(const std::vector<std::string>& names, const std::vector<Registered>& registry,
                 std::map<std::string, Names>& running, std::size_t rebalance_max = 0) {
  Quorum quorum(QuorumOptions{0ms});
  quorum.observe(names.size(), names.size(), Time{0});
  const auto view = cluster(names, running);
  std::size_t moves = 0;
  std::map<std::string, Plan> plans;
  for (const auto& n : names) plans[n] = plan(n, registry, view, running[n], quorum, majority, Time{0}, rebalance_max);
  for (auto& [n, p] : plans) {
    for (const auto& id : p.stop) running[n].erase(id);
    for (const auto& id : p.start) running[n].insert(id);
    moves += p.start.size() + p.stop.size();
  }
  return moves;
}

/// tenant -> the one node running it; fails the test on a duplicate.
std::map<std::string, std::string> where(const std::map<std::string, Names>& running) {
  std::map<std::string, std::string> out;
  for (const auto& [n, ids] : running) {
    for (const auto& id : ids) CHECK_MESSAGE(out.emplace(id, n).second, id, " runs twice");
  }
  return out;
}

std::vector<Registered> kv_tenants(int count) {
  std::vector<Registered> registry;
  for (int i = 0; i < count; ++i) registry.push_back(tenant("t" + std::to_string(i), "kv"));
  return registry;
}

TEST_CASE("plan sticky: a joining node takes no tenant and no plan moves one") {
  // Proves that a join leaves every running tenant where it runs, although the joiner outscores many.
  const auto registry = kv_tenants(200);
  std::map<std::string, Names> running;
  CHECK(step({"a", "b"}, registry, running) == 200);  // placed once
  const auto before = where(running);
  CHECK(before.size() == 200);
  CHECK(step({"a", "b", "c"}, registry, running) == 0);
  CHECK(where(running) == before);
  CHECK(running["c"].empty());
  // The joiner would have won some of them by rendezvous alone: the old rule moved those.
  std::size_t joiner_scores_highest = 0;
  const std::vector<std::string> abc{"a", "b", "c"};
  for (const auto& t : registry) joiner_scores_highest += *owner_of(t.id, abc) == "c" ? 1 : 0;
  CHECK(joiner_scores_highest > 0);
  // A new tenant is placed by rendezvous over all three.
  auto more = registry;
  more.push_back(tenant("fresh", "kv"));
  step(abc, more, running);
  CHECK(where(running).at("fresh") == *owner_of("fresh", abc));
}

TEST_CASE("plan sticky: a leaving node's tenants move, to their rendezvous owner among the rest, and nothing else") {
  // Proves a leave moves exactly the leaver's tenants, also after an earlier join left placement off-rendezvous.
  const auto registry = kv_tenants(200);
  std::map<std::string, Names> running;
  step({"a", "b"}, registry, running);
  step({"a", "b", "c"}, registry, running);  // c joins, takes nothing
  auto with_new = registry;
  for (int i = 0; i < 50; ++i) with_new.push_back(tenant("u" + std::to_string(i), "kv"));
  step({"a", "b", "c"}, with_new, running);  // new tenants land on c too
  CHECK_FALSE(running["c"].empty());
  const auto before = where(running);
  const Names leaver_had = running["a"];
  running.erase("a");  // a leaves (down: it announces nothing, runs nothing we see)
  const std::vector<std::string> bc{"b", "c"};
  step(bc, with_new, running);
  const auto after = where(running);
  CHECK(after.size() == with_new.size());
  for (const auto& [id, node] : after) {
    if (leaver_had.contains(id)) {
      CHECK(node == *owner_of(id, bc));
    } else {
      CHECK_MESSAGE(node == before.at(id), id, " moved although its owner stayed");
    }
  }
}

TEST_CASE("plan rebalancing: at most the budget moves per plan, each to its rendezvous owner, until placement is rendezvous") {
  // Proves opt-in rebalancing is bounded by rebalance_max per round and converges to the rendezvous placement.
  const auto registry = kv_tenants(200);
  std::map<std::string, Names> running;
  step({"a", "b"}, registry, running);
  const std::vector<std::string> abc{"a", "b", "c"};
  std::size_t off_home = 0;
  for (const auto& t : registry) off_home += *owner_of(t.id, abc) == "c" ? 1 : 0;
  REQUIRE(off_home > 6);
  std::size_t rounds = 0;
  while (running["c"].size() < off_home && rounds < 200) {
    ++rounds;
    const auto before = running["c"].size();
    // One round: the owners stop (at most 3 each), then the rendezvous owner starts what nobody runs.
    Quorum quorum(QuorumOptions{0ms});
    quorum.observe(3, 3, Time{0});
    const auto view = cluster(abc, running);
    std::size_t stopped = 0;
    for (const auto& n : abc) {
      const auto p = plan(n, registry, view, running[n], quorum, majority, Time{0}, 3);
      CHECK(p.start.empty());
      CHECK(p.rebalanced <= 3);
      CHECK(p.stop.size() == p.rebalanced);
      for (const auto& id : p.stop) {
        CHECK(*owner_of(id, abc) == "c");
        running[n].erase(id);
      }
      stopped += p.stop.size();
    }
    CHECK(stopped <= 6);  // a and b, 3 each
    step(abc, registry, running, 0);
    CHECK(running["c"].size() == before + stopped);
  }
  CHECK(running["c"].size() == off_home);
  for (const auto& [id, node] : where(running)) CHECK(node == *owner_of(id, abc));
  CHECK(step(abc, registry, running, 3) == 0);  // settled: nothing more moves
}

TEST_CASE("plan sticky: duplicate owners after a heal keep the resolve() winner on every node") {
  // Proves two claimants agree on one winner (resolve: equal epochs, then rendezvous score) and only the loser stops.
  const auto registry = kv_tenants(1);
  std::map<std::string, Names> running{{"a", {"t0"}}, {"b", {"t0"}}};
  Quorum quorum(QuorumOptions{0ms});
  quorum.observe(2, 2, Time{0});
  const std::vector<std::string> ab{"a", "b"};
  const auto view = cluster(ab, running);
  const auto pa = plan("a", registry, view, running["a"], quorum, majority, Time{0});
  const auto pb = plan("b", registry, view, running["b"], quorum, majority, Time{0});
  const std::vector<Claim> claims{{"a", 0}, {"b", 0}};
  const auto winner = resolve("t0", claims).winner;
  CHECK((winner == "a" ? pb : pa).stop == std::vector<std::string>{"t0"});
  CHECK((winner == "a" ? pa : pb).stop.empty());
}

}  // namespace
}  // namespace plexus::tenants
