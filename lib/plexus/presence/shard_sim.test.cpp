// Seeded simulation of three shards: random tracks, untracks, updates and
// owner closes, random partitions (reported or silent), heals, lost messages
// and time steps. After healing everything, every node must list exactly the
// union of all nodes' own presences, and replaying each node's handle_diff
// stream (joins and leaves by ref) must give exactly what it lists. A failure
// prints the seed; PLEXUS_SEED=<n> replays one.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>

#include "plexus/core/test_seed.hpp"
#include "plexus/presence/fake_net.hpp"

using namespace plexus::presence;
using namespace plexus::presence::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

using Seen = std::set<std::tuple<std::uint64_t, Sequence, std::string, std::string, std::string>>;

const std::vector<std::string> names{"a", "b", "c"};
const std::vector<std::string> topics{"t0", "t1", "t2"};

void random_step(FakeNet& net, std::mt19937_64& rng) {
  const std::string& node = names[rng() % names.size()];
  Shard& shard = net.at(node);
  const std::string& topic = topics[rng() % topics.size()];
  const std::string key = "k" + std::to_string(rng() % 5);
  const std::uint64_t owner = 1 + rng() % 3;
  const std::string& other = names[rng() % names.size()];
  switch (rng() % 12) {
    case 0: case 1: case 2: (void)shard.track(owner, topic, key, json{{"v", rng() % 3}}, net.now); break;
    case 3: case 4: (void)shard.untrack(owner, topic, key, net.now); break;
    case 5: (void)shard.update(owner, topic, key, json{{"v", rng() % 3}}, net.now); break;
    case 6: (void)shard.untrack(owner, net.now); break;
    case 7:
      if (other != node && !net.cut.contains({node, other})) net.partition(node, other);
      break;
    case 8:
      if (net.cut.contains({node, other})) net.heal(node, other);
      break;
    case 9:
      if (other != node) net.lose_next.insert({node, other});
      break;
    case 10:
      if (other != node) net.cut.insert({node, other});  // silent: no down event
      break;
    default: net.advance(std::chrono::milliseconds(1 + rng() % 400)); break;
  }
}

/// Every node's own presences, as (instance, clock, topic, key, meta).
Seen truth(FakeNet& net) {
  Seen out;
  for (const auto& n : names) {
    const auto& state = net.at(n).state();
    for (const auto& row : view(state, state.self().instance).second) {
      out.emplace(std::get<0>(row), std::get<1>(row), std::get<3>(row), std::get<4>(row), std::get<5>(row));
    }
  }
  return out;
}

Seen listed(FakeNet& net, const std::string& node) {
  Seen out;
  for (const auto& t : topics) {
    for (const auto& p : net.at(node).state().list(t)) {
      out.emplace(p.ref.instance, p.ref.clock, t, p.key.str(), p.meta->dump());
    }
  }
  return out;
}

/// Replay a node's diff stream: per Diff, joins then leaves, counted by ref.
Seen replay(const std::vector<Diff>& log) {
  std::map<std::tuple<std::uint64_t, Sequence, std::string, std::string, std::string>, int> count;
  for (const auto& diff : log) {
    for (const auto& [topic, d] : diff) {
      for (const auto& p : d.joins) ++count[{p.ref.instance, p.ref.clock, topic, p.key.str(), p.meta->dump()}];
    }
    for (const auto& [topic, d] : diff) {
      for (const auto& p : d.leaves) --count[{p.ref.instance, p.ref.clock, topic, p.key.str(), p.meta->dump()}];
    }
  }
  Seen out;
  for (const auto& [row, n] : count) {
    CHECK((n == 0 || n == 1));
    if (n == 1) out.insert(row);
  }
  return out;
}

void run(std::uint64_t seed) {
  INFO("replay: " << plexus::test_seed::replay(seed, "lib/plexus/presence/presence_shard_test", "random partitions*"));
  std::mt19937_64 rng(seed);
  Options options;
  options.permdown_period = 60'000ms;  // long enough that no replica is dropped in a run
  FakeNet net(options);
  for (const auto& n : names) net.add(n);
  net.connect_all();
  for (int step = 0; step < 300; ++step) random_step(net, rng);
  // Heal everything: links back, peers up again, time for heartbeats and transfers.
  net.cut.clear();
  net.lose_next.clear();
  for (const auto& a : names) for (const auto& b : names) if (a < b) net.down(a, b);
  net.deliver();
  for (const auto& a : names) for (const auto& b : names) if (a < b) net.up(a, b);
  net.advance(3000ms);
  const Seen expected = truth(net);
  for (const auto& n : names) {
    CAPTURE(n);
    CHECK(listed(net, n) == expected);
    CHECK(replay(net.diff_log[n]) == expected);
  }
}

}  // namespace

TEST_CASE("random partitions, losses and changes converge, and diffs replay to the listing") {
  // Proves eventual convergence after healing and that handle_diff is exact over whole runs.
  for (const auto seed : plexus::test_seed::seeds(40, 0)) run(seed);
}
