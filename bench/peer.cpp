// bench_peer: the peer service between node processes on 127.0.0.1 —
// forward_message throughput, round trips (idle and beside a 64 KiB stream,
// with a plain TCP ping-pong baseline), cluster convergence and failure
// detection, and the idle cost of a node. The nodes are this binary run as
// `bench_peer node ...` (peer_node.hpp). Prints one JSON document on stdout
// (logs go to stderr) with each figure beside its target and an anchor:
// Erlang distribution streaming 64 KiB binaries, measured in the same run
// when erl is installed (bench/anchors), or Serf's figures measured elsewhere
// on this machine; exits non-zero when a part failed to run (not when a
// target is missed: a debug build is expected to miss them).
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

#include "erlang_anchor.hpp"
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

// Anchors: the Erlang figure is measured in the run (run_erlang_anchor, when
// erl is installed; "erlang_64KiB" below is filled from it); the rest were
// measured elsewhere on this machine, or are absent (null).
const Figure figures[] = {
    {"throughput_encrypted_100B_msgs_per_s", 1'500'000, false, nullptr},
    {"throughput_encrypted_1KiB_msgs_per_s", 600'000, false, nullptr},
    {"throughput_encrypted_64KiB_GB_per_s", 1.5, false, "erlang_64KiB"},
    {"throughput_insecure_100B_msgs_per_s", none, false, nullptr},
    {"throughput_insecure_1KiB_msgs_per_s", none, false, nullptr},
    {"throughput_insecure_64KiB_GB_per_s", none, false, "erlang_64KiB"},
    // Ratios in this run: against Erlang distribution (unencrypted) and
    // against the insecure path of the same size.
    {"throughput_encrypted_64KiB_vs_erlang", 1.0, false, nullptr},
    {"throughput_insecure_64KiB_vs_erlang", none, false, nullptr},
    {"throughput_encrypted_64KiB_vs_insecure", 0.8, false, nullptr},
    {"throughput_encrypted_1KiB_vs_insecure", 0.8, false, nullptr},
    {"rtt_idle_p50_us", none, true, nullptr},
    {"rtt_idle_p99_us", none, true, nullptr},
    {"rtt_plain_tcp_p50_us", none, true, nullptr},
    {"rtt_with_stream_p50_us", none, true, nullptr},
    {"rtt_with_stream_p99_us", none, true, nullptr},
    {"rtt_idle_p50_vs_plain_tcp", 1.2, true, nullptr},
    {"rtt_with_stream_p99_vs_idle", 2.0, true, nullptr},
    {"rtt_idle_on_io_p50_us", none, true, nullptr},
    {"rtt_idle_on_io_p99_us", none, true, nullptr},
    {"rtt_with_stream_on_io_p99_us", none, true, nullptr},
    {"rtt_idle_on_io_p50_vs_plain_tcp", 1.2, true, nullptr},
    {"rtt_with_stream_on_io_p99_vs_idle", 2.0, true, nullptr},
    {"rtt_idle_on_worker_p50_us", none, true, nullptr},
    {"rtt_idle_on_worker_p99_us", none, true, nullptr},
    {"rtt_with_stream_on_worker_p99_us", none, true, nullptr},
    {"rtt_idle_on_worker_p50_vs_plain_tcp", 1.2, true, nullptr},
    {"rtt_with_stream_on_worker_p99_vs_idle", 2.0, true, nullptr},
    {"cluster_converge_s", 0.3, true, 0.43},
    {"kill9_seen_by_all_s", 0.2, true, 6.8},
    {"leave_seen_by_all_s", 0.1, true, 0.95},
    {"large_cluster_converge_s", 3.0, true, nullptr},
    {"idle_cpu_percent_max", 0.3, true, 0.3},
    {"idle_rss_mib_max", 10, true, 14},
};

const json serf_anchor = {
    {"source", "measured elsewhere on this machine; fixed numbers"},
    {"converge_16_agents_s", 0.43}, {"kill9_seen_by_all_s", 6.8}, {"leave_seen_by_all_s", 0.95},
    {"idle_cpu_percent", 0.3}, {"idle_rss_mib", 14}};

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
    for (const char* size : {"1KiB_msgs_per_s", "64KiB_GB_per_s"}) {
      const std::string name = std::string("throughput_encrypted_") + size;
      const std::string base = std::string("throughput_insecure_") + size;
      if (out.contains(name) && out.contains(base)) {
        out[std::string("throughput_encrypted_") + (size[0] == '1' ? "1KiB" : "64KiB") + "_vs_insecure"] =
            ratio(out[name], out[base]);
      }
    }
  }
  const json erlang = results.contains("erlang_anchor") ? results["erlang_anchor"].value("GB_per_s", json(nullptr))
                                                        : json(nullptr);
  for (const char* mode : {"encrypted", "insecure"}) {
    const std::string name = std::string("throughput_") + mode + "_64KiB_GB_per_s";
    if (out.contains(name)) out[std::string("throughput_") + mode + "_64KiB_vs_erlang"] = ratio(out[name], erlang);
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
  app.add_option("--erlang-anchor", flags.erlang_anchor_messages,
                 "Throughput: 64 KiB binaries the Erlang anchor streams when erl is installed (0: skip)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10'000'000}));
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
  if (only.count("throughput")) {
    // Back to back with the throughput cells, on the same machine.
    if (flags.erlang_anchor_messages > 0) {
      results["erlang_anchor"] = run_erlang_anchor(erlang_anchor_script(), 65536, flags.erlang_anchor_messages);
    }
    results["throughput"] = run_throughput(flags);
  }
  if (only.count("rtt")) results["rtt"] = run_round_trip(flags);
  if (only.count("cluster") || only.count("idle")) {
    results["cluster"] = run_cluster(flags, only.count("cluster") > 0, only.count("idle") > 0);
  }
  const json values = headline(results);
  json summary = json::object(), targets = json::object(), met = json::object();
  for (const auto& f : figures) {
    const json value = values.value(f.name, json(nullptr));
    json anchor = f.anchor;
    if (anchor == "erlang_64KiB") {
      anchor = results.contains("erlang_anchor") ? results["erlang_anchor"].value("GB_per_s", json(nullptr)) : json(nullptr);
    }
    summary[f.name] = {{"value", value}, {"anchor", anchor}};
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
      {"anchors",
       {{"erlang_distribution",
         results.contains("erlang_anchor")
             ? results["erlang_anchor"]
             : json{{"absent", "not run (--erlang-anchor 0, or no throughput part)"}}},
        {"serf", serf_anchor}}},
      {"targets", targets},
      {"met", met}};
  std::cout << document.dump(2) << std::endl;
  return has_error(results) ? 1 : 0;
}
