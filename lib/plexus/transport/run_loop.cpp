#include "plexus/transport/run_loop.hpp"

#include <sys/resource.h>

namespace plexus::transport {

namespace {

using Clock = PollWindow::Clock;

// A poll that finds nothing takes well under a microsecond; one that took this
// long was preempted.
constexpr auto stalled_poll = std::chrono::microseconds(20);

// Involuntary context switches of the calling thread so far.
long preemptions() {
  rusage usage{};
  if (getrusage(RUSAGE_THREAD, &usage) != 0) return 0;
  return usage.ru_nivcsw;
}

enum class Polled { work, quiet, stalled, stopped };

// Poll until work runs, `until` passes, or a poll stalls.
Polled poll_until(asio::io_context& io, Clock::time_point until, std::size_t& handled) {
  auto before = Clock::now();
  while (before < until) {
    if (const std::size_t n = io.poll(); n > 0) {
      handled += n;
      return Polled::work;
    }
    if (io.stopped()) return Polled::stopped;
    const auto after = Clock::now();
    if (after - before > stalled_poll) return Polled::stalled;
    before = after;
  }
  return Polled::quiet;
}

}  // namespace

std::size_t run_loop(asio::io_context& io, std::chrono::microseconds busy_poll) {
  return run_loop(io, PollWindowOptions{.max = busy_poll});
}

std::size_t run_loop(asio::io_context& io, const PollWindowOptions& options) {
  if (options.max.count() <= 0) return io.run();
  PollWindow window(options);
  long seen_preemptions = preemptions();
  std::size_t handled = 0;
  while (!io.stopped()) {  // out of work, poll() and run_one() stop the context
    if (const std::size_t n = io.poll(); n > 0) {
      handled += n;
      continue;
    }
    const auto quiet = Clock::now();
    if (const auto span = window.window(quiet); span.count() > 0) {
      // Preempted since the last look: another thread wants this core.
      if (const long now_preempted = preemptions(); now_preempted != seen_preemptions) {
        seen_preemptions = now_preempted;
        window.contended(quiet);
      } else {
        const Polled polled = poll_until(io, quiet + span, handled);
        if (polled == Polled::work) continue;
        if (polled == Polled::stopped) break;
        if (polled == Polled::stalled) window.contended(Clock::now());
      }
    }
    handled += io.run_one();  // quiet for the whole window: block
    window.woke(Clock::now() - quiet);
  }
  return handled;
}

}  // namespace plexus::transport
