// Seeded property tests of the CRDT laws: the total order, the join laws
// (idempotent, commutative, associative, any order and grouping) over random
// operation histories of 3-6 replicas, change lists that replay the live view
// exactly, and convergence of real replicas (self-refutation included)
// through digest exchanges. A failure prints the command that replays its seed.
#include <doctest/doctest.h>

#include <map>
#include <span>

#include "plexus/membership/membership.hpp"
#include "plexus/membership/test_support.hpp"

namespace plexus::membership {
namespace {

using test::below;
using test::merge_ok;
using test::replay_command;
using test::seeds;

constexpr std::uint32_t histories = 300;

NodeSpec random_spec(std::mt19937& rng, const std::string& name) {
  NodeSpec spec = test::spec(name, 1 + below(rng, 3), static_cast<std::uint16_t>(7000 + below(rng, 3)));
  if (below(rng, 4) == 0) spec.channels.emplace("data", ChannelSpec{1 + below(rng, 2), below(rng, 2) == 0});
  return spec;
}

std::string pool_name(std::mt19937& rng) { return "p" + std::to_string(below(rng, 5)); }

Entry random_entry(std::mt19937& rng) {
  return Entry{random_spec(rng, "n"), 1 + below(rng, 3), below(rng, 2) == 0};
}

/// 3-6 replicas after 10-60 random adds, removes (of pool names and, rarely,
/// of replicas), partial merges, and foreign specs written for replica names.
std::vector<Membership> random_history(std::mt19937& rng) {
  const std::uint32_t count = 3 + below(rng, 4);
  std::vector<Membership> replicas;
  for (std::uint32_t i = 0; i < count; ++i) {
    replicas.emplace_back(test::spec("r" + std::to_string(i), 1 + below(rng, 1000),
                                     static_cast<std::uint16_t>(7100 + i)));
  }
  const std::uint32_t ops = 10 + below(rng, 51);
  for (std::uint32_t op = 0; op < ops; ++op) {
    Membership& self = replicas[below(rng, count)];
    const Membership& other = replicas[below(rng, count)];
    const std::string replica_name = "r" + std::to_string(below(rng, count));
    switch (below(rng, 10)) {
      case 0: case 1: case 2: case 3:
        REQUIRE(self.add(random_spec(rng, pool_name(rng))).ok());
        break;
      case 4: case 5:
        REQUIRE(self.remove(pool_name(rng)).ok());
        break;
      case 6:
        if (below(rng, 3) == 0) REQUIRE(self.remove(replica_name).ok());
        break;
      case 7: case 8: {
        std::vector<Entry> some;
        for (const Entry& entry : other.entries()) {
          if (below(rng, 2) == 0) some.push_back(entry);
        }
        merge_ok(self, some);
        break;
      }
      default:
        // Another life written under a replica's name: its owner must refute it.
        if (replica_name != self.local().name) {
          REQUIRE(self.add(test::spec(replica_name, 100 + below(rng, 3), 7999)).ok());
        }
    }
  }
  return replicas;
}

/// A replica whose name appears in no history, so it never refutes anything:
/// merging into it is the pure join.
Membership observer() { return Membership(test::spec("observer")); }

std::vector<Entry> join(std::initializer_list<std::span<const Entry>> states) {
  Membership into = observer();
  for (const auto state : states) merge_ok(into, std::vector<Entry>(state.begin(), state.end()));
  return into.entries();
}

/// Joins `states` as a random binary tree of merges.
std::vector<Entry> join_tree(std::mt19937& rng, std::span<const std::vector<Entry>> states) {
  if (states.size() == 1) return join({states[0]});
  const std::size_t split = 1 + below(rng, static_cast<std::uint32_t>(states.size() - 1));
  const auto left = join_tree(rng, states.first(split));
  const auto right = join_tree(rng, states.subspan(split));
  return join({left, right});
}

/// Applies a change list to a live view, checking each change is consistent with it.
void apply_changes(std::map<std::string, NodeSpec>& view, const std::vector<Change>& changes) {
  for (const Change& change : changes) {
    const auto it = view.find(change.spec.name);
    switch (change.kind) {
      case ChangeKind::added:
        CHECK(it == view.end());
        view[change.spec.name] = change.spec;
        break;
      case ChangeKind::removed:
        REQUIRE(it != view.end());
        CHECK(it->second == change.spec);
        view.erase(it);
        break;
      case ChangeKind::updated:
        REQUIRE(it != view.end());
        REQUIRE(change.previous.has_value());
        CHECK(it->second == *change.previous);
        it->second = change.spec;
        break;
    }
  }
}

std::map<std::string, NodeSpec> view_of(const Membership& membership) {
  std::map<std::string, NodeSpec> view;
  for (const NodeSpec& spec : membership.members()) view[spec.name] = spec;
  return view;
}

TEST_CASE("compare is a total order on entries and diff agrees with it") {
  // Proves antisymmetry, transitivity and equal-iff-identical on random entries, and that digests push/pull by it.
  const std::string name = "compare is a total order on entries and diff agrees with it";
  for (const auto seed : seeds(histories)) {
    INFO("replay: ", replay_command(seed, name));
    std::mt19937 rng(seed);
    for (int i = 0; i < 20; ++i) {
      const Entry a = random_entry(rng);
      const Entry b = random_entry(rng);
      const Entry c = random_entry(rng);
      CHECK((compare(a, b) == 0) == (a == b));
      CHECK((compare(a, b) < 0) == (compare(b, a) > 0));
      if (compare(a, b) <= 0 && compare(b, c) <= 0) CHECK(compare(a, c) <= 0);
      Membership holder = observer();
      merge_ok(holder, {a});
      const auto diff = holder.diff(std::vector<DigestEntry>{digest_of(b)});
      REQUIRE(diff.ok());
      const bool ambiguous = a.version == b.version && a.removed == b.removed &&
                             a.spec.instance_id == b.spec.instance_id && a.spec != b.spec;
      const bool pushed = diff->push.size() == 2;  // "observer" is always pushed: b's side lacks it.
      const bool pulled = !diff->pull.empty();
      CHECK(pushed == (ambiguous || compare(a, b) > 0));
      CHECK(pulled == (ambiguous || compare(a, b) < 0));
    }
  }
}

TEST_CASE("merge is idempotent, commutative and associative over random histories") {
  // Proves the join laws on the states of hundreds of random 3-6 replica histories.
  const std::string name = "merge is idempotent, commutative and associative over random histories";
  for (const auto seed : seeds(histories)) {
    INFO("replay: ", replay_command(seed, name));
    std::mt19937 rng(seed);
    const auto replicas = random_history(rng);
    const auto a = replicas[0].entries();
    const auto b = replicas[1].entries();
    const auto c = replicas[2].entries();
    CHECK(join({a, a}) == join({a}));
    CHECK(join({join({a, b}), b}) == join({a, b}));
    CHECK(join({a, b}) == join({b, a}));
    CHECK(join({join({a, b}), c}) == join({a, join({b, c})}));
    CHECK(join({c, a, b}) == join({b, c, a}));
    Membership twice = observer();
    merge_ok(twice, a);
    CHECK(merge_ok(twice, a).empty());
  }
}

TEST_CASE("any order and grouping of merges yields one state, and change lists replay the live view") {
  // Proves order/grouping independence across all replicas, and that Change lists are exact deltas.
  const std::string name = "any order and grouping of merges yields one state, and change lists replay the live view";
  for (const auto seed : seeds(histories)) {
    INFO("replay: ", replay_command(seed, name));
    std::mt19937 rng(seed);
    const auto replicas = random_history(rng);
    std::vector<std::vector<Entry>> states;
    for (const auto& replica : replicas) states.push_back(replica.entries());
    Membership sequential = observer();
    auto view = view_of(sequential);
    for (const auto& state : states) {
      apply_changes(view, merge_ok(sequential, state));
      CHECK(view == view_of(sequential));
    }
    for (int trial = 0; trial < 3; ++trial) {
      auto shuffled = states;
      test::shuffle(shuffled, rng);
      CHECK(join_tree(rng, shuffled) == sequential.entries());
    }
  }
}

TEST_CASE("replicas converge through digest exchanges, refuting foreign specs for their names") {
  // Proves real replicas (with self-refutation and removed_self) reach one state and keep their own spec.
  const std::string name = "replicas converge through digest exchanges, refuting foreign specs for their names";
  for (const auto seed : seeds(histories)) {
    INFO("replay: ", replay_command(seed, name));
    std::mt19937 rng(seed);
    auto replicas = random_history(rng);
    bool converged = false;
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      for (std::size_t j = 0; j < replicas.size(); ++j) {
        if (i != j) pairs.emplace_back(i, j);
      }
    }
    for (int round = 0; round < 5 && !converged; ++round) {
      test::shuffle(pairs, rng);
      for (const auto& [i, j] : pairs) test::exchange(replicas[i], replicas[j]);
      converged = true;
      for (const auto& replica : replicas) converged = converged && replica.entries() == replicas[0].entries();
    }
    REQUIRE(converged);
    for (const auto& replica : replicas) {
      const Entry* self = replica.find(replica.local().name);
      REQUIRE(self != nullptr);
      if (!replica.removed_self()) CHECK((!self->removed && self->spec == replica.local()));
      const auto diff = replica.diff(replicas[0].digest());
      REQUIRE(diff.ok());
      CHECK(diff->push.empty());
      CHECK(diff->pull.empty());
    }
  }
}

}  // namespace
}  // namespace plexus::membership
