// Timing for bench_store: variants run once per round, in reverse order every
// other round (A B, B A, ...), so drift of a shared machine and warm caches
// hit a figure and its baseline alike; a ratio is the median over rounds of
// each round's own ratio, as bench_peer does.
#pragma once

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

/// One side of a comparison: runs its work once and returns operations per second.
struct Variant {
  std::string name;
  std::function<Result<double>()> run;
};

/// Per-round rates of every variant.
class Rounds {
 public:
  void add(const std::string& variant, double rate) { rates_[variant].push_back(rate); }
  [[nodiscard]] nlohmann::json median_rate(const std::string& variant) const {
    auto found = rates_.find(variant);
    return found == rates_.end() ? nlohmann::json(nullptr) : median(found->second);
  }
  /// The median over rounds of rate(a) / rate(b) in the same round.
  [[nodiscard]] nlohmann::json median_ratio(const std::string& a, const std::string& b) const {
    auto found_a = rates_.find(a), found_b = rates_.find(b);
    if (found_a == rates_.end() || found_b == rates_.end()) return nullptr;
    std::vector<double> ratios;
    for (std::size_t i = 0; i < found_a->second.size() && i < found_b->second.size(); ++i) {
      if (found_b->second[i] > 0) ratios.push_back(found_a->second[i] / found_b->second[i]);
    }
    const auto middle = median(ratios);
    return middle.is_number() ? nlohmann::json(round_to(middle.get<double>(), 3)) : middle;
  }
  /// {variant: {"median_per_s": .., "per_round_per_s": [..]}}.
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, rates] : rates_) {
      nlohmann::json rounded = nlohmann::json::array();
      for (double rate : rates) rounded.push_back(round_to(rate, 0));
      out[name] = {{"median_per_s", round_to(median(rates).get<double>(), 0)}, {"per_round_per_s", rounded}};
    }
    return out;
  }

 private:
  std::map<std::string, std::vector<double>> rates_;
};

/// Runs each variant once per round, reversing the order every other round.
/// Stops at the first error.
inline Result<Rounds> run_rounds(const std::vector<Variant>& variants, std::size_t rounds) {
  Rounds out;
  for (std::size_t round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < variants.size(); ++i) {
      const auto& variant = variants[round % 2 == 0 ? i : variants.size() - 1 - i];
      auto rate = variant.run();
      if (!rate.ok()) {
        return Error{rate.error().code, variant.name + " (round " + std::to_string(round) + "): " + rate.error().message()};
      }
      out.add(variant.name, *rate);
    }
  }
  return out;
}

/// `count / seconds`, guarding against a zero-length window.
inline double per_second(std::size_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

}  // namespace plexus::bench
