// Timing for bench_store: variants run once per round, in reverse order every
// other round (A B, B A, ...), so drift of a shared machine and warm caches
// hit a figure and its baseline alike; a ratio is the median over rounds of
// each round's own ratio, as bench_peer does.
#pragma once

#include <time.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "figures.hpp"
#include "plexus/core/result.hpp"

namespace plexus::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Keeps the optimiser from dropping work whose result is otherwise unused.
inline void keep(std::size_t value) {
  static volatile std::size_t sink = 0;
  sink = sink + value;
}

/// Wall time and this thread's CPU time (CLOCK_THREAD_CPUTIME_ID) together.
/// CPU time is the "on one core" clock of single-threaded CPU-bound work: on
/// a shared machine other processes stretch the wall time, not it.
class Stopwatch {
 public:
  Stopwatch() : wall_(Clock::now()), cpu_(thread_cpu_seconds()) {}
  [[nodiscard]] double wall_s() const { return seconds_since(wall_); }
  [[nodiscard]] double cpu_s() const { return thread_cpu_seconds() - cpu_; }

 private:
  static double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  }
  Clock::time_point wall_;
  double cpu_;
};

/// What one run of a variant did: operations, wall seconds, and the calling
/// thread's CPU seconds (0 when the work ran on other threads).
struct Sample {
  std::size_t ops = 0;
  double wall_s = 0;
  double cpu_s = 0;
};

inline Sample sample(std::size_t ops, const Stopwatch& watch) { return Sample{ops, watch.wall_s(), watch.cpu_s()}; }

/// Which time a rate divides by.
enum class Per { wall_second, cpu_second };

/// One side of a comparison: runs its work once.
struct Variant {
  std::string name;
  std::function<Result<Sample>()> run;
};

/// Per-round samples of every variant.
class Rounds {
 public:
  void add(const std::string& variant, const Sample& s) { samples_[variant].push_back(s); }
  [[nodiscard]] nlohmann::json median_rate(const std::string& variant, Per per) const {
    auto found = samples_.find(variant);
    return found == samples_.end() ? nlohmann::json(nullptr) : median(rates(found->second, per));
  }
  /// The median over rounds of rate(a) / rate(b) in the same round.
  [[nodiscard]] nlohmann::json median_ratio(const std::string& a, const std::string& b, Per per) const {
    auto found_a = samples_.find(a), found_b = samples_.find(b);
    if (found_a == samples_.end() || found_b == samples_.end()) return nullptr;
    const auto rates_a = rates(found_a->second, per), rates_b = rates(found_b->second, per);
    std::vector<double> ratios;
    for (std::size_t i = 0; i < rates_a.size() && i < rates_b.size(); ++i) {
      if (rates_b[i] > 0) ratios.push_back(rates_a[i] / rates_b[i]);
    }
    const auto middle = median(ratios);
    return middle.is_number() ? nlohmann::json(round_to(middle.get<double>(), 3)) : middle;
  }
  /// {variant: {"ops", "per_wall_s": {median, rounds}, "per_cpu_s": {...}}}.
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, samples] : samples_) {
      out[name] = {{"ops", samples.front().ops}};
      for (const auto per : {Per::wall_second, Per::cpu_second}) {
        const auto values = rates(samples, per);
        if (values.empty() || values.front() <= 0) continue;
        nlohmann::json rounded = nlohmann::json::array();
        for (double rate : values) rounded.push_back(round_to(rate, 0));
        out[name][per == Per::wall_second ? "per_wall_s" : "per_cpu_s"] = {
            {"median", round_to(median(values).get<double>(), 0)}, {"rounds", rounded}};
      }
    }
    return out;
  }

 private:
  static std::vector<double> rates(const std::vector<Sample>& samples, Per per) {
    std::vector<double> out;
    for (const auto& s : samples) {
      const double seconds = per == Per::wall_second ? s.wall_s : s.cpu_s;
      out.push_back(seconds > 0 ? static_cast<double>(s.ops) / seconds : 0);
    }
    return out;
  }
  std::map<std::string, std::vector<Sample>> samples_;
};

/// Runs each variant once per round, reversing the order every other round,
/// after one untimed run of each when `warm_up` (connections, plan caches).
/// Stops at the first error.
inline Result<Rounds> run_rounds(const std::vector<Variant>& variants, std::size_t rounds, bool warm_up = false) {
  Rounds out;
  for (std::size_t i = 0; warm_up && i < variants.size(); ++i) {
    if (auto result = variants[i].run(); !result.ok()) {
      return Error{result.error().code, variants[i].name + " (warm-up): " + result.error().message()};
    }
  }
  for (std::size_t round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < variants.size(); ++i) {
      const auto& variant = variants[round % 2 == 0 ? i : variants.size() - 1 - i];
      auto result = variant.run();
      if (!result.ok()) {
        return Error{result.error().code, variant.name + " (round " + std::to_string(round) + "): " + result.error().message()};
      }
      out.add(variant.name, *result);
    }
  }
  return out;
}

/// `count / seconds`, guarding against a zero-length window.
inline double per_second(std::size_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

}  // namespace plexus::bench
