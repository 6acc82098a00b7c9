// plexus::sim: deterministic simulation of a whole Plexus cluster in one
// process (FoundationDB / TigerBeetle VOPR style). N nodes, each running the
// peer core the shipped peer service runs (peer/core/core.hpp), talk over a
// simulated network with a virtual clock; one seed drives every decision, so a seed replays exactly.
// See docs/simulation.md for what is simulated and how to replay a seed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plexus/core/time.hpp"
#include "plexus/peer/core/core.hpp"

namespace plexus::sim {

using Time = plexus::Time;
/// The core's bug switches (peer::core::Bug): a campaign must find each.
using Bug = peer::core::Bug;

struct RunOptions {
  std::uint64_t seed = 1;
  std::size_t nodes = 5;
  /// Workload and nemesis steps before the liveness phase.
  std::size_t steps = 400;
  Bug bug = Bug::none;
};

struct RunResult {
  std::uint64_t seed = 0;
  bool ok = true;
  std::string invariant;  ///< the first invariant violated (empty when ok)
  std::string detail;
  std::vector<std::string> trace;  ///< the last events before the end or the violation
  std::uint64_t state_hash = 0;    ///< of the final state: equal for equal seeds
  std::string swarm;               ///< which faults this seed switched on, and how strong
  std::map<std::string, std::uint64_t> faults_fired;  ///< fault point name -> times fired
  std::uint64_t events = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_delivered = 0;
  std::uint64_t refusals = 0;  ///< acked messages to an unserved server reported failed (refused acks)
  double simulated_seconds = 0;
};

/// Run one seed to the end (or to the first violated invariant).
RunResult run(const RunOptions& options);

/// The command line that replays `options`.
std::string replay_command(const RunOptions& options);

/// "none", "skip_dedupe", "causal_on_arrival" and back.
std::string bug_name(Bug bug);
std::optional<Bug> parse_bug(const std::string& name);

struct CampaignOptions {
  std::uint64_t first_seed = 1;
  std::size_t seeds = 100;
  std::size_t jobs = 1;  ///< threads, each running whole seeds
  std::size_t nodes = 5;
  std::size_t steps = 400;
  Bug bug = Bug::none;
  bool stop_at_first_failure = false;
};

struct CampaignResult {
  std::size_t runs = 0;
  std::vector<RunResult> failures;  ///< sorted by seed
  std::map<std::string, std::uint64_t> faults_fired;  ///< summed over all runs
  std::uint64_t events = 0;
};

/// Run seeds first_seed .. first_seed + seeds - 1 on `jobs` threads.
/// `progress` (may be empty) is called after each run, from the worker thread, under a lock.
CampaignResult campaign(const CampaignOptions& options, const std::function<void(const RunResult&)>& progress = {});

}  // namespace plexus::sim
