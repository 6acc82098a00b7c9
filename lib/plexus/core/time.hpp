// Time for the whole runtime: one type, and a clock a test or the simulator
// can replace. Sans-IO cores never read a clock: they are given `Time` values
// (tick(now), receive(..., now)). The shells that drive them ask a `Clock`,
// the real one in a node, a `ManualClock` in a test or a simulation.
#pragma once

#include <chrono>

namespace plexus {

/// A point in time as nanoseconds since an epoch the driver chooses (the
/// steady clock's in a node, zero in a simulation); also a duration.
using Time = std::chrono::nanoseconds;

/// Where a shell reads the time. Implementations are cheap and must be
/// monotonic: now() never goes backwards.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual Time now() const noexcept = 0;
};

/// The real clock: std::chrono::steady_clock.
class RealClock final : public Clock {
 public:
  [[nodiscard]] Time now() const noexcept override {
    return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now().time_since_epoch());
  }
  /// The shared instance (the clock holds no state).
  static RealClock& instance() noexcept {
    static RealClock clock;
    return clock;
  }
};

/// A clock that moves only when told: tests and the simulator.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Time start = Time{0}) noexcept : now_(start) {}
  [[nodiscard]] Time now() const noexcept override { return now_; }
  /// Move forward by `step` (a negative step is ignored: time is monotonic).
  void advance(Time step) noexcept {
    if (step > Time{0}) now_ += step;
  }
  /// Move to `to` if it is later than now.
  void advance_to(Time to) noexcept {
    if (to > now_) now_ = to;
  }

 private:
  Time now_;
};

}  // namespace plexus
