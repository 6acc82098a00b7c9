// What bench_peer's parent and its node processes share: the clock every
// report is stamped with, how the cluster key reaches a node, percentiles.
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace plexus::bench {

/// The node reads the cluster key (64 hex digits) from this variable, not
/// from argv, so it does not show in `ps`.
inline constexpr const char* key_environment_variable = "PLEXUS_BENCH_KEY";

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine.
inline std::int64_t monotonic_ns() noexcept {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

/// CPU time (user+sys) of the whole calling process so far.
inline double process_cpu_seconds() noexcept {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

/// Index of the q-quantile of n sorted samples (nearest rank); n > 0.
inline std::size_t nearest_rank(std::size_t n, double q) noexcept {
  const auto rank = static_cast<std::size_t>(std::ceil(q * double(n)));
  return rank == 0 ? 0 : (rank > n ? n - 1 : rank - 1);
}

}  // namespace plexus::bench
