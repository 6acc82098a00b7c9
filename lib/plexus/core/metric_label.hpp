// A Prometheus label value (text format 0.0.4) escaped: every component that
// writes /metrics text, the node's MetricsText and the context manager alike.
#pragma once

#include <string>
#include <string_view>

namespace plexus {

/// `value` with backslash, double quote and newline escaped.
inline std::string metric_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace plexus
