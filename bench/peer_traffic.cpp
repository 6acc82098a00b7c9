// bench_peer's two-node parts: forward_message throughput (node "a" blasts
// node "b"'s sink server) and ping-pong round trips through "b"'s echo
// server, idle and beside a 64 KiB stream on another channel.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "figures.hpp"
#include "cpu_usage.hpp"
#include "peer_fleet.hpp"
#include "peer_protocol.hpp"
#include "peer_sections.hpp"
#include "plain_tcp.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;

constexpr std::size_t node_a = 0, node_b = 1;
constexpr double start_limit_s = 30;
constexpr double converge_limit_s = 10;
constexpr double drain_limit_s = 15;
constexpr std::uint64_t unlimited_messages = 1'000'000'000'000;
constexpr std::size_t ping_bytes = 64;
constexpr double ping_limit_s = 30;

// Two nodes, joined and up on every channel.
void start_pair(Fleet& fleet, bool insecure, const std::vector<std::string>& channels, bool pin) {
  fleet.start({{"a", insecure, channels, pin ? 0 : -1}, {"b", insecure, channels, pin ? 1 : -1}}, start_limit_s);
  for (std::size_t i : {node_a, node_b}) fleet.request(i, "await pair converged 2", "armed");
  fleet.request(node_a, "join " + fleet.spec(node_b), "join");
  std::size_t converged = 0;
  const bool ok = fleet.wait(converge_limit_s, [&](std::size_t, const json& e) {
    if (e.value("event", "") != "await" || e.value("id", "") != "pair") return Take::skip;
    return ++converged == 2 ? Take::done : Take::take;
  });
  if (!ok) throw std::runtime_error("the two nodes did not connect within the limit");
}

json wait_event(Fleet& fleet, std::size_t node, const std::string& kind, double limit_s) {
  json found;
  const bool ok = fleet.wait(limit_s, [&](std::size_t from, const json& e) {
    if (from != node || e.value("event", "") != kind) return Take::skip;
    found = e;
    return Take::done;
  });
  if (!ok) throw std::runtime_error(fleet.name(node) + ": no '" + kind + "' within the limit");
  return found;
}

std::string blast_command(const std::string& channel, std::size_t bytes, double seconds) {
  return "blast b " + channel + " " + std::to_string(bytes) + " " + std::to_string(seconds) + " " +
         std::to_string(unlimited_messages);
}

// Ask b for its counts until it has `expected` messages; the last count.
json drain(Fleet& fleet, std::uint64_t expected) {
  const auto deadline = monotonic_ns() + static_cast<std::int64_t>(drain_limit_s * 1e9);
  for (;;) {
    json count = fleet.request(node_b, "count", "count");
    if (count["messages"].get<std::uint64_t>() >= expected || monotonic_ns() > deadline) return count;
    pause_for(0.02);
  }
}

json throughput_cell(Fleet& fleet, std::size_t bytes, const PeerFlags& flags) {
  const auto before = fleet.request(node_b, "count", "count");
  fleet.request(node_a, blast_command("default", bytes, flags.warmup_s + flags.seconds + 60), "blast");
  pause_for(flags.warmup_s);
  const double busy_1 = machine_busy_seconds();
  const auto a1 = fleet.request(node_a, "count", "count");
  const auto b1 = fleet.request(node_b, "count", "count");
  pause_for(flags.seconds);
  const auto b2 = fleet.request(node_b, "count", "count");
  const auto a2 = fleet.request(node_a, "count", "count");
  const double busy_2 = machine_busy_seconds();
  fleet.send(node_a, "stop_blast");
  const auto done = wait_event(fleet, node_a, "blast_done", 10);
  const auto metrics = fleet.request(node_a, "metrics", "metrics");
  const auto sent = done["sent"].get<std::uint64_t>();
  const auto after = drain(fleet, before["messages"].get<std::uint64_t>() + sent);

  const double seconds = double(b2["t_ns"].get<std::int64_t>() - b1["t_ns"].get<std::int64_t>()) * 1e-9;
  const double messages = b2["messages"].get<double>() - b1["messages"].get<double>();
  const double payload_bytes = b2["bytes"].get<double>() - b1["bytes"].get<double>();
  const double sender_cpu = a2["cpu_s"].get<double>() - a1["cpu_s"].get<double>();
  const double receiver_cpu = b2["cpu_s"].get<double>() - b1["cpu_s"].get<double>();
  const auto delivered = after["messages"].get<std::uint64_t>() - before["messages"].get<std::uint64_t>();
  const auto broken = after["broken"].get<std::uint64_t>() - before["broken"].get<std::uint64_t>();
  json cell = {{"payload_bytes", bytes},
               {"messages", messages},
               {"messages_per_s", std::round(messages / seconds)},
               {"gb_per_s", round_to(payload_bytes / seconds / 1e9, 3)},
               {"seconds", round_to(seconds, 3)},
               {"sender_cpu_s", round_to(sender_cpu, 3)},
               {"sender_io_thread_cpu_s", round_to(a2["io_cpu_s"].get<double>() - a1["io_cpu_s"].get<double>(), 3)},
               {"receiver_cpu_s", round_to(receiver_cpu, 3)},
               {"receiver_io_thread_cpu_s", round_to(b2["io_cpu_s"].get<double>() - b1["io_cpu_s"].get<double>(), 3)},
               {"sender_cpu_us_per_msg", messages > 0 ? json(round_to(sender_cpu / messages * 1e6, 3)) : json(nullptr)},
               {"receiver_cpu_us_per_msg", messages > 0 ? json(round_to(receiver_cpu / messages * 1e6, 3)) : json(nullptr)},
               {"other_cpu_s", round_to(std::max(0.0, busy_2 - busy_1 - sender_cpu - receiver_cpu), 2)},
               {"sent", sent},
               {"refused", done["refused"]},
               {"refusals", done["refusals"]},
               {"sender_drops", metrics["drops"]},
               {"delivered", delivered},
               {"verified", delivered == sent && broken == 0}};
  if (delivered != sent || broken != 0) {
    cell["error"] = std::to_string(sent) + " sent, " + std::to_string(delivered) + " delivered, " +
                    std::to_string(broken) + " out of order";
  }
  return cell;
}

