// The checkers: pure functions from what a run recorded (RunData) to a
// verdict with figures. Each returns {"valid": true | false | "unknown",
// "figures": {...}, ...}; safety checkers (acked, unacked, causal, presence) fail the
// run with exit 1, the membership checker's liveness part with exit 3.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "tools/harness/history.hpp"

namespace plexus::harness {

/// Quantiles 0, 0.5, 0.95, 0.99, 1 (nearest rank), rounded to 0.1 ms; empty input gives nulls.
nlohmann::json quantiles(std::vector<double> values);

/// Same members and all connected after the heal, time to converge, failure
/// detection latency per fault and observer, false downs, flaps.
nlohmann::json check_membership(const RunData& data);
/// Acknowledged sends: lost (ok but never delivered), duplicated, latency.
nlohmann::json check_acked(const RunData& data);
/// Unacknowledged sends: delivered share, duplicated (must be 0).
nlohmann::json check_unacked(const RunData& data);
/// Causal order per receiver incarnation; the first violation as a witness.
nlohmann::json check_causal(const RunData& data);
/// Presence, Jepsen set-full style: per (topic, key, owner) stable / lost / stale /
/// never-read, stable latency, and the final lists against the ground truth.
nlohmann::json check_presence(const RunData& data);
/// Messages and bytes per completed op, by channel, from /metrics.
nlohmann::json check_cost(const RunData& data);

/// All checkers, and the exit code they add up to: 0 valid, 1 a safety
/// checker failed, 2 unknown, 3 no convergence within the bound.
struct Verdict {
  nlohmann::json checkers;
  int exit_code = 0;
  std::string summary;
};
Verdict check_all(const RunData& data);

}  // namespace plexus::harness
