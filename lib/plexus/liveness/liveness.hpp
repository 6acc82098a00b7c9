// plexus::liveness: failure detection, heartbeats and redial backoff of the
// peer service, as a sans-IO core. The shell (peer/status.cpp, links.cpp) and
// the simulator (lib/plexus/sim) feed it the same events with the current
// time as a parameter; it reads no clock, opens no socket and draws random
// numbers only from the generator the caller passes in.
//
// Per peer it keeps: whether the control link is attached, when a frame was
// last heard from the peer, when one was last sent to it, and the redial
// schedule. From that it answers:
//   - evaluate(now): who is up (attached and heard within peer_timeout) and
//     the exact up/down transitions since the previous call;
//   - heartbeats_due(now): peers whose attached link has carried nothing
//     from us for heartbeat_interval (a busy link needs no heartbeat: any
//     frame is proof of life, as with Erlang's net_ticktime);
//   - dial_due / dial_attempted: when a peer whose link is down may be
//     dialed again: capped exponential backoff, jittered, reset on link up;
//   - next_wakeup(): the earliest time any of the above changes, so a driver
//     can sleep until then.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/core/time.hpp"

namespace plexus::liveness {

/// Nanoseconds since an epoch chosen by the driver (core/time.hpp).
using Time = plexus::Time;

struct Options {
  /// Send a heartbeat on a link that carried nothing from us for this long.
  Time heartbeat_interval = std::chrono::milliseconds(200);
  /// A peer not heard from for longer than this is down.
  Time peer_timeout = std::chrono::milliseconds(1000);
  /// Redial backoff: doubles from redial_min up to redial_max, plus up to half
  /// of the previous backoff as jitter.
  Time redial_min = std::chrono::milliseconds(50);
  Time redial_max = std::chrono::milliseconds(2000);
  /// A heartbeat that falls due within this much of one being sent now goes
  /// out with it: heartbeats to all peers fall into step instead of each
  /// waking the driver on its own. A heartbeat goes at most this much early;
  /// half of heartbeat_interval brings any two groups into step in a round.
  Time heartbeat_coalesce = std::chrono::milliseconds(100);
};

/// One change of a peer's node-level status.
struct Transition {
  std::string peer;
  bool up = false;
  friend bool operator==(const Transition&, const Transition&) = default;
};

class Liveness {
 public:
  explicit Liveness(Options options = {}) : options_(options) {}

  /// A member to watch (idempotent). Its first dial is due at once.
  void add_peer(std::string_view peer, Time now);
  /// Stop watching; no transition is reported for it any more.
  void remove_peer(std::string_view peer);
  /// Forget the backoff: the next dial is due at `now` (a new spec, a nudge).
  void reset_backoff(std::string_view peer, Time now);

  /// The control link to `peer` is attached: it counts as heard at `now`,
  /// and the backoff starts over (a missing data link is due for a dial at once).
  void link_up(std::string_view peer, Time now);
  /// The control link is gone (closed, reset, dropped).
  void link_down(std::string_view peer);
  /// A frame (any kind, heartbeats included) arrived from `peer`.
  void heard(std::string_view peer, Time now);
  /// A frame went out to `peer`: no heartbeat is needed until interval after.
  void sent(std::string_view peer, Time now);

  /// Recompute up/down at `now`; returns the transitions, in peer-name order.
  std::vector<Transition> evaluate(Time now);
  /// Recompute one peer at `now` and return whether it is up (false when unknown).
  bool evaluate(std::string_view peer, Time now);
  /// Peers to send a heartbeat to now; each is recorded as sent at `now`.
  /// When any is due, those due within heartbeat_coalesce are included.
  std::vector<std::string> heartbeats_due(Time now);

  /// May the shell dial (or nudge) what is missing towards `peer` now? False
  /// for unknown peers. The caller dials only links that are missing (the
  /// shell has data links besides the control link).
  [[nodiscard]] bool dial_due(std::string_view peer, Time now) const;
  /// Make the next dial due at `now`, keeping the backoff (a nudge arrived).
  void dial_now(std::string_view peer, Time now);
  /// No dial before `until` (unless dial_now/reset_backoff say otherwise),
  /// keeping the backoff: a nudge was answered, the peer dials us now.
  void defer_dial(std::string_view peer, Time until);
  /// A dial or nudge was started at `now`: schedule the next one after the
  /// doubled, capped backoff plus jitter drawn from `random`.
  template <class Random>
  void dial_attempted(std::string_view peer, Time now, Random& random);

  /// Up at the latest evaluate() (false for unknown peers).
  [[nodiscard]] bool up(std::string_view peer) const;
  [[nodiscard]] bool attached(std::string_view peer) const;
  /// The current backoff (zero after link_up or reset_backoff).
  [[nodiscard]] Time backoff(std::string_view peer) const;
  /// Earliest time a transition, heartbeat or dial falls due; nullopt when
  /// no peer is watched. Never earlier than what has already been handled.
  [[nodiscard]] std::optional<Time> next_wakeup() const;
  [[nodiscard]] const Options& options() const noexcept { return options_; }

 private:
  struct Peer {
    bool attached = false;
    bool up = false;
    Time last_heard{0};
    Time last_sent{0};
    Time next_dial{0};
    Time backoff{0};
  };

  Peer* find(std::string_view peer);
  [[nodiscard]] const Peer* find(std::string_view peer) const;
  void schedule_dial(Peer& peer, Time now, Time jitter);

  Options options_;
  std::map<std::string, Peer, std::less<>> peers_;
};

template <class Random>
void Liveness::dial_attempted(std::string_view peer, Time now, Random& random) {
  Peer* p = find(peer);
  if (!p) return;
  // Jitter up to half the previous backoff (at least 1 ms), as the shell did.
  const auto half_ms = std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(p->backoff).count() / 2);
  const auto jitter_ms = std::uniform_int_distribution<std::int64_t>(0, half_ms)(random);
  schedule_dial(*p, now, std::chrono::milliseconds(jitter_ms));
}

}  // namespace plexus::liveness
