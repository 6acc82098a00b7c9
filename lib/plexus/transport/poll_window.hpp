// PollWindow: how long a service thread that has just run out of work should
// keep polling before it blocks. Sans-IO: fed with what happened and the time,
// it returns a duration; transport::run_loop is its shell.
//
// The window adapts to the traffic, as KVM's halt polling does: a thread woken
// soon after it blocked (a request/response exchange) would have caught that
// work by polling a little longer, so the window grows; a wake-up after a long
// quiet spell (heartbeats, an idle node) shrinks it, so a quiet node sleeps.
// Polling only pays with a core to spare: while another thread is waiting for
// this core the poller delays it, and a thread that is preempted while polling
// loses the scheduler's favour to wakers. So any sign of contention (the
// thread was preempted, or a poll stalled) closes the window for a backoff.
#pragma once

#include <chrono>

namespace plexus::transport {

/// The default largest window (plexusd --busy-poll-us).
inline constexpr std::chrono::microseconds default_busy_poll{50};

struct PollWindowOptions {
  /// The largest window; 0 turns polling off.
  std::chrono::microseconds max{default_busy_poll};
  /// The first non-zero window; shrinking below it closes the window.
  std::chrono::microseconds start{8};
  /// After a sign of contention the window stays closed this long.
  std::chrono::microseconds contention_backoff{2000};
};

class PollWindow {
 public:
  using Clock = std::chrono::steady_clock;

  explicit PollWindow(PollWindowOptions options = {});

  /// How long to poll from `now`, when the thread has just run out of work.
  std::chrono::microseconds window(Clock::time_point now) const;
  /// The thread blocked and new work woke it `gap` after it ran out of work
  /// (the poll it did first included).
  void woke(std::chrono::nanoseconds gap);
  /// Another thread wanted this core (the thread was preempted, or a poll
  /// took far longer than a poll does): no polling until `now` + backoff.
  void contended(Clock::time_point now);

 private:
  PollWindowOptions options_;
  std::chrono::microseconds current_{0};
  Clock::time_point closed_until_{};
};

}  // namespace plexus::transport
