// Seeded simulation of tombstone GC under the shell's rules: merge and
// observe only from a live member whose exact spec is in our view, except
// that any peer may tell a node it is out (a tombstone of its own life, or no
// entry for it at all); a node that is out makes no more changes, though a
// removed node still hands its state on, as a leaving node does before it
// stops. Checks after every step that no
// replica ever goes back to an entry older than one it held before (GC may
// forget, never resurrect), and at the end that GC completes and the
// remaining members agree. A failure prints the command that replays its seed.
#include <doctest/doctest.h>

#include <map>

#include "plexus/membership/membership.hpp"
#include "plexus/membership/test_support.hpp"

namespace plexus::membership {
namespace {

using test::below;
using test::merge_ok;
using test::replay_command;
using test::seeds;

constexpr std::uint32_t simulations = 300;

struct Sim {
  std::mt19937 rng;
  std::vector<Membership> replicas;
  /// Per replica, the greatest entry it ever held for each name.
  std::vector<std::map<std::string, Entry>> high_water;
  /// Told by a peer that it is no longer a member (its entry was collected).
  std::vector<bool> stopped;
  std::size_t collected = 0;  ///< tombstones dropped during the random steps

  explicit Sim(std::uint32_t seed) : rng(seed) {
    const std::uint32_t count = 3 + below(rng, 4);
    for (std::uint32_t i = 0; i < count; ++i) {
      replicas.emplace_back(test::spec("r" + std::to_string(i), 1 + below(rng, 1000),
                                       static_cast<std::uint16_t>(7100 + i)));
    }
    std::vector<Entry> everyone;
    for (const auto& replica : replicas) everyone.push_back(*replica.find(replica.local().name));
    for (auto& replica : replicas) merge_ok(replica, everyone);
    high_water.resize(count);
    stopped.resize(count);
  }

  [[nodiscard]] bool out(std::size_t i) const { return stopped[i] || replicas[i].removed_self(); }

  /// Rule (a): replica `from` is a live member of `into`'s view with its exact spec.
  [[nodiscard]] bool accepts(std::size_t into, std::size_t from) const {
    if (into == from) return false;
    const Entry* entry = replicas[into].find(replicas[from].local().name);
    return entry != nullptr && !entry->removed && entry->spec == replicas[from].local();
  }

  /// Every entry i holds is at least the greatest it ever held for that name.
  void check_no_regression(std::size_t i) {
    for (const Entry& entry : replicas[i].entries()) {
      const auto [it, fresh] = high_water[i].try_emplace(entry.spec.name, entry);
      if (fresh) continue;
      INFO("replica r", i, " name ", entry.spec.name, " version ", entry.version, " < held ", it->second.version);
      CHECK(compare(entry, it->second) >= 0);
      if (compare(entry, it->second) > 0) it->second = entry;
    }
  }

  /// `into` sends its digest to `from` and merges what `from` answers. Any
  /// peer may answer "you are out": with no entry for into (it was
  /// collected), into stops; with a tombstone of into's life, into takes it.
  void pull(std::size_t into, std::size_t from) {
    if (into == from) return;
    const Membership& self = replicas[into];
    const Entry* about_into = replicas[from].find(self.local().name);
    if (about_into == nullptr) {
      stopped[into] = true;
      return;
    }
    if (about_into->removed && about_into->spec.instance_id == self.local().instance_id) {
      merge_ok(replicas[into], {*about_into});
      REQUIRE(replicas[into].removed_self());
    }
    if (!accepts(into, from)) return;
    const auto diff = replicas[into].diff(replicas[from].digest());
    REQUIRE(diff.ok());
    merge_ok(replicas[into], replicas[from].entries_for(diff->pull));
    check_no_regression(into);
  }

  void observe(std::size_t into, std::size_t from) {
    if (!accepts(into, from)) return;
    // A removed node's report does not count: its own entry is a tombstone.
    const Membership& peer = replicas[from];
    CHECK(replicas[into].observe(peer.local().name, peer.digest()) == !peer.removed_self());
  }

  void step() {
    const std::size_t i = below(rng, static_cast<std::uint32_t>(replicas.size()));
    const std::size_t j = below(rng, static_cast<std::uint32_t>(replicas.size()));
    if (out(i)) return;
    Membership& self = replicas[i];
    // Pool names are members that never report (down nodes): while one is
    // live it blocks GC, so they are removed more often than added.
    const std::string pool = "p" + std::to_string(below(rng, 2));
    switch (below(rng, 20)) {
      case 0:
        REQUIRE(self.add(test::spec(pool, 1 + below(rng, 3), static_cast<std::uint16_t>(7000 + below(rng, 2)))).ok());
        break;
      case 1: case 2: case 3: case 4:
        REQUIRE(self.remove(pool).ok());
        break;
      case 5:
        if (j != i) REQUIRE(self.remove(replicas[j].local().name).ok());
        break;
      case 6: case 7: case 8: case 9: case 10: case 11:
        pull(i, j);
        break;
      case 12: case 13: case 14: case 15: case 16:
        observe(i, j);
        break;
      default:
        collected += self.collect_garbage();
    }
    check_no_regression(i);
  }

  void pull_all() {
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      for (std::size_t j = 0; j < replicas.size(); ++j) {
        if (!out(i)) pull(i, j);
      }
    }
  }

  /// Once replicas agree, a remaining one removes the pool members (they
  /// never report); then rounds of every accepted pull, observation and GC.
  void settle() {
    pull_all();
    pull_all();
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      if (out(i)) continue;
      for (const NodeSpec& member : replicas[i].members()) {
        if (member.name.starts_with("p")) REQUIRE(replicas[i].remove(member.name).ok());
      }
      break;
    }
    for (int round = 0; round < 6; ++round) {
      pull_all();
      for (std::size_t i = 0; i < replicas.size(); ++i) {
        for (std::size_t j = 0; j < replicas.size(); ++j) observe(i, j);
      }
      for (std::size_t i = 0; i < replicas.size(); ++i) {
        if (!out(i)) replicas[i].collect_garbage();
        check_no_regression(i);
      }
    }
  }
};

TEST_CASE("GC never makes a replica go back to an older entry, and completes once replicas settle") {
  // Proves no resurrection across hundreds of random histories with GC, and that GC finishes its job.
  const std::string name = "GC never makes a replica go back to an older entry, and completes once replicas settle";
  std::size_t collected_in_steps = 0;
  std::size_t histories_collecting = 0;
  for (const auto seed : seeds(simulations)) {
    INFO("replay: ", replay_command(seed, name));
    Sim sim(seed);
    const std::uint32_t steps = 100 + below(sim.rng, 300);
    for (std::uint32_t step = 0; step < steps; ++step) sim.step();
    collected_in_steps += sim.collected;
    histories_collecting += sim.collected > 0 ? 1 : 0;
    sim.settle();
    const Membership* reference = nullptr;
    for (std::size_t i = 0; i < sim.replicas.size(); ++i) {
      if (sim.out(i)) continue;
      const Membership& replica = sim.replicas[i];
      for (const Entry& entry : replica.entries()) CHECK_MESSAGE(!entry.removed, entry.spec.name);
      if (reference == nullptr) reference = &replica;
      CHECK(replica.members() == reference->members());
    }
  }
  // The random steps must really exercise collection, not only the settling.
  INFO("tombstones collected during random steps: ", collected_in_steps, ", in ", histories_collecting,
       " histories");
  CHECK(histories_collecting * 2 >= seeds(simulations).size());
}

}  // namespace
}  // namespace plexus::membership
