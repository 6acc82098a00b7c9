// bench_presence's summary table (presence_summary.hpp).
#include "presence_summary.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace plexus::bench {
namespace {

using nlohmann::json;

const json phoenix = {
    {"source", "Phoenix.Tracker 2.2.0, 3 nodes on this machine, Elixir 1.14 / OTP 25, pool_size 1 (issue 5)"},
    {"replicate_100k_after_first_s", {{"bp_100ms", 4.3}, {"default", 9.2}}},
    {"replicate_100k_after_last_s", {{"bp_100ms", 0.265}, {"default", 1.29}}},
    {"tracks_per_s", {{"bp_100ms", 26'000}, {"default", 12'900}}},
    {"list_10k_ms", {{"replica", 2.0}, {"tracker", 4.0}}},
    {"list_100k_ms", "48-72"},
    {"bytes_per_presence", {{"replica_bp_100ms", 525}, {"tracker_bp_100ms", 831}, {"replica_default", 1010},
                            {"tracker_default", 1299}}},
    {"heal_s", {{"default", 8.2}, {"bp_100ms", 1.36}}}};

json row_of(const json& results, std::uint64_t n) {
  if (!results.contains("replication") || !results["replication"].contains("rows")) return nullptr;
  for (const auto& row : results["replication"]["rows"]) if (row["presences"] == n) return row;
  return nullptr;
}

json value_at(const json& row, std::initializer_list<const char*> path) {
  const json* node = &row;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &(*node)[key];
  }
  return *node;
}

}  // namespace

const json& phoenix_figures() { return phoenix; }

// The figures with their targets, side by side with Phoenix's.
json summary(const json& results) {
  struct Figure {
    std::string name;
    json value;
    double target;
    bool at_most;
    json phoenix;
  };
  const json r10k = row_of(results, 10'000), r100k = row_of(results, 100'000), r1m = row_of(results, 1'000'000);
  json pools = json::object();
  if (results.contains("pools")) {
    for (const auto& p : results["pools"]) {
      pools["pool_size_" + p["pool_size"].dump()] = {{"value", p.value("tracks_per_s", json(nullptr))},
                                                     {"per_io_cpu_s", p.value("tracks_per_io_cpu_s", json(nullptr))}};
    }
  }
  const double none = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Figure> figures{
      {"replicate_10k_after_first_s", value_at(r10k, {"after_first_track_s"}), none, true, nullptr},
      {"replicate_10k_after_last_s", value_at(r10k, {"after_last_track_s"}), none, true, nullptr},
      {"replicate_100k_after_first_s", value_at(r100k, {"after_first_track_s"}), 0.5, true, phoenix["replicate_100k_after_first_s"]},
      {"replicate_100k_after_last_s", value_at(r100k, {"after_last_track_s"}), 0.1, true, phoenix["replicate_100k_after_last_s"]},
      {"replicate_1m_after_first_s", value_at(r1m, {"after_first_track_s"}), none, true, nullptr},
      {"replicate_1m_after_last_s", value_at(r1m, {"after_last_track_s"}), none, true, nullptr},
      {"tracks_per_s_one_topic_pool_1", value_at(r100k, {"tracks_per_s"}), 500'000, false, phoenix["tracks_per_s"]},
      {"tracks_per_io_cpu_s_one_topic_pool_1", value_at(r100k, {"tracks_per_io_cpu_s"}), none, false, nullptr},
      {"list_10k_tracker_ms", value_at(r10k, {"list", "tracker", "median_ms"}), 0.3, true, 4.0},
      {"list_10k_replica_ms", value_at(r10k, {"list", "replica", "median_ms"}), 0.3, true, 2.0},
      {"list_100k_tracker_ms", value_at(r100k, {"list", "tracker", "median_ms"}), 4, true, "48-72"},
      {"list_100k_replica_ms", value_at(r100k, {"list", "replica", "median_ms"}), 4, true, "48-72"},
      {"bytes_per_presence_replica", value_at(r100k, {"rss_bytes_per_presence", "replica"}), 200, true, 525},
      {"bytes_per_presence_tracker", value_at(r100k, {"rss_bytes_per_presence", "tracker"}), 300, true, 831},
      {"netsplit_heal_s", results.contains("split") ? results["split"].value("heal_s", json(nullptr)) : json(nullptr), 1,
       true, phoenix["heal_s"]},
      {"netsplit_peer_up_after_heal_s",
       results.contains("split") ? results["split"].value("peer_up_after_heal_s", json(nullptr)) : json(nullptr), none,
       true, nullptr},
  };
  json out = json::object();
  for (const auto& f : figures) {
    json entry = {{"value", f.value}, {"phoenix", f.phoenix}};
    if (!std::isnan(f.target)) {
      entry["target"] = (f.at_most ? "<= " : ">= ") + json(f.target).dump();
      entry["met"] = f.value.is_number() ? json(f.at_most ? f.value.get<double>() <= f.target
                                                          : f.value.get<double>() >= f.target)
                                         : json(nullptr);
    }
    out[f.name] = entry;
  }
  for (const auto& [name, value] : pools.items()) {
    out["tracks_per_s_64_topics_" + name] = {{"value", value["value"]}, {"per_io_cpu_s", value["per_io_cpu_s"]},
                                             {"target", ">= 500000 (pool 1), scaling"}};
  }
  return out;
}

}  // namespace plexus::bench
