// Helpers shared by the bench programs' JSON reports.
#pragma once

#include <cmath>

#include <nlohmann/json.hpp>

namespace plexus::bench {

/// `value` rounded to `decimals` places, for figures printed in JSON.
inline double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
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
