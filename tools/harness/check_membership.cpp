// The membership checker: convergence after the heal (liveness), and how the
// failure detector behaved under each fault: detection latency per observer,
// downs no fault explains (false downs), and bounces within a fault (flaps).
#include <algorithm>

#include "tools/harness/checkers.hpp"

namespace plexus::harness {
using nlohmann::json;

namespace {

/// A down observed this long after a fault ended (or a process event) is still explained by it.
double grace_ms(const RunData& data) { return 2.0 * data.peer_timeout_ms + 2000; }

bool explained_by_process(const RunData& data, const Observation& o) {
  return std::any_of(data.processes.begin(), data.processes.end(), [&](const ProcessEvent& p) {
    return (p.node == o.peer || p.node == o.observer) && p.event != "started" && p.t_ms <= o.t_ms + 200 &&
           o.t_ms - p.t_ms <= grace_ms(data);
  });
}

const FaultRecord* explaining_fault(const RunData& data, const Observation& o) {
  for (const auto& f : data.faults) {
    const double end = f.end_ms < 0 ? data.fault_phase_end_ms : f.end_ms;
    if (f.affected.count({o.observer, o.peer}) && o.t_ms >= f.start_ms - 200 && o.t_ms <= end + grace_ms(data)) return &f;
  }
  return nullptr;
}

// Was `peer` up for `observer` just before `t`? (Up unless its last transition was down.)
bool up_before(const RunData& data, const std::string& observer, const std::string& peer, double t) {
  bool up = true;
  for (const auto& o : data.observations) {
    if (o.t_ms >= t) break;
    if (o.observer == observer && o.peer == peer) up = o.up;
  }
  return up;
}

json detection(const RunData& data, std::vector<double>& latencies, std::vector<double>& recoveries, std::size_t& undetected) {
  json per_fault = json::array();
  for (const auto& f : data.faults) {
    if (f.fault == "churn") continue;  // a leave is not a failure to detect
    const double end = f.end_ms < 0 ? data.fault_phase_end_ms : f.end_ms;
    json observers = json::object(), recovered = json::object();
    for (const auto& [observer, peer] : f.affected) {
      if (!up_before(data, observer, peer, f.start_ms)) continue;  // already down: nothing to detect
      std::optional<double> seen;
      double down_at = 0;
      for (const auto& o : data.observations) {
        if (o.observer == observer && o.peer == peer && !o.up && o.t_ms >= f.start_ms && o.t_ms <= end + grace_ms(data)) {
          seen = o.t_ms - f.start_ms;
          down_at = o.t_ms;
          break;
        }
      }
      if (seen) latencies.push_back(*seen);
      else ++undetected;
      observers[observer + "->" + peer] = seen ? json(std::round(*seen)) : json(nullptr);
      if (!seen) continue;
      // Recovery: the observer saw the peer up again, counted from the fault's end (0 when a
      // swizzle or flap healed this pair before its last step); null if not within the grace.
      std::optional<double> back;
      for (const auto& o : data.observations) {
        if (o.observer == observer && o.peer == peer && o.up && o.t_ms > down_at && o.t_ms <= end + grace_ms(data)) {
          back = std::max(0.0, o.t_ms - end);
          break;
        }
      }
      recovered[observer + "->" + peer] = back ? json(std::round(*back)) : json(nullptr);
      if (back) recoveries.push_back(*back);
    }
    per_fault.push_back({{"fault_id", f.id}, {"fault", f.fault}, {"start_ms", std::round(f.start_ms)},
                         {"end_ms", std::round(end)}, {"detection_ms", observers}, {"recovery_after_end_ms", recovered}});
  }
  return per_fault;
}

}  // namespace

json check_membership(const RunData& data) {
  std::vector<double> latencies, recoveries;
  std::size_t undetected = 0;
  json per_fault = detection(data, latencies, recoveries, undetected);
  std::size_t false_downs = 0, flaps = 0;
  json false_examples = json::array();
  std::set<std::tuple<int, std::string, std::string>> down_in_fault;
  for (const auto& o : data.observations) {
    if (o.up) continue;
    if (const FaultRecord* f = explaining_fault(data, o)) {
      if (!down_in_fault.insert({f->id, o.observer, o.peer}).second) ++flaps;  // down again within one fault
      continue;
    }
    if (explained_by_process(data, o)) continue;
    ++false_downs;
    if (false_examples.size() < 10) false_examples.push_back({{"observer", o.observer}, {"peer", o.peer}, {"t_ms", std::round(o.t_ms)}});
  }
  const bool converged = data.converged_after_heal_ms.has_value();
  json out{{"valid", converged},
           {"liveness", converged},
           {"figures", {{"converged_after_heal", converged},
                        {"time_to_converge_ms", converged ? json(std::round(*data.converged_after_heal_ms)) : json(nullptr)},
                        {"liveness_bound_ms", data.liveness_bound_ms},
                        {"detection_latency_ms", quantiles(latencies)},
                        {"recovery_after_fault_ms", quantiles(recoveries)},
                        {"detected", latencies.size()}, {"undetected", undetected},
                        {"false_downs", false_downs}, {"flaps", flaps},
                        {"transitions_observed", data.observations.size()}}},
           {"per_fault", per_fault}};
  if (!false_examples.empty()) out["false_down_examples"] = false_examples;
  if (!converged) out["failure"] = "the live nodes did not agree on the members, all connected, within the liveness bound";
  return out;
}

}  // namespace plexus::harness