json round_trip_json(const json& done) {
  json out = json::object();
  for (const char* key : {"samples", "p50_us", "p90_us", "p99_us", "p999_us", "min_us", "max_us", "mean_us",
                          "errors", "mismatched", "seconds", "legs_us"}) {
    if (!done.contains(key)) continue;
    out[key] = done[key].is_number_float() ? json(round_to(done[key].get<double>(), 1)) : done[key];
  }
  return out;
}

// `mode`: "" for echo and pong with the default placement (adaptive), "inline"
// (Placement::service_executor) or "worker" (Placement::worker).
json ping(Fleet& fleet, const std::string& channel, const PeerFlags& flags, const std::string& mode) {
  const std::size_t warmup = std::max<std::size_t>(100, flags.round_trips / 20);
  fleet.request(node_a, "ping b " + channel + " " + std::to_string(ping_bytes) + " " +
                            std::to_string(flags.round_trips) + " " + std::to_string(warmup) + " " +
                            std::to_string(ping_limit_s) + (mode.empty() ? "" : " " + mode), "ping");
  return round_trip_json(wait_event(fleet, node_a, "ping_done", ping_limit_s + 10));
}

json plain_ping_pong(const PeerFlags& flags) {
  PingPongSpec spec;
  spec.round_trips = flags.round_trips;
  spec.warmup = std::max<std::size_t>(100, flags.round_trips / 20);
  spec.bytes = ping_bytes;
  spec.limit_s = ping_limit_s;
  const auto result = run_plain_ping_pong(spec);
  json out = {{"samples", result.rtt_ns.size()}};
  if (!result.error.empty()) out["error"] = result.error;
  const auto& v = result.rtt_ns;
  if (v.empty()) return out;
  out["p50_us"] = round_to(double(v[nearest_rank(v.size(), 0.5)]) / 1e3, 1);
  out["p90_us"] = round_to(double(v[nearest_rank(v.size(), 0.9)]) / 1e3, 1);
  out["p99_us"] = round_to(double(v[nearest_rank(v.size(), 0.99)]) / 1e3, 1);
  out["p999_us"] = round_to(double(v[nearest_rank(v.size(), 0.999)]) / 1e3, 1);
  out["max_us"] = round_to(double(v.back()) / 1e3, 1);
  return out;
}

// Handler placements: the cell name's suffix and the ping mode.
constexpr std::pair<const char*, const char*> placements[] = {{"", ""}, {"_on_io", "inline"}, {"_on_worker", "worker"}};

// One round: the plain TCP baseline, then Plexus idle, then Plexus beside a
// 64 KiB stream on channel "bulk" a -> b; each with the handlers placed by
// default (adaptive), on the service executor and on the worker pool.
json round_trip_round(Fleet& fleet, const PeerFlags& flags) {
  json round;
  round["plain_tcp"] = plain_ping_pong(flags);
  for (const auto& [suffix, mode] : placements) round["plexus_idle" + std::string(suffix)] = ping(fleet, "default", flags, mode);
  fleet.request(node_a, blast_command("bulk", 65536, 600), "blast");
  pause_for(flags.warmup_s);
  const auto b1 = fleet.request(node_b, "count", "count");
  for (const auto& [suffix, mode] : placements) {
    round["plexus_with_stream" + std::string(suffix)] = ping(fleet, "default", flags, mode);
  }
  const auto b2 = fleet.request(node_b, "count", "count");
  fleet.send(node_a, "stop_blast");
  wait_event(fleet, node_a, "blast_done", 10);
  const double seconds = double(b2["t_ns"].get<std::int64_t>() - b1["t_ns"].get<std::int64_t>()) * 1e-9;
  round["stream_gb_per_s"] = round_to((b2["bytes"].get<double>() - b1["bytes"].get<double>()) / seconds / 1e9, 3);
  return round;
}

