// bench_presence's summary: each headline figure read out of the parts'
// results, with its target from issue 5 and Phoenix.Tracker 2.2.0's figure
// measured on this machine, side by side.
#pragma once

#include <nlohmann/json.hpp>

namespace plexus::bench {

/// Phoenix.Tracker's figures as issue 5 states them.
const nlohmann::json& phoenix_figures();
/// {figure: {value, target, met, phoenix}} from the results of the parts.
nlohmann::json summary(const nlohmann::json& results);

}  // namespace plexus::bench
