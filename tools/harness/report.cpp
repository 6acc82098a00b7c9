#include "tools/harness/report.hpp"

#include <cmath>
#include <fstream>

#include "tools/harness/report_page.hpp"

namespace plexus::harness {
using nlohmann::json;

namespace {

double r1(double v) { return std::round(v * 10) / 10; }

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// JSON inside <script>: '<', '>' and '&' only occur inside JSON strings, where \u003c etc. mean
// the same; written so, nothing in the data can end the element or open a comment.
std::string script_safe(const json& value) {
  std::string out;
  for (const char c : value.dump()) {
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else out += c;
  }
  return out;
}

std::string verdict_text(const json& valid) {
  if (valid == true) return "valid";
  if (valid == false) return "INVALID";
  return "unknown";
}

std::string figures_text(const json& figures) {
  std::string out;
  for (auto it = figures.begin(); it != figures.end(); ++it) {
    if (it->is_object()) {
      std::string inner;
      for (auto q = it->begin(); q != it->end(); ++q) inner += (inner.empty() ? "" : " ") + q.key() + ":" + q->dump();
      out += "<span class=fig><b>" + escape(it.key()) + "</b> " + escape(inner) + "</span> ";
    } else {
      out += "<span class=fig><b>" + escape(it.key()) + "</b> " + escape(it->dump()) + "</span> ";
    }
  }
  return out;
}

std::string checker_rows(const json& checkers) {
  std::string rows;
  for (auto it = checkers.begin(); it != checkers.end(); ++it) {
    const auto& c = *it;
    const std::string verdict = verdict_text(c.value("valid", json("unknown")));
    rows += "<tr class=\"" + std::string(verdict == "valid" ? "ok" : verdict == "INVALID" ? "bad" : "unk") + "\"><td>" +
            escape(it.key()) + "</td><td>" + verdict + "</td><td>" + (c.contains("failure") ? "<div class=why>" + escape(c["failure"].get<std::string>()) + "</div>" : "") +
            figures_text(c.value("figures", json::object())) + "</td></tr>\n";
  }
  return rows;
}

// The presence checker's outcomes as a table, and its examples, when it ran.
std::string presence_section(const json& checkers) {
  if (!checkers.contains("presence")) return "";
  const json& c = checkers["presence"];
  const json& f = c.value("figures", json::object());
  std::string html = "<h2 id=presence>Presence (set-full)</h2>\n<p class=legend>one element per (topic, key, owner); "
                     "stable: every read after some point agrees with the ground truth; stale: stable but some read "
                     "after the op's ok disagreed; lost: the last read on some node disagrees.</p>\n<table class=checkers><tr>";
  const char* columns[] = {"elements", "stable", "stale", "lost", "never_read", "indeterminate", "owner_ended", "final_differences"};
  for (const char* col : columns) html += std::string("<th>") + col + "</th>";
  html += "<th>stable latency ms (0 / 0.5 / 0.95 / 0.99 / 1)</th></tr>\n<tr>";
  for (const char* col : columns) html += "<td>" + escape(f.value(col, json(nullptr)).dump()) + "</td>";
  std::string q;
  for (const char* key : {"0", "0.5", "0.95", "0.99", "1"}) {
    q += (q.empty() ? "" : " / ") + f.value("stable_latency_ms", json::object()).value(key, json(nullptr)).dump();
  }
  html += "<td>" + escape(q) + "</td></tr></table>\n";
  for (const char* key : {"lost_examples", "final_differences", "stale_examples"}) {
    if (!c.contains(key)) continue;
    std::string lines;  // one example a line
    for (const auto& example : c[key]) lines += example.dump() + "\n";
    html += "<p class=meta>" + std::string(key) + ":</p><pre>" + escape(lines) + "</pre>\n";
  }
  return html;
}

}  // namespace

json timeline_json(const RunData& data) {
  json ops = json::array();
  for (const auto& op : data.ops) {
    ops.push_back({op.id, op.workload, op.from, op.to, r1(op.invoke_ms), op.complete_ms < 0 ? json(nullptr) : json(r1(op.complete_ms)),
                   op.outcome});
  }
  json faults = json::array();
  for (const auto& f : data.faults) {
    faults.push_back({{"id", f.id}, {"fault", f.fault}, {"start", r1(f.start_ms)},
                      {"end", r1(f.end_ms < 0 ? data.fault_phase_end_ms : f.end_ms)}});
  }
  json processes = json::array();
  for (const auto& p : data.processes) processes.push_back({r1(p.t_ms), p.node, p.event});
  json observations = json::array();
  for (const auto& o : data.observations) observations.push_back({r1(o.t_ms), o.observer, o.peer, o.up});
  return {{"names", data.names}, {"ops_columns", {"id", "workload", "from", "to", "invoke", "complete", "outcome"}},
          {"ops", ops}, {"faults", faults}, {"processes", processes}, {"observations", observations},
          {"heal_ms", r1(data.fault_phase_end_ms)},
          {"converged_ms", data.converged_after_heal_ms ? json(r1(data.fault_phase_end_ms + *data.converged_after_heal_ms)) : json(nullptr)}};
}

std::string render_html(const json& report, const json& timeline) {
  const std::string title = "plexus-harness: " + report.value("scenario_name", std::string("?")) + " seed " +
                            std::to_string(report.value("seed", std::uint64_t(0)));
  std::string html;
  html += "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>" + escape(title) + "</title>\n<style>" +
          std::string(report_css) + "</style></head>\n<body>\n";
  html += "<h1>" + escape(title) + " &mdash; <span class=\"verdict\">" + escape(report.value("verdict", "")) + "</span></h1>\n";
  html += "<p class=meta>exit code " + std::to_string(report.value("exit_code", 2)) + " &middot; " +
          std::to_string(report["parameters"].value("nodes", 0)) + " nodes &middot; duration " +
          report["parameters"]["duration_s"].dump() + " s &middot; commit " + escape(report.value("commit", "")) +
          " &middot; started " + escape(report.value("started_at", "")) + "</p>\n";
  html += "<p class=meta>replay: <code>" + escape(report.value("replay", "")) + "</code></p>\n";
  html += "<table class=checkers><tr><th>checker</th><th>verdict</th><th>figures</th></tr>\n" + checker_rows(report["checkers"]) + "</table>\n";
  html += "<h2>Timeline</h2><p class=legend>faults on top; then each node (green running, orange paused, grey down/left; "
          "red ticks: another node saw it down); then ops per workload (green ok, red fail, orange info); "
          "dashed lines: heal and convergence.</p>\n";
  html += "<div id=render-status data-state=pending>rendering&hellip;</div>\n<svg id=timeline xmlns=\"http://www.w3.org/2000/svg\"></svg>\n";
  html += presence_section(report["checkers"]);
  html += "<h2>Latency over time</h2><svg id=latency xmlns=\"http://www.w3.org/2000/svg\"></svg>\n";
  html += "<details><summary>report.json</summary><pre>" + escape(report.dump(2)) + "</pre></details>\n";
  html += "<script type=\"application/json\" id=timeline-data>" + script_safe(timeline) + "</script>\n";
  html += "<script>" + std::string(report_js) + "</script>\n</body></html>\n";
  return html;
}

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return bool(out);
}

}  // namespace plexus::harness
