// Helpers shared by the bench programs' JSON reports.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

namespace plexus::bench {

/// `value` rounded to `decimals` places, for figures printed in JSON.
inline double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

/// a / b to three places, or null when either is missing or b is not positive.
inline nlohmann::json ratio(const nlohmann::json& a, const nlohmann::json& b) {
  if (!a.is_number() || !b.is_number() || b.get<double>() <= 0) return nullptr;
  return round_to(a.get<double>() / b.get<double>(), 3);
}

/// The median of `values` (the lower middle of an even count), or null when empty.
inline nlohmann::json median(std::vector<double> values) {
  if (values.empty()) return nullptr;
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>((values.size() - 1) / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

/// Whether any object inside `value` carries an "error" key (a part failed to run).
inline bool has_error(const nlohmann::json& value) {
  if (value.is_object()) {
    if (value.contains("error")) return true;
    for (const auto& [key, child] : value.items()) if (has_error(child)) return true;
  }
  if (value.is_array()) {
    for (const auto& child : value) if (has_error(child)) return true;
  }
  return false;
}

}  // namespace plexus::bench
