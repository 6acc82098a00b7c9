// The sans-IO supervisor of one started context: fed probe results and the
// time, it decides the context's health state, when to probe next, and when
// to give up. The shell (context_impl.cpp) runs the probes (one
// snapshot read through the context's pool) and applies the decisions.
//
// States: `started` until the first probe answers; `ready` while probes
// succeed; `not_ready` after a failed probe, or when the pool reports
// connections lost since the last probe (the server ended them: a restart,
// pg_terminate_backend, a network cut) until a probe on a fresh connection
// succeeds (a pool whose every connection is leased to a call counts as
// working without a probe, so load never reads as an outage); `parked`
// after park_failures_max failed probes within park_window — it then stops
// probing and keeps the last reason until the context is started again. A healthy context is probed every
// probe_interval; after a failure the next probe waits a backoff drawn in
// [b/2, b], b doubling from backoff_initial to backoff_max, so many nodes
// reconnecting after a server restart do not arrive in step.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "plexus/context/options.hpp"

namespace plexus::context {

using TimePoint = std::chrono::steady_clock::time_point;

/// The state of a context, as start_datastore() and status() report it.
enum class State { not_found, not_started, started, not_ready, ready, parked };
std::string_view to_string(State state);

/// What one probe found.
struct Probe {
  bool ok = false;
  /// Connections the pool found broken since the previous probe.
  std::uint64_t connections_lost = 0;
  /// Why the probe failed (no secrets: the store masks passwords).
  std::string reason;
};

/// One state change, for the log, the metrics and the tests.
struct Transition {
  State from = State::started;
  State to = State::started;
  TimePoint at{};
  std::string reason;
};

/// Counters of one supervised context (exported per context on /metrics).
struct SupervisorCounters {
  std::uint64_t probes = 0;
  std::uint64_t probe_failures = 0;
  std::uint64_t connections_lost = 0;
  std::uint64_t not_ready = 0;  ///< times the context went not_ready
  std::uint64_t ready = 0;      ///< times it went ready
};

class Supervisor {
 public:
  /// `seed` drives the backoff jitter only (tests pass a fixed one).
  Supervisor(SupervisionOptions options, std::uint64_t seed, TimePoint now);

  /// A probe's result at `now`.
  void on_probe(const Probe& probe, TimePoint now);
  /// A call through the context failed `unavailable`: probe at once (not when parked).
  void on_suspect(TimePoint now);

  [[nodiscard]] State state() const { return state_; }
  /// When the shell should run the next probe (TimePoint::max() when parked).
  [[nodiscard]] TimePoint next_probe() const { return next_probe_; }
  /// The last failure's reason ("" while none happened).
  [[nodiscard]] const std::string& reason() const { return reason_; }
  [[nodiscard]] const SupervisorCounters& counters() const { return counters_; }
  /// The current backoff (0 while healthy).
  [[nodiscard]] std::chrono::milliseconds backoff() const { return backoff_; }
  /// Transitions since the last take().
  std::vector<Transition> take() { return std::exchange(transitions_, {}); }

 private:
  void move_to(State to, TimePoint now, std::string reason);
  void failed(const std::string& reason, TimePoint now);

  SupervisionOptions options_;
  std::mt19937_64 random_;
  State state_ = State::started;
  TimePoint next_probe_;
  std::chrono::milliseconds backoff_{0};
  /// Times of the failures within park_window (at most park_failures_max).
  std::deque<TimePoint> failures_;
  std::string reason_;
  SupervisorCounters counters_;
  std::vector<Transition> transitions_;
};

}  // namespace plexus::context
