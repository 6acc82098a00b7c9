// bench_peer's cluster part: N node processes all join node 0 at once; the
// time until every node sees N members up on every channel; the idle cost
// of a converged node; the time until all others see a kill -9'd node down
// and a node that left gone; and the convergence of a larger cluster.
// Default Config values throughout (heartbeat 500 ms, peer_timeout 2 s).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "figures.hpp"
#include "cpu_usage.hpp"
#include "peer_fleet.hpp"
#include "peer_protocol.hpp"
#include "peer_sections.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;

constexpr double arm_limit_s = 10;
constexpr double event_limit_s = 30;

double seconds_between(std::int64_t from_ns, std::int64_t to_ns) { return double(to_ns - from_ns) * 1e-9; }

std::vector<NodeOptions> cluster_nodes(std::size_t count) {
  std::vector<NodeOptions> nodes;
  for (std::size_t i = 0; i < count; ++i) {
    char name[24];
    std::snprintf(name, sizeof name, "n%02zu", i);
    nodes.push_back({name, false, {}, -1});
  }
  return nodes;
}

// Arm `await ID CONDITION` on `nodes` and wait until each acknowledged it.
void arm(Fleet& fleet, const std::vector<std::size_t>& nodes, const std::string& id, const std::string& condition) {
  for (auto i : nodes) fleet.send(i, "await " + id + " " + condition);
  std::size_t armed = 0;
  const bool ok = fleet.wait(arm_limit_s, [&](std::size_t, const json& e) {
    if (e.value("event", "") == "error") throw std::runtime_error("await: " + e.dump());
    if (e.value("event", "") != "armed" || e.value("id", "") != id) return Take::skip;
    return ++armed == nodes.size() ? Take::done : Take::take;
  });
  if (!ok) throw std::runtime_error("await " + id + ": " + std::to_string(armed) + " of " +
                                    std::to_string(nodes.size()) + " nodes armed");
}

// Wait for the await `id` on every one of `nodes`: seconds from `from_ns` until the last.
json collect(Fleet& fleet, std::size_t nodes, const std::string& id, std::int64_t from_ns) {
  std::vector<double> seconds;
  std::size_t via_poll = 0;
  json missed = json::array();  // up states whose events were still queued when a poll saw them
  fleet.wait(event_limit_s, [&](std::size_t from, const json& e) {
    if (e.value("event", "") != "await" || e.value("id", "") != id) return Take::skip;
    seconds.push_back(seconds_between(from_ns, e["t_ns"].get<std::int64_t>()));
    via_poll += e.value("via", "") == "poll" ? 1 : 0;
    if (!e.value("events_pending", json::array()).empty() && missed.size() < 4) {
      missed.push_back({{"node", fleet.name(from)}, {"missed", e["events_pending"]}});
    }
    return seconds.size() == nodes ? Take::done : Take::take;
  });
  json out = {{"nodes_seen", seconds.size()}, {"nodes_expected", nodes}, {"via_poll", via_poll}};
  if (!missed.empty()) out["events_pending"] = missed;
  if (seconds.size() != nodes) {  // a result (the target is missed), not a failure of the harness
    out["timed_out"] = true;
    out["limit_s"] = event_limit_s;
    out["seconds"] = nullptr;
    return out;
  }
  std::sort(seconds.begin(), seconds.end());
  out["seconds"] = round_to(seconds.back(), 4);
  out["first_node_s"] = round_to(seconds.front(), 4);
  out["median_node_s"] = round_to(seconds[nearest_rank(seconds.size(), 0.5)], 4);
  return out;
}

std::vector<std::size_t> all_but(std::size_t count, std::vector<std::size_t> excluded) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < count; ++i) {
    if (std::find(excluded.begin(), excluded.end(), i) == excluded.end()) out.push_back(i);
  }
  return out;
}

double nodes_cpu_s(Fleet& fleet) {
  double total = 0;
  for (std::size_t i = 0; i < fleet.size(); ++i) total += sample_process(fleet.pid(i)).scheduled_s;
  return total;
}

// Every node but 0 joins node 0 by spec, all at once. Also the CPU time all
// nodes took meanwhile: near cores x seconds means convergence was CPU-bound.
json converge(Fleet& fleet) {
  const std::size_t n = fleet.size();
  arm(fleet, all_but(n, {}), "converged", "converged " + std::to_string(n));
  const double cpu_before = nodes_cpu_s(fleet);
  const auto joins_ns = monotonic_ns();
  for (std::size_t i = 1; i < n; ++i) fleet.send(i, "join " + fleet.spec(0));
  json out = collect(fleet, n, "converged", joins_ns);
  out["nodes"] = n;
  out["nodes_cpu_s"] = round_to(nodes_cpu_s(fleet) - cpu_before, 2);
  out["wall_s"] = round_to(seconds_between(joins_ns, monotonic_ns()), 3);
  return out;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[nearest_rank(values.size(), 0.5)];
}

