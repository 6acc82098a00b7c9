// plexus-harness: point it at a scenario, get a verdict on how a cluster of
// real plexusd processes behaved under faults (docs/harness.md).
//   plexus-harness run SCENARIO.json [--nodes N] [--seed S] [--duration-s T] [--out DIR]
//   plexus-harness list [--scenarios DIR]
// Exit codes: 0 valid, 1 invalid (a safety checker failed), 2 unknown or a
// harness error, 3 liveness failure (no convergence within the bound).
#include <CLI/CLI.hpp>
#include <signal.h>

#include <ctime>
#include <filesystem>
#include <iostream>
#include <random>

#include "tools/harness/checkers.hpp"
#include "tools/harness/netfilter.hpp"
#include "harness_version.hpp"  // generated (vcs_tag)
#include "tools/harness/report.hpp"
#include "tools/harness/runner.hpp"
#include "tools/harness/schedule.hpp"

namespace fs = std::filesystem;
using namespace plexus::harness;
using nlohmann::json;

namespace {

constexpr int exit_harness_error = 2;

fs::path self_dir() { return fs::read_symlink("/proc/self/exe").parent_path(); }
fs::path default_plexusd() { return self_dir().parent_path() / "node" / "plexusd"; }
fs::path default_scenarios() {
  // The build tree sits in the source tree (build/X/tools): the library is test/scenarios there.
  for (fs::path p = self_dir(); p.has_parent_path() && p != p.parent_path(); p = p.parent_path()) {
    if (fs::is_directory(p / "test" / "scenarios")) return p / "test" / "scenarios";
  }
  return "test/scenarios";
}

void on_signal(int) { interrupted = true; }

void install_signals() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

std::string shell_quote(const std::string& s) {
  if (s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./=:@") == std::string::npos) return s;
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct RunArgs {
  std::string scenario;
  int nodes = 0;
  std::optional<std::uint64_t> seed;
  double duration_s = 0;
  std::string out;
  std::string plexusd = default_plexusd().string();
};

int cmd_run(const RunArgs& args) {
  auto scenario = load_scenario(args.scenario);
  if (!scenario) {
    std::cerr << "plexus-harness: " << scenario.error().detail << "\n";
    return exit_harness_error;
  }
  RunOptions options;
  options.scenario = *scenario;
  if (args.nodes > 0) options.scenario.nodes = args.nodes;
  if (args.duration_s > 0) options.scenario.duration_s = args.duration_s;
  if (auto addresses = node_addresses(options.scenario, options.scenario.nodes); !addresses) {
    std::cerr << "plexus-harness: " << args.scenario << ": " << addresses.error().detail << "\n";
    return exit_harness_error;
  }
  if (const auto field = first_net_fault(options.scenario)) {
    // Refused, never run as api instead: a net scenario tests what api mode cannot.
    if (const auto why = net_unavailable()) {
      std::cerr << "plexus-harness: " << args.scenario << ": " << *field << ": \"net\" is not available here: " << *why
                << " (run as root with Debian's nftables installed, or use \"api\")\n";
      return exit_harness_error;
    }
  }
  options.seed = args.seed ? *args.seed : scenario->seed ? *scenario->seed : std::random_device{}();
  options.out = args.out.empty() ? fs::path("/tmp") / ("plexus-harness-" + scenario->name + "-" + std::to_string(options.seed))
                                 : fs::path(args.out);
  options.plexusd = args.plexusd;
  std::error_code ec;
  fs::create_directories(options.out, ec);
  if (ec) {
    std::cerr << "plexus-harness: --out " << options.out.string() << ": " << ec.message() << "\n";
    return exit_harness_error;
  }
  if (!fs::exists(options.plexusd)) {
    std::cerr << "plexus-harness: --plexusd " << options.plexusd.string() << ": no such file\n";
    return exit_harness_error;
  }
  const std::string replay = shell_quote(fs::absolute(fs::read_symlink("/proc/self/exe")).string()) + " run " +
                             shell_quote(fs::absolute(args.scenario).string()) + " --nodes " +
                             std::to_string(options.scenario.nodes) + " --seed " + std::to_string(options.seed) +
                             " --duration-s " + json(options.scenario.duration_s).dump() + " --out " +
                             shell_quote(options.out.string() + "-replay");
  std::cout << "plexus-harness: " << scenario->name << ", " << options.scenario.nodes << " nodes, seed " << options.seed
            << ", " << options.scenario.duration_s << " s; output in " << options.out.string() << std::endl;

  History history((options.out / "history.jsonl").string());
  const std::string started_at = now_utc();
  json parameters = to_json(options.scenario);
  json plan = json::array();
  for (const auto& step : plan_nemesis(options.scenario, options.scenario.nodes, options.seed)) plan.push_back(to_json(step));
  history.record({{"type", "run"}, {"scenario", scenario->name}, {"seed", options.seed}, {"nodes", options.scenario.nodes}});
  Runner runner(options, history);
  const RunResult result = runner.run();

  const RunData& data = history.data();
  Verdict verdict = check_all(data);
  if (result.harness_error) {
    verdict.exit_code = exit_harness_error;
    verdict.summary = "HARNESS ERROR: " + result.error;
  }
  json report{{"tool", "plexus-harness"}, {"commit", plexus_harness_commit}, {"scenario_file", fs::absolute(args.scenario).string()},
              {"scenario_name", scenario->name}, {"seed", options.seed}, {"started_at", started_at}, {"finished_at", now_utc()},
              {"parameters", parameters}, {"plexusd", options.plexusd.string()}, {"out", options.out.string()},
              {"nemesis_plan", plan}, {"verdict", verdict.summary}, {"exit_code", verdict.exit_code},
              {"checkers", verdict.checkers}, {"replay", replay}, {"history_events", history.events()},
              {"logs", options.out.string() + "/logs"}};
  write_file(options.out / "report.json", report.dump(2) + "\n");
  write_file(options.out / "report.html", render_html(report, timeline_json(data)));

  for (auto it = verdict.checkers.begin(); it != verdict.checkers.end(); ++it) {
    const auto& c = *it;
    std::cout << "  " << it.key() << ": " << (c["valid"] == true ? "valid" : c["valid"] == false ? "INVALID" : "unknown");
    if (c.contains("failure")) std::cout << " (" << c["failure"].get<std::string>() << ")";
    std::cout << "  " << c["figures"].dump() << "\n";
  }
  std::cout << verdict.summary << "\nreport: " << (options.out / "report.html").string() << "\n";
  if (verdict.exit_code != 0) std::cout << "replay: " << replay << std::endl;
  return verdict.exit_code;
}

int cmd_list(const std::string& dir) {
  std::cout << "Scenarios in " << dir << ":\n";
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto s = load_scenario(f.string());
    if (s) {
      std::cout << "  " << f.filename().string() << "  " << s->nodes << " nodes, " << s->duration_s << " s: " << s->description << "\n";
    } else {
      std::cout << "  " << f.filename().string() << "  INVALID: " << s.error().detail << "\n";
    }
  }
  auto line = [](const char* what, const std::vector<std::string>& names) {
    std::cout << what;
    for (const auto& n : names) std::cout << " " << n;
    std::cout << "\n";
  };
  line("Nemeses (nemesis.faults[].type):", fault_names());
  line("Partition shapes (shape):", shape_names());
  const auto net_why = net_unavailable();
  std::cout << "Fault modes (nemesis.faults[].mode, flavour drop|reject for net): api net"
            << (net_why ? " (net NOT available here: " + *net_why + ")" : std::string(" (net available: nftables works)")) << "\n";
  line("Workloads (workloads[].type):", workload_names());
  return files.empty() ? exit_harness_error : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"plexus-harness: run a scenario (workloads + faults) against real plexusd processes on loopback (127.0.0.x) "
               "and check how the cluster behaved.\nExit codes: 0 valid, 1 invalid (a safety checker failed), "
               "2 unknown or harness error, 3 liveness failure (no convergence within the bound after the heal).\n"
               "Docs: docs/harness.md"};
  app.require_subcommand(1);
  app.footer("\nScenario (JSON): nodes, duration_s, liveness_bound_s, seed, node_settings, workloads (acked, causal, unacked,\n"
             "churn, presence; each at rate_per_s), nemesis {start_s, interval_s, fault_duration_s, faults: partition (shape: halves,\n"
             "random-halves, one, minority-third, bridge, majorities-ring, asymmetric), kill, pause, flap, swizzle;\n"
             "partition/flap/swizzle take mode api|net and, for net, flavour drop|reject}, first_address (127/8).\n"
             "Output in --out: report.json, report.html (open it in a browser), history.jsonl, logs/NODE.log.\n"
             "The same seed gives the same fault schedule and workload; on failure the last line is the replay command.");
  app.get_formatter()->column_width(36);
  RunArgs run_args;
  auto* run = app.add_subcommand("run", "run SCENARIO.json; writes report.json, report.html, history.jsonl and logs/ to --out");
  run->add_option("scenario", run_args.scenario, "scenario file (JSON; see docs/harness.md)")->required()->check(CLI::ExistingFile);
  run->add_option("--nodes", run_args.nodes, "number of plexusd processes (default: the scenario's)")->check(CLI::Range(1, 32));
  run->add_option("--seed", run_args.seed, "seed of the fault schedule and workload (default: the scenario's, else random)");
  run->add_option("--duration-s", run_args.duration_s, "seconds of workload and faults before the heal (default: the scenario's)")
      ->check(CLI::Range(0.5, 86400.0));
  run->add_option("--out", run_args.out, "output directory (default: /tmp/plexus-harness-NAME-SEED)");
  run->add_option("--plexusd", run_args.plexusd, "the plexusd binary")->capture_default_str();
  std::string scenarios = default_scenarios().string();
  auto* list = app.add_subcommand("list", "show the scenario library, the nemeses and the partition shapes");
  list->add_option("--scenarios", scenarios, "scenario directory")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_harness_error;
  }
  install_signals();
  if (*list) return cmd_list(scenarios);
  try {
    return cmd_run(run_args);
  } catch (const std::exception& e) {
    // A bug; unwinding has stopped every node the run started (Cluster's destructor).
    std::cerr << "plexus-harness: internal error: " << e.what() << "\n";
    return exit_harness_error;
  }
}
