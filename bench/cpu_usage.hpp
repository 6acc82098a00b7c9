// Wall-clock and CPU-time snapshots that bound a benchmark's measurement
// window. CPU time comes from getrusage(RUSAGE_SELF): it is process-wide, so
// it sums every thread (both endpoints, the kernel work done on their behalf
// in system calls, and the mostly sleeping main thread). The machine-wide
// busy time from /proc/stat, less ours, says how much other processes ran
// during the window: on a shared machine, a window where they did is suspect.
#pragma once

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

namespace plexus::bench {

using Clock = std::chrono::steady_clock;

struct Snapshot {
  Clock::time_point at{};
  double user_s = 0;
  double system_s = 0;
  double machine_busy_s = 0;  ///< all CPUs, all processes, since boot
};

/// What happened between two snapshots.
struct Window {
  double seconds = 0;
  double user_s = 0;
  double system_s = 0;
  double machine_busy_s = 0;
  [[nodiscard]] double cpu_s() const noexcept { return user_s + system_s; }
  /// CPU time other processes took meanwhile (clock ticks: ~0.01 s resolution).
  [[nodiscard]] double other_cpu_s() const noexcept {
    const double other = machine_busy_s - cpu_s();
    return other > 0 ? other : 0;
  }
};

inline double to_seconds(const timeval& t) noexcept {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
}

/// Busy CPU time of the whole machine: the first line of /proc/stat less
/// idle and iowait (0 when unreadable).
inline double machine_busy_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double ticks[8] = {};
  in >> cpu;
  for (double& t : ticks) in >> t;
  if (!in || cpu != "cpu") return 0;
  double busy = 0;
  for (int i = 0; i < 8; ++i) busy += (i == 3 || i == 4) ? 0 : ticks[i];
  return busy / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// CPU time (user+sys) of the calling thread so far.
inline double thread_cpu_seconds() noexcept {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return to_seconds(usage.ru_utime) + to_seconds(usage.ru_stime);
}

/// CPU time (user+sys) of another thread of this process so far (0 when unknown).
inline double thread_cpu_seconds(pthread_t thread) noexcept {
  clockid_t clock{};
  timespec t{};
  if (pthread_getcpuclockid(thread, &clock) != 0 || clock_gettime(clock, &t) != 0) return 0;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

/// Now, and the CPU time of the whole process so far.
inline Snapshot take_snapshot() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double busy = machine_busy_seconds();
  return {Clock::now(), to_seconds(usage.ru_utime), to_seconds(usage.ru_stime), busy};
}

inline Window between(const Snapshot& start, const Snapshot& end) noexcept {
  return {std::chrono::duration<double>(end.at - start.at).count(), end.user_s - start.user_s,
          end.system_s - start.system_s, end.machine_busy_s - start.machine_busy_s};
}

}  // namespace plexus::bench
