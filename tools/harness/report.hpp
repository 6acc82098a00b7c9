// The outputs of a run: report.json (everything needed to understand and
// replay it) and report.html, one self-contained page (no network: inline
// CSS, inline SVG drawn by inline JS from inline JSON) with the fault
// timeline over the op timeline, per-node lanes and latency over time.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/harness/history.hpp"

namespace plexus::harness {

/// The compact timeline the page draws: ops, faults, processes, observations, phases.
nlohmann::json timeline_json(const RunData& data);
/// report.html from the report and the timeline.
std::string render_html(const nlohmann::json& report, const nlohmann::json& timeline);
/// Write `text` to `path`; false when it cannot.
bool write_file(const std::filesystem::path& path, const std::string& text);

}  // namespace plexus::harness
