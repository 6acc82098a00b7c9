// Campaigns: many seeds on a few threads, each running whole seeds; and the
// replay command line of a run.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "plexus/sim/sim.hpp"

namespace plexus::sim {

std::string bug_name(Bug bug) {
  switch (bug) {
    case Bug::none: return "none";
    case Bug::skip_dedupe: return "skip_dedupe";
    case Bug::causal_on_arrival: return "causal_on_arrival";
    case Bug::causal_ack_on_buffer: return "causal_ack_on_buffer";
    case Bug::retire_on_flip: return "retire_on_flip";
    case Bug::forget_retired_order: return "forget_retired_order";
  }
  return "none";
}

std::optional<Bug> parse_bug(const std::string& name) {
  for (const Bug bug : {Bug::none, Bug::skip_dedupe, Bug::causal_on_arrival, Bug::causal_ack_on_buffer, Bug::retire_on_flip,
                        Bug::forget_retired_order}) {
    if (bug_name(bug) == name) return bug;
  }
  return std::nullopt;
}

std::string replay_command(const RunOptions& options) {
  std::string out = "plexus-sim run --seed " + std::to_string(options.seed) + " --nodes " +
                    std::to_string(options.nodes) + " --steps " + std::to_string(options.steps);
  if (options.bug != Bug::none) out += " --bug " + bug_name(options.bug);
  return out;
}

CampaignResult campaign(const CampaignOptions& options, const std::function<void(const RunResult&)>& progress) {
  CampaignResult total;
  std::mutex lock;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  auto worker = [&] {
    for (std::size_t i = next++; i < options.seeds && !stop; i = next++) {
      RunOptions run_options{options.first_seed + i, options.nodes, options.steps, options.bug};
      RunResult result = run(run_options);
      std::lock_guard guard(lock);
      ++total.runs;
      total.events += result.events;
      for (const auto& [name, count] : result.faults_fired) total.faults_fired[name] += count;
      if (progress) progress(result);
      if (!result.ok) {
        if (options.stop_at_first_failure) stop = true;
        total.failures.push_back(std::move(result));
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t j = 1; j < std::max<std::size_t>(1, options.jobs); ++j) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  std::sort(total.failures.begin(), total.failures.end(),
            [](const RunResult& a, const RunResult& b) { return a.seed < b.seed; });
  return total;
}

}  // namespace plexus::sim
