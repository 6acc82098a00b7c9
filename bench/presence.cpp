// bench_presence: the presence tracker between three node processes on
// 127.0.0.1 (this binary run as `bench_presence node ...`, presence_node.hpp,
// started through bench_peer's Fleet), calling the Tracker API in-process.
// Rows as issue 5 states them, beside Phoenix.Tracker 2.2.0 measured on this
// machine: replication of 10k/100k/1M tracks to both other nodes (after the
// first and after the last track), tracks/s from one caller with pool_size
// 1/2/8, list(topic) time on the tracking node and on a replica, RSS growth
// per presence, and the netsplit heal time. Prints one JSON document; exits
// non-zero when a part failed to run (a missed target is reported, not fatal).
//
//   bench_presence [--only replication,pools,split] [--sizes 10000,100000,1000000]
//                  [--pools 1,2,8] [--pool-tracks 100000] [--split-presences 10000]
//                  [--split-changes 1000]
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <set>
#include <thread>

#include "figures.hpp"
#include "peer_fleet.hpp"
#include "peer_protocol.hpp"
#include "presence_node.hpp"
#include "presence_protocol.hpp"
#include "presence_summary.hpp"

namespace {

using nlohmann::json;
using namespace plexus::bench;

struct Flags {
  std::vector<std::uint64_t> sizes{10'000, 100'000, 1'000'000};
  std::vector<std::uint32_t> pools{1, 2, 8};
  std::uint64_t pool_tracks = 100'000;
  std::uint64_t pool_topics = 64;
  std::uint64_t split_presences = 10'000;
  std::uint64_t split_changes = 1'000;
  std::string node_log_level = "warn";
  std::set<std::string> only{"replication", "pools", "split"};
};

constexpr double arm_limit_s = 10;

double seconds(std::int64_t from_ns, std::int64_t to_ns) { return double(to_ns - from_ns) * 1e-9; }

/// Three nodes a, b, c: b and c join a; returns when all see 3 members up on every channel.
void start_cluster(Fleet& fleet) {
  fleet.start({{"a", false, {}, -1}, {"b", false, {}, -1}, {"c", false, {}, -1}}, 30);
  fleet.request(1, "join " + fleet.spec(0), "join");
  fleet.request(2, "join " + fleet.spec(0), "join");
  for (std::size_t i = 0; i < 3; ++i) fleet.send(i, "await converged converged 3");
  std::size_t converged = 0;
  const bool ok = fleet.wait(60, [&](std::size_t, const json& e) {
    if (e.value("event", "") == "error") throw std::runtime_error(e.dump());
    if (e.value("event", "") != "await" || e.value("id", "") != "converged") return Take::skip;
    return ++converged == 3 ? Take::done : Take::take;
  });
  if (!ok) throw std::runtime_error("cluster did not converge within 60 s");
  // Drop the "armed" acknowledgements.
  std::size_t armed = 0;
  fleet.wait(arm_limit_s, [&](std::size_t, const json& e) {
    if (e.value("event", "") != "armed") return Take::skip;
    return ++armed == 3 ? Take::done : Take::take;
  });
}

void arm_digest(Fleet& fleet, const std::vector<std::size_t>& nodes, const std::string& id, const PresenceDigest& d) {
  for (auto i : nodes) fleet.send(i, "await " + id + " digest " + std::to_string(d.count) + " " + std::to_string(d.sum));
  std::size_t armed = 0;
  const bool ok = fleet.wait(arm_limit_s, [&](std::size_t, const json& e) {
    if (e.value("event", "") == "error") throw std::runtime_error("await: " + e.dump());
    if (e.value("event", "") != "armed" || e.value("id", "") != id) return Take::skip;
    return ++armed == nodes.size() ? Take::done : Take::take;
  });
  if (!ok) throw std::runtime_error("await " + id + " not armed");
}

/// Wait for the await `id` on `count` nodes, and for a run's answer (`run` event from `runner`, if any).
struct Outcome {
  std::map<std::size_t, std::int64_t> seen_ns;
  json run;
  bool complete = false;
};
Outcome collect(Fleet& fleet, std::size_t count, const std::string& id, const char* run, double limit_s) {
  Outcome out;
  out.complete = fleet.wait(limit_s, [&](std::size_t from, const json& e) {
    const auto kind = e.value("event", "");
    if (kind == "error") throw std::runtime_error(fleet.name(from) + ": " + e.dump());
    if (kind == "await" && e.value("id", "") == id) {
      out.seen_ns[from] = e.at("t_ns").get<std::int64_t>();
    } else if (run != nullptr && kind == run) {
      out.run = e;
    } else {
      return Take::skip;
    }
    return out.seen_ns.size() == count && (run == nullptr || !out.run.is_null()) ? Take::done : Take::take;
  });
  return out;
}

PresenceDigest digest_of(const std::string& node, const std::string& topic, std::uint64_t topics, char prefix,
                         std::uint64_t from, std::uint64_t count, PresenceDigest d = {}) {
  for (std::uint64_t i = from; i < from + count; ++i) {
    d.add(presence_hash(node, presence_topic(topic, i, topics), presence_key(prefix, i)));
  }
  return d;
}

std::string run_command(const char* verb, const std::string& topic, std::uint64_t topics, char prefix,
                        std::uint64_t from, std::uint64_t count) {
  return std::string(verb) + " " + topic + " " + std::to_string(topics) + " " + prefix + " " + std::to_string(from) +
         " " + std::to_string(count);
}

double anon_bytes(pid_t pid) { return sample_process(pid).rss_anon_mib * 1024 * 1024; }

json list_times(Fleet& fleet, const std::string& topic, std::size_t repeat) {
  json out;
  for (const auto& [i, role] : {std::pair{std::size_t{0}, "tracker"}, std::pair{std::size_t{1}, "replica"}}) {
    const auto e = fleet.request(i, "list " + topic + " " + std::to_string(repeat), "list", 120);
    out[role] = {{"count", e["count"]}, {"median_ms", round_to(e["median_ns"].get<double>() * 1e-6, 4)},
                 {"min_ms", round_to(e["min_ns"].get<double>() * 1e-6, 4)},
                 {"for_each_median_ms", round_to(e["for_each_median_ns"].get<double>() * 1e-6, 4)},
                 {"for_each_min_ms", round_to(e["for_each_min_ns"].get<double>() * 1e-6, 4)}};
  }
  return out;
}

// One row: n tracks on a in one topic, until b and c list them all.
json replicate(Fleet& fleet, std::uint64_t n, PresenceDigest& expected) {
  const std::string topic = "r" + std::to_string(n);
  const double rss_a = anon_bytes(fleet.pid(0)), rss_b = anon_bytes(fleet.pid(1));
  expected = digest_of("a", topic, 1, 'k', 0, n, expected);
  const std::string id = "rep" + std::to_string(n);
  arm_digest(fleet, {1, 2}, id, expected);
  fleet.send(0, run_command("track", topic, 1, 'k', 0, n));
  const double limit_s = 60 + double(n) / 5'000;
  const auto out = collect(fleet, 2, id, "track", limit_s);
  json row = {{"presences", n}};
  if (!out.complete) {
    row["error"] = "not replicated within " + std::to_string(limit_s) + " s (" + std::to_string(out.seen_ns.size()) +
                   " of 2 replicas)";
    return row;
  }
  const auto first = out.run["first_ns"].get<std::int64_t>(), last = out.run["last_ns"].get<std::int64_t>();
  std::int64_t all = 0;
  for (const auto& [node, t] : out.seen_ns) all = std::max(all, t);
  row["after_first_track_s"] = round_to(seconds(first, all), 4);
  row["after_last_track_s"] = round_to(seconds(last, all), 4);
  row["tracking_s"] = round_to(seconds(first, last), 4);
  row["tracks_per_s"] = std::round(double(n) / std::max(1e-9, seconds(first, last)));
  row["track_errors"] = out.run["errors"];
  row["tracks_per_io_cpu_s"] = std::round(double(n) / std::max(1e-9, out.run["io_cpu_ns"].get<double>() * 1e-9));
  row["rss_bytes_per_presence"] = {{"tracker", std::round((anon_bytes(fleet.pid(0)) - rss_a) / double(n))},
                                   {"replica", std::round((anon_bytes(fleet.pid(1)) - rss_b) / double(n))}};
  if (n <= 100'000) row["list"] = list_times(fleet, topic, n <= 10'000 ? 51 : 11);
  return row;
}

json run_replication(const Flags& flags) {
  json out = json::object();
  try {
    Fleet fleet(flags.node_log_level);
    start_cluster(fleet);
    PresenceDigest expected;
    json rows = json::array();
    for (const auto n : flags.sizes) rows.push_back(replicate(fleet, n, expected));
    out["rows"] = rows;
    out["metrics_a"] = fleet.request(0, "metrics", "metrics");
  } catch (const std::exception& e) {
    out["error"] = e.what();
  }
  return out;
}

json run_pools(const Flags& flags) {
  json out = json::array();
  for (const auto pool : flags.pools) {
    json row = {{"pool_size", pool}, {"tracks", flags.pool_tracks}, {"topics", flags.pool_topics}};
    try {
      Fleet fleet(flags.node_log_level, {"--pool-size", std::to_string(pool)});
      start_cluster(fleet);
      const auto expected = digest_of("a", "p", flags.pool_topics, 'k', 0, flags.pool_tracks);
      arm_digest(fleet, {1, 2}, "pool", expected);
      fleet.send(0, run_command("track", "p", flags.pool_topics, 'k', 0, flags.pool_tracks));
      const auto o = collect(fleet, 2, "pool", "track", 60 + double(flags.pool_tracks) / 5'000);
      if (!o.complete) throw std::runtime_error("not replicated in time");
      const auto first = o.run["first_ns"].get<std::int64_t>(), last = o.run["last_ns"].get<std::int64_t>();
      std::int64_t all = 0;
      for (const auto& [node, t] : o.seen_ns) all = std::max(all, t);
      row["tracks_per_s"] = std::round(double(flags.pool_tracks) / std::max(1e-9, seconds(first, last)));
      row["tracks_per_io_cpu_s"] =
          std::round(double(flags.pool_tracks) / std::max(1e-9, o.run["io_cpu_ns"].get<double>() * 1e-9));
      row["after_last_track_s"] = round_to(seconds(last, all), 4);
    } catch (const std::exception& e) {
      row["error"] = e.what();
    }
    out.push_back(row);
  }
  return out;
}

// 10k presences on a and on c; c cut off from a and b; changes on both sides;
// heal; the time until all three list the same set.
json run_split(const Flags& flags) {
  json out = {{"presences_per_side", flags.split_presences}, {"changes_during_split", flags.split_changes}};
  try {
    Fleet fleet(flags.node_log_level);
    start_cluster(fleet);
    const auto n = flags.split_presences, half = flags.split_changes / 4;
    auto side_a = digest_of("a", "s", 1, 'a', 0, n), side_c = digest_of("c", "s", 1, 'c', 0, n);
    PresenceDigest both{side_a.count + side_c.count, side_a.sum + side_c.sum};
    arm_digest(fleet, {0, 1, 2}, "before", both);
    fleet.send(0, run_command("track", "s", 1, 'a', 0, n));
    fleet.send(2, run_command("track", "s", 1, 'c', 0, n));
    if (!collect(fleet, 3, "before", nullptr, 60).complete) throw std::runtime_error("not replicated before the split");
    fleet.request(2, "partition a", "partition");
    fleet.request(2, "partition b", "partition");
    const auto split_ns = monotonic_ns();
    arm_digest(fleet, {0, 1}, "split_ab", side_a);
    arm_digest(fleet, {2}, "split_c", side_c);
    const auto ab = collect(fleet, 2, "split_ab", nullptr, 60);
    const auto c = collect(fleet, 1, "split_c", nullptr, 60);
    if (!ab.complete || !c.complete) throw std::runtime_error("the split was not seen (leaves) within 60 s");
    std::int64_t seen = 0;
    for (const auto& [node, t] : ab.seen_ns) seen = std::max(seen, t);
    out["split_seen_s"] = round_to(seconds(split_ns, std::max(seen, c.seen_ns.begin()->second)), 3);
    // During the split: each side untracks `half` and tracks `half` new ones (4 x half changes).
    fleet.send(0, run_command("untrack", "s", 1, 'a', 0, half));
    fleet.send(0, run_command("track", "s", 1, 'a', n, half));
    fleet.send(2, run_command("untrack", "s", 1, 'c', 0, half));
    fleet.send(2, run_command("track", "s", 1, 'c', n, half));
    side_a = digest_of("a", "s", 1, 'a', half, n);
    side_c = digest_of("c", "s", 1, 'c', half, n);
    arm_digest(fleet, {0, 1}, "changed_ab", side_a);
    arm_digest(fleet, {2}, "changed_c", side_c);
    if (!collect(fleet, 2, "changed_ab", nullptr, 60).complete || !collect(fleet, 1, "changed_c", nullptr, 60).complete) {
      throw std::runtime_error("changes during the split not applied");
    }
    const PresenceDigest healed{side_a.count + side_c.count, side_a.sum + side_c.sum};
    arm_digest(fleet, {0, 1, 2}, "healed", healed);
    const auto heal = fleet.request(2, "heal", "heal");
    const auto h = collect(fleet, 3, "healed", nullptr, 60);
    if (!h.complete) throw std::runtime_error("not healed within 60 s (" + std::to_string(h.seen_ns.size()) + " of 3)");
    std::int64_t all = 0;
    for (const auto& [node, t] : h.seen_ns) all = std::max(all, t);
    const auto heal_ns = heal["t_ns"].get<std::int64_t>();
    out["heal_s"] = round_to(seconds(heal_ns, all), 4);
    // The peer service's part: until a and b see c up again on the tracker's channel, and c sees both.
    std::set<std::pair<std::size_t, std::string>> ups;
    std::int64_t last_up = 0;
    fleet.wait(5, [&](std::size_t from, const json& e) {
      if (e.value("event", "") != "peer_up" || e.at("t_ns").get<std::int64_t>() < heal_ns) return Take::skip;
      ups.insert({from, e.value("node", "")});
      last_up = std::max(last_up, e.at("t_ns").get<std::int64_t>());
      return ups.size() == 4 ? Take::done : Take::take;
    });
    out["peer_up_after_heal_s"] = ups.size() == 4 ? json(round_to(seconds(heal_ns, last_up), 4)) : json(nullptr);
    out["metrics_a"] = fleet.request(0, "metrics", "metrics");
    out["metrics_c"] = fleet.request(2, "metrics", "metrics");
  } catch (const std::exception& e) {
    out["error"] = e.what();
  }
  return out;
}

Flags parse(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Plexus presence tracker benchmark (JSON on stdout)"};
  std::vector<std::string> parts(flags.only.begin(), flags.only.end());
  app.add_option("--only", parts, "Parts to run")->delimiter(',')->check(CLI::IsMember({"replication", "pools", "split"}));
  app.add_option("--sizes", flags.sizes, "Replication rows: presences tracked on node a")->delimiter(',')
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10'000'000}));
  app.add_option("--pools", flags.pools, "Pool sizes of the tracks/s rows")->delimiter(',')
      ->check(CLI::Range(1u, 256u));
  app.add_option("--pool-tracks", flags.pool_tracks, "Tracks per pool-size row")->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10'000'000}));
  app.add_option("--pool-topics", flags.pool_topics, "Topics the pool-size rows spread over")->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000}));
  app.add_option("--split-presences", flags.split_presences, "Presences per side of the netsplit")->check(CLI::Range(std::uint64_t{4}, std::uint64_t{1'000'000}));
  app.add_option("--split-changes", flags.split_changes, "Changes during the split (both sides)")->check(CLI::Range(std::uint64_t{4}, std::uint64_t{1'000'000}));
  app.add_option("--node-log-level", flags.node_log_level)->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  if (flags.split_changes / 4 > flags.split_presences) {
    std::cerr << "--split-changes: at most 4 x --split-presences\n";
    std::exit(2);
  }
  flags.only = std::set<std::string>(parts.begin(), parts.end());
  return flags;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "node") == 0) return run_presence_node(argc - 1, argv + 1);
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  const Flags flags = parse(argc, argv);
  json results = json::object();
  if (flags.only.count("replication")) results["replication"] = run_replication(flags);
  if (flags.only.count("pools")) results["pools"] = run_pools(flags);
  if (flags.only.count("split")) results["split"] = run_split(flags);
  const json document = {
      {"benchmark", "presence"},
      {"machine", {{"cores", std::thread::hardware_concurrency()}}},
      {"settings", {{"sizes", flags.sizes}, {"pools", flags.pools}, {"pool_tracks", flags.pool_tracks},
                    {"pool_topics", flags.pool_topics}, {"split_presences", flags.split_presences},
                    {"split_changes", flags.split_changes}, {"parts", flags.only}}},
      {"notes", "3 node processes on 127.0.0.1, presence::Options defaults (broadcast_period 100 ms, down_period 2 s),"
                " default peer::Config; one caller tracks in bursts of 1024 on the node's io thread; a replica has"
                " 'listed' a set when the presences it reports through handle_diff are exactly that set; RSS is RssAnon"
                " growth over the row; times across processes use CLOCK_MONOTONIC"},
      {"results", results},
      {"summary", summary(results)},
      {"phoenix", phoenix_figures()}};
  std::cout << document.dump(2) << std::endl;
  return has_error(results) ? 1 : 0;
}
