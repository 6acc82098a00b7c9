// The context supervisor without I/O: probe results and a fake clock in,
// states, transitions, backoffs and parking out.
#include <doctest/doctest.h>

#include "plexus/context/supervisor.hpp"
#include "plexus/core/test_seed.hpp"

namespace plexus::context {
namespace {

using std::chrono::milliseconds;

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

SupervisionOptions options() {
  SupervisionOptions o;
  o.probe_interval = milliseconds{100};
  o.backoff_initial = milliseconds{40};
  o.backoff_max = milliseconds{320};
  o.park_failures_max = 4;
  o.park_window = milliseconds{10'000};
  return o;
}

const Probe ok{true, 0, ""};
Probe down(std::string why = "connection refused") { return Probe{false, 0, std::move(why)}; }

TEST_CASE("supervisor: started, then ready, probed every probe_interval") {
  // Proves the first good probe makes the context ready and schedules the next one.
  Supervisor s(options(), 1, t0);
  CHECK(s.state() == State::started);
  CHECK(s.next_probe() == t0);
  s.on_probe(ok, t0);
  CHECK(s.state() == State::ready);
  CHECK(s.next_probe() == t0 + milliseconds{100});
  const auto transitions = s.take();
  REQUIRE(transitions.size() == 1);
  CHECK(transitions[0].from == State::started);
  CHECK(transitions[0].to == State::ready);
  CHECK(s.counters().ready == 1);
}

TEST_CASE("supervisor: failures back off with jitter, doubling to the maximum, and a success resets it") {
  // Proves the backoff after each failure lies in [b/2, b] with b doubling up to backoff_max.
  for (const std::uint64_t seed : test_seed::seeds(50)) {
    CAPTURE(seed);
    auto o = options();
    o.park_failures_max = 100;
    Supervisor s(o, seed, t0);
    s.on_probe(ok, t0);
    TimePoint now = t0;
    long long expected = 40;
    for (int i = 0; i < 6; ++i) {
      s.on_probe(down(), now);
      CHECK(s.state() == State::not_ready);
      CHECK(s.backoff().count() == expected);
      const auto wait = std::chrono::duration_cast<milliseconds>(s.next_probe() - now).count();
      CHECK(wait >= expected / 2);
      CHECK(wait <= expected);
      now = s.next_probe();
      expected = std::min<long long>(expected * 2, 320);
    }
    s.on_probe(ok, now);
    CHECK(s.state() == State::ready);
    CHECK(s.backoff().count() == 0);
    CHECK(s.counters().not_ready == 1);
    CHECK(s.counters().probe_failures == 6);
  }
}

TEST_CASE("supervisor: lost connections show as not_ready then ready, with the count") {
  // Proves a probe that succeeded on a fresh connection after the server ended others still reports the outage.
  Supervisor s(options(), 2, t0);
  s.on_probe(ok, t0);
  (void)s.take();
  s.on_probe(Probe{true, 3, ""}, t0 + milliseconds{100});
  const auto transitions = s.take();
  REQUIRE(transitions.size() == 2);
  CHECK(transitions[0].to == State::not_ready);
  CHECK(transitions[0].reason == "3 connection(s) lost");
  CHECK(transitions[1].to == State::ready);
  CHECK(s.counters().connections_lost == 3);
  CHECK(s.state() == State::ready);
}

TEST_CASE("supervisor: N failures within the window park the context with the reason") {
  // Proves parking after park_failures_max failures in park_window, and that old failures age out.
  Supervisor s(options(), 3, t0);
  s.on_probe(down("first"), t0);
  // Three failures long after the first: the first aged out of the window.
  TimePoint now = t0 + milliseconds{20'000};
  for (int i = 0; i < 3; ++i, now += milliseconds{500}) s.on_probe(down("again"), now);
  CHECK(s.state() == State::not_ready);
  s.on_probe(down("password authentication failed"), now);
  CHECK(s.state() == State::parked);
  CHECK(s.next_probe() == TimePoint::max());
  const auto transitions = s.take();
  CHECK(transitions.back().to == State::parked);
  CHECK(transitions.back().reason == "4 failed probes within 10000 ms; last: password authentication failed");
  CHECK(s.reason() == transitions.back().reason);
  s.on_probe(ok, now);  // a parked supervisor ignores probes until restarted
  s.on_suspect(now);
  CHECK(s.state() == State::parked);
}

TEST_CASE("supervisor: a suspect call brings the next probe forward") {
  // Proves on_suspect schedules a probe now, never later than planned.
  Supervisor s(options(), 4, t0);
  s.on_probe(ok, t0);
  s.on_suspect(t0 + milliseconds{10});
  CHECK(s.next_probe() == t0 + milliseconds{10});
}

}  // namespace
}  // namespace plexus::context
