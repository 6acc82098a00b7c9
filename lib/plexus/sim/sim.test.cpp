// The `sim` suite: fixed seeds pass every invariant, a seed replays to the
// same final state, and with a known bug switched back on a campaign finds a
// failing seed within a bounded number of seeds.
#include <doctest/doctest.h>

#include "plexus/sim/sim.hpp"

using namespace plexus::sim;

namespace {

void require_ok(const RunResult& result, const RunOptions& options) {
  INFO(result.invariant, ": ", result.detail, "\nswarm: ", result.swarm, "\nreplay: ", replay_command(options));
  CHECK(result.ok);
}

}  // namespace

TEST_CASE("fixed seeds keep every invariant through faults and converge after them") {
  // Seeds 1..40 with the default 5 nodes; a few bigger and smaller clusters.
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const RunOptions options{seed, 5, 400, Bug::none};
    require_ok(run(options), options);
  }
  for (const std::size_t nodes : {2, 3, 7}) {
    const RunOptions options{1000 + nodes, nodes, 400, Bug::none};
    require_ok(run(options), options);
  }
}

TEST_CASE("the same seed gives the same final state; another seed another one") {
  const RunOptions options{77, 5, 300, Bug::none};
  const auto first = run(options);
  const auto second = run(options);
  CHECK(first.state_hash == second.state_hash);
  CHECK(first.events == second.events);
  CHECK(first.trace == second.trace);
  CHECK(run(RunOptions{78, 5, 300, Bug::none}).state_hash != first.state_hash);
}

TEST_CASE("a campaign finds a re-introduced bug within a bounded number of seeds") {
  for (const Bug bug : {Bug::skip_dedupe, Bug::causal_on_arrival}) {
    CampaignOptions options;
    options.seeds = 200;
    options.bug = bug;
    options.stop_at_first_failure = true;
    const auto result = campaign(options);
    INFO("bug ", bug_name(bug), " after ", result.runs, " seeds");
    REQUIRE_FALSE(result.failures.empty());
    CHECK(result.failures.front().invariant == "safety");
  }
}
