// plexus-sim: run the deterministic cluster simulation (lib/plexus/sim).
//   plexus-sim run --seed S [--nodes N] [--steps K] [--bug B] [--trace]
//   plexus-sim campaign --seeds N [--first S] [--jobs J] [--nodes N] [--steps K] [--bug B]
// Exit 0 when every run kept every invariant, 1 when one failed, 2 on bad usage.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "plexus/sim/sim.hpp"

namespace {

using plexus::sim::Bug;

void print_failure(const plexus::sim::RunResult& result, const plexus::sim::RunOptions& options) {
  std::cout << "seed " << result.seed << " FAILED: " << result.invariant << ": " << result.detail << "\n"
            << "  swarm: " << result.swarm << "\n  last events:\n";
  for (const auto& line : result.trace) std::cout << "    " << line << "\n";
  std::cout << "  replay: " << plexus::sim::replay_command(options) << "\n";
}

void print_faults(const std::map<std::string, std::uint64_t>& fired) {
  std::cout << "fault points fired:";
  if (fired.empty()) std::cout << " none";
  for (const auto& [name, count] : fired) std::cout << " " << name << "=" << count;
  std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Plexus deterministic cluster simulation"};
  app.require_subcommand(1);
  std::string bug_text = "none";
  plexus::sim::RunOptions run_options;
  bool print_trace = false;
  auto* run_cmd = app.add_subcommand("run", "Run one seed and check every invariant");
  run_cmd->add_option("--seed", run_options.seed, "Seed")->required();
  run_cmd->add_option("--nodes", run_options.nodes, "Nodes")->check(CLI::Range(2, 64));
  run_cmd->add_option("--steps", run_options.steps, "Workload and nemesis steps");
  run_cmd->add_option("--bug", bug_text, "Re-introduce a bug: none, skip_dedupe, causal_on_arrival, causal_ack_on_buffer, retire_on_flip, forget_retired_order");
  run_cmd->add_flag("--trace", print_trace, "Print the last events even when the run passes");

  plexus::sim::CampaignOptions campaign_options;
  auto* campaign_cmd = app.add_subcommand("campaign", "Run many seeds, report the failing ones");
  campaign_cmd->add_option("--seeds", campaign_options.seeds, "How many seeds")->required();
  campaign_cmd->add_option("--first", campaign_options.first_seed, "First seed");
  campaign_cmd->add_option("--jobs", campaign_options.jobs, "Threads, each running whole seeds")
      ->check(CLI::Range(1, 256));
  campaign_cmd->add_option("--nodes", campaign_options.nodes, "Nodes")->check(CLI::Range(2, 64));
  campaign_cmd->add_option("--steps", campaign_options.steps, "Workload and nemesis steps");
  campaign_cmd->add_option("--bug", bug_text, "Re-introduce a bug: none, skip_dedupe, causal_on_arrival, causal_ack_on_buffer, retire_on_flip, forget_retired_order");
  campaign_cmd->add_flag("--stop-at-first-failure", campaign_options.stop_at_first_failure, "Stop at a failure");
  CLI11_PARSE(app, argc, argv);

  const auto bug = plexus::sim::parse_bug(bug_text);
  if (!bug) {
    std::cerr << "plexus-sim: unknown --bug " << bug_text << "\n";
    return 2;
  }
  if (run_cmd->parsed()) {
    run_options.bug = *bug;
    const auto result = plexus::sim::run(run_options);
    if (!result.ok) {
      print_failure(result, run_options);
      return 1;
    }
    std::cout << "seed " << result.seed << " ok: " << result.events << " events, " << result.messages_sent
              << " messages, " << result.simulated_seconds << " s simulated, state hash " << std::hex
              << result.state_hash << std::dec << "\n  swarm: " << result.swarm << "\n";
    print_faults(result.faults_fired);
    if (print_trace) for (const auto& line : result.trace) std::cout << "    " << line << "\n";
    return 0;
  }
  campaign_options.bug = *bug;
  const auto started = std::chrono::steady_clock::now();
  const auto result = plexus::sim::campaign(campaign_options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (const auto& failure : result.failures) {
    print_failure(failure, {failure.seed, campaign_options.nodes, campaign_options.steps, *bug});
  }
  std::printf("%zu seeds, %zu failed, %llu events in %.1f s (%.0f seeds/min, %zu jobs)\n", result.runs,
              result.failures.size(), static_cast<unsigned long long>(result.events), seconds,
              seconds > 0 ? result.runs * 60.0 / seconds : 0.0, campaign_options.jobs);
  print_faults(result.faults_fired);
  return result.failures.empty() ? 0 : 1;
}
