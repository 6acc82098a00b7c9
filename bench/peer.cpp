// bench_peer: the peer service between node processes on 127.0.0.1 —
// forward_message throughput, round trips (idle and beside a 64 KiB stream,
// with a plain TCP ping-pong baseline), cluster convergence and failure
// detection, and the idle cost of a node. The nodes are this binary run as
// `bench_peer node ...` (peer_node.hpp). Prints one JSON document on stdout
// (logs go to stderr) with each figure beside its target and an anchor
// measured elsewhere on this machine; exits non-zero when a part failed to
// run (not when a target is missed: a debug build is expected to miss them).
//
//   bench_peer [--only throughput,rtt,cluster,idle] [--seconds 2] [--nodes 16]
//              [--large-nodes 64] [--round-trips 20000] [--idle-seconds 10]
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "figures.hpp"
#include "peer_node.hpp"
#include "peer_sections.hpp"

namespace {

using nlohmann::json;
using namespace plexus::bench;

struct Figure {
  const char* name;
  double target;  // NaN: shown for comparison only
  bool at_most;   // the figure must be <= target (else >=)
  json anchor;    // the same figure measured elsewhere on this machine
};

constexpr double none = std::numeric_limits<double>::quiet_NaN();

const Figure figures[] = {
    {"throughput_encrypted_100B_msgs_per_s", 1'500'000, false, 299'000},
    {"throughput_encrypted_1KiB_msgs_per_s", 600'000, false, 128'000},
    {"throughput_encrypted_64KiB_GB_per_s", 1.5, false, 2.06},
    {"throughput_insecure_100B_msgs_per_s", none, false, nullptr},
    {"throughput_insecure_1KiB_msgs_per_s", none, false, nullptr},
    {"throughput_insecure_64KiB_GB_per_s", none, false, nullptr},
    {"rtt_idle_p50_us", none, true, 146},
    {"rtt_idle_p99_us", none, true, 241},
    {"rtt_plain_tcp_p50_us", none, true, nullptr},
    {"rtt_with_stream_p50_us", none, true, 1750},
    {"rtt_with_stream_p99_us", none, true, 6300},
    {"rtt_idle_p50_vs_plain_tcp", 1.2, true, nullptr},
    {"rtt_with_stream_p99_vs_idle", 2.0, true, 6300.0 / 241.0},
    {"rtt_idle_on_io_p50_us", none, true, 146},
    {"rtt_idle_on_io_p99_us", none, true, 241},
    {"rtt_with_stream_on_io_p99_us", none, true, 6300},
    {"rtt_idle_on_io_p50_vs_plain_tcp", 1.2, true, nullptr},
    {"rtt_with_stream_on_io_p99_vs_idle", 2.0, true, 6300.0 / 241.0},
    {"rtt_idle_on_worker_p50_us", none, true, 146},
    {"rtt_idle_on_worker_p99_us", none, true, 241},
    {"rtt_with_stream_on_worker_p99_us", none, true, 6300},
    {"rtt_idle_on_worker_p50_vs_plain_tcp", 1.2, true, nullptr},
    {"rtt_with_stream_on_worker_p99_vs_idle", 2.0, true, 6300.0 / 241.0},
    {"cluster_converge_s", 0.3, true, 0.43},
    {"kill9_seen_by_all_s", 0.2, true, 6.8},
    {"leave_seen_by_all_s", 0.1, true, 0.95},
    {"large_cluster_converge_s", 3.0, true, nullptr},
    {"idle_cpu_percent_max", 0.3, true, 0.3},
    {"idle_rss_mib_max", 10, true, 14},
};

const json anchors = {
    {"source", "measured elsewhere on this machine; fixed numbers"},
    {"erlang_distribution",
     {{"msgs_per_s_100B", 299'000}, {"msgs_per_s_1KiB", 128'000}, {"GB_per_s_64KiB", 2.06},
      {"rtt_idle_p50_us", 146}, {"rtt_idle_p99_us", 241},
      {"rtt_with_64KiB_stream_p50_us", 1750}, {"rtt_with_64KiB_stream_p99_us", 6300}}},
    {"serf",
     {{"converge_16_agents_s", 0.43}, {"kill9_seen_by_all_s", 6.8}, {"leave_seen_by_all_s", 0.95},
      {"idle_cpu_percent", 0.3}, {"idle_rss_mib", 14}}}};

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// A number at `path`; for a cluster event that did not happen within its
// limit, a string saying so (a missed target, not a missing figure).
json at(const json& doc, std::initializer_list<const char*> path) {
  const json* node = &doc;
  const json* parent = node;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return nullptr;
    parent = node;
    node = &(*node)[key];
  }
  if (parent->value("timed_out", false)) {
    return "not within " + parent->value("limit_s", json(0)).dump() + " s (" +
           parent->value("nodes_seen", json(0)).dump() + " of " + parent->value("nodes_expected", json(0)).dump() +
           " nodes)";
  }
  return node->is_number() ? *node : json(nullptr);
}

// The headline figures, read out of the parts' results (null when not run).
json headline(const json& results) {
  json out = json::object();
  if (results.contains("throughput")) {
    for (const auto& cell : results["throughput"]["cells"]) {
      if (cell.contains("error") || !cell.contains("payload_bytes")) continue;
      const std::string prefix = "throughput_" + cell.value("mode", "") + "_";
      const auto bytes = cell["payload_bytes"].get<std::size_t>();
      if (bytes == 100) out[prefix + "100B_msgs_per_s"] = cell["messages_per_s"];
      if (bytes == 1024) out[prefix + "1KiB_msgs_per_s"] = cell["messages_per_s"];
      if (bytes == 65536) out[prefix + "64KiB_GB_per_s"] = cell["gb_per_s"];
    }
  }
  out["rtt_idle_p50_us"] = at(results, {"rtt", "plexus_idle", "p50_us"});
  out["rtt_idle_p99_us"] = at(results, {"rtt", "plexus_idle", "p99_us"});
  out["rtt_plain_tcp_p50_us"] = at(results, {"rtt", "plain_tcp", "p50_us"});
  out["rtt_with_stream_p50_us"] = at(results, {"rtt", "plexus_with_stream", "p50_us"});
  out["rtt_with_stream_p99_us"] = at(results, {"rtt", "plexus_with_stream", "p99_us"});
  // Ratios: the median over rounds of each round's own ratio (run_round_trip).
  out["rtt_idle_p50_vs_plain_tcp"] = at(results, {"rtt", "ratios", "idle_p50_vs_plain_tcp"});
  out["rtt_with_stream_p99_vs_idle"] = at(results, {"rtt", "ratios", "with_stream_p99_vs_idle"});
  // The same with echo and pong placed on the service executor and on the worker pool (ServerOptions).
  for (const std::string place : {"on_io", "on_worker"}) {
    const std::string idle = "plexus_idle_" + place, stream = "plexus_with_stream_" + place;
    const std::string idle_ratio = "idle_" + place + "_p50_vs_plain_tcp";
    const std::string stream_ratio = "with_stream_" + place + "_p99_vs_idle";
    out["rtt_idle_" + place + "_p50_us"] = at(results, {"rtt", idle.c_str(), "p50_us"});
    out["rtt_idle_" + place + "_p99_us"] = at(results, {"rtt", idle.c_str(), "p99_us"});
    out["rtt_with_stream_" + place + "_p99_us"] = at(results, {"rtt", stream.c_str(), "p99_us"});
    out["rtt_" + idle_ratio] = at(results, {"rtt", "ratios", idle_ratio.c_str()});
    out["rtt_" + stream_ratio] = at(results, {"rtt", "ratios", stream_ratio.c_str()});
  }
  out["cluster_converge_s"] = at(results, {"cluster", "converge", "seconds"});
  out["kill9_seen_by_all_s"] = at(results, {"cluster", "kill9", "seconds"});
  out["leave_seen_by_all_s"] = at(results, {"cluster", "leave", "seconds"});
  out["large_cluster_converge_s"] = at(results, {"cluster", "large_converge", "seconds"});
  out["idle_cpu_percent_max"] = at(results, {"cluster", "idle", "cpu_percent_max"});
  out["idle_rss_mib_max"] = at(results, {"cluster", "idle", "rss_mib_max"});
  return out;
}

void parse(int argc, char** argv, PeerFlags& flags, std::set<std::string>& only) {
  CLI::App app{"Plexus peer service benchmark (JSON on stdout)"};
  std::vector<std::string> parts{"throughput", "rtt", "cluster", "idle"};
  app.add_option("--only", parts, "Parts to run")->delimiter(',')
      ->check(CLI::IsMember({"throughput", "rtt", "cluster", "idle"}));
  app.add_option("--seconds", flags.seconds, "Measured seconds per throughput cell")->check(CLI::Range(0.05, 600.0));
  app.add_option("--warmup", flags.warmup_s, "Seconds before each measured window")->check(CLI::Range(0.0, 60.0));
  app.add_option("--modes", flags.modes, "encrypted and/or insecure")->delimiter(',')
      ->check(CLI::IsMember({"encrypted", "insecure"}));
  app.add_option("--sizes", flags.sizes, "Throughput payload sizes in bytes")->delimiter(',')
      ->check(CLI::Range(std::size_t{8}, std::size_t{8} << 20));
  app.add_option("--rtt-rounds", flags.rtt_rounds, "Interleaved round-trip rounds (medians over them)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100}));
  app.add_option("--round-trips", flags.round_trips, "Round trips per cell per round")->check(CLI::Range(std::size_t{10}, std::size_t{10'000'000}));
  app.add_option("--nodes", flags.nodes, "Nodes of the cluster part")->check(CLI::Range(std::size_t{2}, std::size_t{100}));
  app.add_option("--large-nodes", flags.large_nodes, "Nodes of the larger convergence (0: skip)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{100}));
  app.add_option("--idle-seconds", flags.idle_seconds)->check(CLI::Range(0.1, 600.0));
  app.add_option("--settle-seconds", flags.settle_seconds)->check(CLI::Range(0.0, 60.0));
  app.add_flag("--pin", flags.pin, "Throughput: pin the sender node to core 0, the receiver to core 1");
  app.add_option("--node-arg", flags.node_args,
                 "Experiments only: pass to every node, e.g. --node-arg=--tick-ms=50 (see `bench_peer node --help`)")
      ->allow_extra_args(false);
  app.add_option("--node-log-level", flags.node_log_level)->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  only.insert(parts.begin(), parts.end());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "node") == 0) return run_node(argc - 1, argv + 1);
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  PeerFlags flags;
  std::set<std::string> only;
  parse(argc, argv, flags, only);

  json results = json::object();
  if (only.count("throughput")) results["throughput"] = run_throughput(flags);
  if (only.count("rtt")) results["rtt"] = run_round_trip(flags);
  if (only.count("cluster") || only.count("idle")) {
    results["cluster"] = run_cluster(flags, only.count("cluster") > 0, only.count("idle") > 0);
  }
  const json values = headline(results);
  json summary = json::object(), targets = json::object(), met = json::object();
  for (const auto& f : figures) {
    const json value = values.value(f.name, json(nullptr));
    summary[f.name] = {{"value", value}, {"anchor", f.anchor}};
    if (std::isnan(f.target)) continue;
    targets[f.name] = f.target;
    met[f.name] = value.is_number()   ? json(f.at_most ? value.get<double>() <= f.target : value.get<double>() >= f.target)
                  : value.is_string() ? json(false)
                                      : json(nullptr);
    summary[f.name]["target"] = (f.at_most ? "<= " : ">= ") + json(f.target).dump();
    summary[f.name]["met"] = met[f.name];
  }
  const json document = {
      {"benchmark", "peer"},
      {"machine", {{"cores", std::thread::hardware_concurrency()}, {"cpu", cpu_model()}}},
      {"settings", {{"seconds", flags.seconds}, {"warmup_s", flags.warmup_s}, {"round_trips", flags.round_trips},
                    {"nodes", flags.nodes}, {"large_nodes", flags.large_nodes}, {"idle_seconds", flags.idle_seconds},
                    {"pinned", flags.pin}, {"parts", only}, {"node_args", flags.node_args}}},
      {"notes", "node processes on 127.0.0.1, default peer::Config (heartbeat 500 ms, peer_timeout 2 s);"
                " times across processes use CLOCK_MONOTONIC; throughput counts what the receiver's"
                " server handler got; round trips run from forward_message to the reply's handler"
                " (rtt_*: handlers placed by default, ServerOptions::Placement::adaptive; rtt_*_on_io:"
                " Placement::service_executor; rtt_*_on_worker: Placement::worker);"
                " idle CPU from /proc/PID/stat utime+stime (tick resolution; schedstat figures in ns)"},
      {"results", results},
      {"summary", summary},
      {"anchors", anchors},
      {"targets", targets},
      {"met", met}};
  std::cout << document.dump(2) << std::endl;
  return has_error(results) ? 1 : 0;
}
