// The simulator's one source of randomness: xoshiro256** seeded through
// splitmix64. Every decision of a simulated run (delays, faults, workload,
// the nodes' own jitter and relay choices) draws from generators derived
// from the run's seed, so a seed replays bit for bit. Our own integer
// helpers avoid std::*_distribution for the simulator's decisions, whose
// results differ between standard libraries.
#pragma once

#include <cstdint>
#include <limits>

namespace plexus::sim {

class Rng {
 public:
  using result_type = std::uint64_t;

  explicit Rng(std::uint64_t seed) {
    for (auto& word : state_) word = splitmix(seed);
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  result_type operator()() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, n); 0 when n == 0.
  std::uint64_t below(std::uint64_t n) {
    if (n == 0) return 0;
    // The high 64 bits of a 64x64 multiply (Lemire); the tiny bias is irrelevant for testing.
    const std::uint64_t x = (*this)();
    const std::uint64_t x_hi = x >> 32, x_lo = x & 0xffffffffULL, n_hi = n >> 32, n_lo = n & 0xffffffffULL;
    const std::uint64_t lo_lo = x_lo * n_lo, hi_lo = x_hi * n_lo, lo_hi = x_lo * n_hi, hi_hi = x_hi * n_hi;
    const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffffULL) + lo_hi;
    return hi_hi + (hi_lo >> 32) + (cross >> 32);
  }
  /// Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  /// True with probability per_million / 1e6.
  bool chance(std::uint32_t per_million) { return below(1'000'000) < per_million; }
  /// An independent generator for a sub-component (a node, the network).
  Rng fork() { return Rng((*this)()); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_[4];
};

}  // namespace plexus::sim
