// The sans-IO context supervisor (supervisor.hpp).
#include "plexus/context/supervisor.hpp"

#include <algorithm>
#include <utility>

namespace plexus::context {

std::string_view to_string(State state) {
  switch (state) {
    case State::not_found: return "not_found";
    case State::not_started: return "not_started";
    case State::started: return "started";
    case State::not_ready: return "not_ready";
    case State::ready: return "ready";
    case State::parked: return "parked";
  }
  return "?";
}

Supervisor::Supervisor(SupervisionOptions options, std::uint64_t seed, TimePoint now)
    : options_(options), random_(seed), next_probe_(now) {}

void Supervisor::move_to(State to, TimePoint now, std::string reason) {
  if (to == state_) return;
  if (to == State::not_ready) ++counters_.not_ready;
  if (to == State::ready) ++counters_.ready;
  transitions_.push_back(Transition{state_, to, now, std::move(reason)});
  state_ = to;
}

void Supervisor::failed(const std::string& reason, TimePoint now) {
  reason_ = reason;
  ++counters_.probe_failures;
  while (!failures_.empty() && now - failures_.front() >= options_.park_window) failures_.pop_front();
  failures_.push_back(now);
  if (failures_.size() >= options_.park_failures_max) {
    reason_ = std::to_string(failures_.size()) + " failed probes within " +
              std::to_string(options_.park_window.count()) + " ms; last: " + reason;
    move_to(State::parked, now, reason_);
    next_probe_ = TimePoint::max();
    return;
  }
  move_to(State::not_ready, now, reason);
  backoff_ = backoff_.count() == 0 ? options_.backoff_initial : std::min(backoff_ * 2, options_.backoff_max);
  std::uniform_int_distribution<long long> draw(backoff_.count() / 2, backoff_.count());
  next_probe_ = now + std::chrono::milliseconds{draw(random_)};
}

void Supervisor::on_probe(const Probe& probe, TimePoint now) {
  if (state_ == State::parked) return;
  ++counters_.probes;
  counters_.connections_lost += probe.connections_lost;
  if (!probe.ok) return failed(probe.reason, now);
  if (probe.connections_lost > 0) {
    // The server ended connections since the last probe: the context had no
    // working connection for a while. This probe already ran on a fresh one.
    move_to(State::not_ready, now, std::to_string(probe.connections_lost) + " connection(s) lost");
  }
  backoff_ = std::chrono::milliseconds{0};
  move_to(State::ready, now, {});
  next_probe_ = now + options_.probe_interval;
}

void Supervisor::on_suspect(TimePoint now) {
  if (state_ == State::parked) return;
  next_probe_ = std::min(next_probe_, now);
}

}  // namespace plexus::context
