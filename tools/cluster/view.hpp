// The live view of plexus-cluster: one line per node (name, members seen,
// peers up and down, messages per second in and out, tenants it runs,
// warnings logged), read from each node's admin API (/v1/status and
// /v1/tenants/nodes) once a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "tools/cli/admin_client.hpp"

namespace plexus::tools {

struct NodeRow {
  std::string name;
  std::optional<AdminClient> admin;
  bool answered = false;
  std::string problem;  ///< why the last status call failed
  std::size_t members = 0;
  std::string up, down;  ///< comma-separated peer names
  std::uint64_t sent = 0, received = 0;
  double sent_per_second = 0, received_per_second = 0;
  std::chrono::steady_clock::time_point sampled_at{};
  std::optional<std::size_t> tenants;  ///< tenants running on it (none: the tenant manager is off)
  std::size_t warnings = 0;  ///< warn and error lines in its log
  std::string last_warning;
};

/// Ask the node for /v1/status and /v1/tenants/nodes and update the row (rates from the previous sample).
void refresh(NodeRow& row);
std::string format_row(const NodeRow& row);

}  // namespace plexus::tools