json measure_idle(Fleet& fleet, const PeerFlags& flags) {
  pause_for(flags.settle_seconds);
  std::vector<ProcessSample> before, after;
  const double busy_before = machine_busy_seconds();
  const auto start_ns = monotonic_ns();
  for (std::size_t i = 0; i < fleet.size(); ++i) before.push_back(sample_process(fleet.pid(i)));
  pause_for(flags.idle_seconds);
  for (std::size_t i = 0; i < fleet.size(); ++i) after.push_back(sample_process(fleet.pid(i)));
  const double window = seconds_between(start_ns, monotonic_ns());
  const double busy = machine_busy_seconds() - busy_before;
  std::vector<double> cpu, scheduled, rss, rss_anon, pss;
  double ours = 0;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    if (!before[i].ok || !after[i].ok) throw std::runtime_error(fleet.name(i) + ": /proc unreadable");
    cpu.push_back((after[i].cpu_s - before[i].cpu_s) / window * 100);
    scheduled.push_back((after[i].scheduled_s - before[i].scheduled_s) / window * 100);
    rss.push_back(after[i].rss_mib);
    rss_anon.push_back(after[i].rss_anon_mib);
    pss.push_back(after[i].pss_mib);
    ours += after[i].scheduled_s - before[i].scheduled_s;
  }
  return {{"nodes", fleet.size()},
          {"seconds", round_to(window, 2)},
          {"cpu_percent_median", round_to(median(cpu), 3)},
          {"cpu_percent_max", round_to(*std::max_element(cpu.begin(), cpu.end()), 3)},
          {"cpu_percent_schedstat_median", round_to(median(scheduled), 3)},
          {"cpu_percent_schedstat_max", round_to(*std::max_element(scheduled.begin(), scheduled.end()), 3)},
          {"rss_mib_median", round_to(median(rss), 2)},
          {"rss_mib_max", round_to(*std::max_element(rss.begin(), rss.end()), 2)},
          {"rss_anon_mib_median", round_to(median(rss_anon), 2)},
          {"rss_anon_mib_max", round_to(*std::max_element(rss_anon.begin(), rss_anon.end()), 2)},
          {"pss_mib_median", round_to(median(pss), 2)},
          {"other_cpu_s", round_to(std::max(0.0, busy - ours), 2)}};
}

json kill_one(Fleet& fleet) {
  const std::size_t victim = fleet.size() - 1;
  const auto watchers = all_but(fleet.size(), {victim});
  arm(fleet, watchers, "down", "down " + fleet.name(victim));
  const auto kill_ns = monotonic_ns();
  fleet.kill(victim);
  json out = collect(fleet, watchers.size(), "down", kill_ns);
  out["node"] = fleet.name(victim);
  return out;
}

json leave_one(Fleet& fleet) {
  const std::size_t leaver = fleet.size() - 2;  // the last one was killed
  const auto watchers = all_but(fleet.size(), {leaver, fleet.size() - 1});
  arm(fleet, watchers, "gone", "gone " + fleet.name(leaver));
  const auto left = fleet.request(leaver, "leave", "leave");
  json out = collect(fleet, watchers.size(), "gone", left["t_ns"].get<std::int64_t>());
  out["node"] = fleet.name(leaver);
  return out;
}

}  // namespace

json run_cluster(const PeerFlags& flags, bool cluster, bool idle) {
  json out = json::object();
  try {
    Fleet fleet(flags.node_log_level, flags.node_args);
    fleet.start(cluster_nodes(flags.nodes), event_limit_s + double(flags.nodes));
    out["converge"] = converge(fleet);
    spdlog::info("{} nodes converged: {}", flags.nodes, out["converge"].dump());
    if (idle) {
      out["idle"] = measure_idle(fleet, flags);
      spdlog::info("idle: {}", out["idle"].dump());
    }
    if (cluster && flags.nodes >= 3) {
      out["kill9"] = kill_one(fleet);
      spdlog::info("kill -9: {}", out["kill9"].dump());
      out["leave"] = leave_one(fleet);
      spdlog::info("leave: {}", out["leave"].dump());
    }
  } catch (const std::exception& e) {
    spdlog::error("cluster of {}: {}", flags.nodes, e.what());
    out["error"] = e.what();
  }
  if (cluster && flags.large_nodes > 0) {
    try {
      Fleet fleet(flags.node_log_level, flags.node_args);
      fleet.start(cluster_nodes(flags.large_nodes), event_limit_s + double(flags.large_nodes));
      out["large_converge"] = converge(fleet);
      spdlog::info("{} nodes converged: {}", flags.large_nodes, out["large_converge"].dump());
    } catch (const std::exception& e) {
      spdlog::error("cluster of {}: {}", flags.large_nodes, e.what());
      out["large_converge"] = {{"nodes", flags.large_nodes}, {"error", e.what()}};
    }
  }
  return out;
}

}  // namespace plexus::bench
