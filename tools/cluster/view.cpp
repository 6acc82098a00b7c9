#include "tools/cluster/view.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace plexus::tools {
namespace {

/// A status call on loopback answers in milliseconds; a node that does not is shown as such.
constexpr std::chrono::milliseconds status_timeout{800};

std::string names(const nlohmann::json& list) {
  std::string out;
  for (const auto& name : list) {
    if (!out.empty()) out += ',';
    out += name.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

/// How many tenants the node says it runs; nullopt when its tenant manager is off or silent.
std::optional<std::size_t> tenants_running(AdminClient& admin, const std::string& name) {
  const auto response = admin.get("/v1/tenants/nodes", status_timeout);
  if (!response || response->status != 200) return std::nullopt;
  const auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (!body.is_object() || !body.contains("nodes") || !body["nodes"].is_array()) return std::nullopt;
  for (const auto& node : body["nodes"]) {
    if (node.is_object() && node.value("name", std::string()) == name && node.contains("running") &&
        node["running"].is_array()) {
      return node["running"].size();
    }
  }
  return std::size_t{0};
}

}  // namespace

void refresh(NodeRow& row) {
  if (!row.admin) return;
  const auto response = row.admin->get("/v1/status", status_timeout);
  row.answered = false;
  if (!response) {
    row.problem = "admin API not answering";
    return;
  }
  const auto status = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status != 200 || !status.is_object()) {
    row.problem = "admin API: HTTP " + std::to_string(response->status);
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto sent = status.value("messages_sent", std::uint64_t{0});
  const auto received = status.value("messages_received", std::uint64_t{0});
  if (row.sampled_at != std::chrono::steady_clock::time_point{}) {
    const double seconds = std::chrono::duration<double>(now - row.sampled_at).count();
    if (seconds > 0) {
      row.sent_per_second = double(sent - row.sent) / seconds;
      row.received_per_second = double(received - row.received) / seconds;
    }
  }
  row.sent = sent;
  row.received = received;
  row.sampled_at = now;
  row.members = status.value("members", std::size_t{0});
  row.up = names(status.value("up", nlohmann::json::array()));
  row.down = names(status.value("down", nlohmann::json::array()));
  row.answered = !status.value("left", false);
  if (!row.answered) row.problem = "left the cluster";
  row.tenants = tenants_running(*row.admin, row.name);
}

std::string format_row(const NodeRow& row) {
  char line[512];
  if (!row.answered) {
    std::snprintf(line, sizeof line, "%-6s %s", row.name.c_str(), row.problem.c_str());
    return line;
  }
  const std::string tenants = row.tenants ? std::to_string(*row.tenants) : "-";
  std::snprintf(line, sizeof line,
                "%-6s members %-3zu up %-20s down %-12s in %8.1f msg/s  out %8.1f msg/s  tenants %-5s warnings %zu",
                row.name.c_str(), row.members, row.up.c_str(), row.down.c_str(), row.received_per_second,
                row.sent_per_second, tenants.c_str(), row.warnings);
  return line;
}

}  // namespace plexus::tools