// A cell's figures over the rounds: the median of each percentile, the sum of
// samples and errors, the worst max.
json median_cell(const json& rounds, const char* cell) {
  json out = json::object();
  for (const char* key : {"p50_us", "p90_us", "p99_us", "p999_us", "min_us", "mean_us"}) {
    std::vector<double> values;
    for (const auto& round : rounds) {
      if (round.contains(cell) && round[cell].contains(key)) values.push_back(round[cell][key].get<double>());
    }
    if (!values.empty()) out[key] = median(values);
  }
  double max_us = 0;
  std::uint64_t samples = 0, errors = 0;
  for (const auto& round : rounds) {
    if (!round.contains(cell)) continue;
    const auto& c = round[cell];
    max_us = std::max(max_us, c.value("max_us", 0.0));
    samples += c.value("samples", std::uint64_t{0});
    errors += c.value("errors", std::uint64_t{0}) + c.value("mismatched", std::uint64_t{0});
    if (c.contains("error")) out["error"] = c["error"];
  }
  out["max_us"] = max_us;
  out["samples"] = samples;
  out["errors"] = errors;
  return out;
}

json median_ratio(const json& rounds, const char* cell, const char* key, const char* base, const char* base_key) {
  std::vector<double> values;
  for (const auto& round : rounds) {
    if (!round.contains(cell) || !round.contains(base)) continue;
    const json r = ratio(round[cell].value(key, json(nullptr)), round[base].value(base_key, json(nullptr)));
    if (r.is_number()) values.push_back(r.get<double>());
  }
  return median(values);
}

}  // namespace

void pause_for(double seconds) { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); }

json run_throughput(const PeerFlags& flags) {
  json cells = json::array();
  for (const auto& mode : flags.modes) {
    try {
      Fleet fleet(flags.node_log_level, flags.node_args);
      start_pair(fleet, mode == "insecure", {}, flags.pin);
      for (const auto bytes : flags.sizes) {
        json cell = throughput_cell(fleet, bytes, flags);
        cell["mode"] = mode;
        spdlog::info("throughput {} {} B: {}", mode, bytes, cell.dump());
        cells.push_back(std::move(cell));
      }
    } catch (const std::exception& e) {
      spdlog::error("throughput {}: {}", mode, e.what());
      cells.push_back({{"mode", mode}, {"error", e.what()}});
    }
  }
  return {{"cells", cells}};
}

json run_round_trip(const PeerFlags& flags) {
  json out = {{"payload_bytes", ping_bytes}, {"round_trips_per_round", flags.round_trips},
              {"rounds_planned", flags.rtt_rounds}};
  json rounds = json::array();
  try {
    Fleet fleet(flags.node_log_level, flags.node_args);
    // The stream's channel is declared for bulk traffic (Config::bulk_channels),
    // as an application that streams on a channel beside latency-sensitive ones would.
    start_pair(fleet, false, {"bulk:1:bulk"}, false);
    for (std::size_t r = 0; r < flags.rtt_rounds; ++r) {
      rounds.push_back(round_trip_round(fleet, flags));
      spdlog::info("round trips, round {}: {}", r + 1, rounds.back().dump());
    }
  } catch (const std::exception& e) {
    spdlog::error("round trip: {}", e.what());
    out["error"] = e.what();
  }
  out["rounds"] = rounds;
  out["plain_tcp"] = median_cell(rounds, "plain_tcp");
  // Each ratio is taken within a round, then the median over rounds.
  json ratios = json::object();
  for (const auto& [suffix, mode] : placements) {
    const std::string idle = "plexus_idle" + std::string(suffix), stream = "plexus_with_stream" + std::string(suffix);
    out[idle] = median_cell(rounds, idle.c_str());
    out[stream] = median_cell(rounds, stream.c_str());
    ratios["idle" + std::string(suffix) + "_p50_vs_plain_tcp"] =
        median_ratio(rounds, idle.c_str(), "p50_us", "plain_tcp", "p50_us");
    ratios["with_stream" + std::string(suffix) + "_p99_vs_idle"] =
        median_ratio(rounds, stream.c_str(), "p99_us", idle.c_str(), "p99_us");
  }
  out["ratios"] = ratios;
  std::vector<double> stream_rates;
  for (const auto& round : rounds) {
    if (round.contains("stream_gb_per_s")) stream_rates.push_back(round["stream_gb_per_s"].get<double>());
  }
  out["stream_gb_per_s"] = median(stream_rates);
  return out;
}

}  // namespace plexus::bench
