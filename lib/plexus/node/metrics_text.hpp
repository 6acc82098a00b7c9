// MetricsText: the Prometheus text format (0.0.4) that /metrics answers.
// Each service writes its metric families into one (Service::write_metrics).
#pragma once

#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plexus/core/metric_label.hpp"

namespace plexus::node {

/// Writes metric families: HELP and TYPE once, then samples.
class MetricsText {
 public:
  MetricsText& family(std::string_view name, std::string_view type, std::string_view help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    return *this;
  }
  MetricsText& sample(std::string_view name, const std::vector<std::pair<std::string_view, std::string>>& labels,
                     std::uint64_t value) {
    out_ << name;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      out_ << (i == 0 ? "{" : ",") << labels[i].first << "=\"" << metric_label(labels[i].second) << '"';
    }
    out_ << (labels.empty() ? "" : "}") << ' ' << value << '\n';
    return *this;
  }
  // "peer/channel" keyed counters of peer::Metrics.
  MetricsText& by_link(std::string_view name, std::string_view help, const std::map<std::string, std::uint64_t>& values) {
    family(name, "counter", help);
    for (const auto& [key, value] : values) {
      const auto slash = key.find('/');
      sample(name, {{"peer", key.substr(0, slash)}, {"channel", slash == std::string::npos ? "" : key.substr(slash + 1)}},
             value);
    }
    return *this;
  }
  /// Families already rendered in this format (e.g. context::Contexts::metrics_text()).
  MetricsText& raw(std::string_view text) {
    out_ << text;
    return *this;
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

}  // namespace plexus::node
