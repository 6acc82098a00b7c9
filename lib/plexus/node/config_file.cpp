// The JSON config file of plexusd: one object whose keys are the flag names
// with '_' for '-' (docs/operations.md lists them). Flags given on the
// command line override the file; plexusd applies the file first.
//
//   {"name": "n1", "listen": "10.0.0.5:7100", "admin": "127.0.0.1:7180",
//    "secret_file": "cluster.key", "data_dir": "/var/lib/plexus",
//    "join": ["10.0.0.6:7100", {"name": "n2", ...spec...}],
//    "channels": ["bulk:4:bulk", "state:1:monotonic"]  // or {"bulk": {"parallelism": 4, "bulk": true}}
//    "heartbeat_ms": 200, "log_format": "json"}
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/node/node.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t config_file_max_bytes = 1024 * 1024;

// Each key's reader either fills its option or returns what is wrong with the value.
using Reader = std::function<std::string(const json& value, NodeOptions& options)>;

Reader text(std::string NodeOptions::*member) {
  return [member](const json& value, NodeOptions& options) -> std::string {
    if (!value.is_string()) return "expected a string";
    options.*member = value.get<std::string>();
    return {};
  };
}

Reader path_in(const fs::path& base, std::string NodeOptions::*member) {
  return [base, member](const json& value, NodeOptions& options) -> std::string {
    if (!value.is_string()) return "expected a string (a path)";
    const fs::path given = value.get<std::string>();
    options.*member = (given.is_relative() && !given.empty() ? base / given : given).string();
    return {};
  };
}

Reader integer(int NodeOptions::*member) {
  return [member](const json& value, NodeOptions& options) -> std::string {
    if (!value.is_number_integer()) return "expected an integer";
    const auto number = value.get<std::int64_t>();
    if (number < 0 || number > std::numeric_limits<int>::max()) return "out of range";
    options.*member = int(number);
    return {};
  };
}

Reader boolean(bool NodeOptions::*member) {
  return [member](const json& value, NodeOptions& options) -> std::string {
    if (!value.is_boolean()) return "expected true or false";
    options.*member = value.get<bool>();
    return {};
  };
}

// A string or an array of strings; `objects` also accepts JSON objects (node specs), kept as text.
Reader list(std::vector<std::string> NodeOptions::*member, bool objects) {
  return [member, objects](const json& value, NodeOptions& options) -> std::string {
    std::vector<std::string> out;
    if (value.is_string()) {
      out.push_back(value.get<std::string>());
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i].is_string()) {
          out.push_back(value[i].get<std::string>());
        } else if (objects && value[i].is_object()) {
          out.push_back(value[i].dump());
        } else {
          return "[" + std::to_string(i) + "]: expected a string" + (objects ? " or a node spec object" : "");
        }
      }
    } else {
      return "expected a string or an array";
    }
    options.*member = std::move(out);
    return {};
  };
}

// "channels": ["bulk:4:bulk", "state:1:monotonic"] or
// {"bulk": {"parallelism": 4, "monotonic": false, "bulk": true}}.
std::string read_channels(const json& value, NodeOptions& options) {
  if (!value.is_object()) return list(&NodeOptions::channels, false)(value, options);
  std::vector<std::string> out;
  for (const auto& [name, channel] : value.items()) {
    if (!channel.is_object()) return name + ": expected {\"parallelism\": N, \"monotonic\": BOOL, \"bulk\": BOOL}";
    std::int64_t parallelism = 1;
    bool monotonic = false, bulk = false;
    for (const auto& [key, field] : channel.items()) {
      if (key == "parallelism" && field.is_number_integer()) {
        parallelism = field.get<std::int64_t>();
      } else if (key == "monotonic" && field.is_boolean()) {
        monotonic = field.get<bool>();
      } else if (key == "bulk" && field.is_boolean()) {
        bulk = field.get<bool>();
      } else {
        return name + "." + key + ": unknown key or wrong type";
      }
    }
    out.push_back(name + ":" + std::to_string(parallelism) + (monotonic ? ":monotonic" : "") + (bulk ? ":bulk" : ""));
  }
  options.channels = std::move(out);
  return {};
}

// "presence_max_delta_sizes": "100,1000,10000" or [100, 1000, 10000].
std::string read_delta_sizes(const json& value, NodeOptions& options) {
  if (value.is_string()) {
    options.presence_max_delta_sizes = value.get<std::string>();
    return {};
  }
  if (!value.is_array() || value.empty()) return "expected an array of integers or \"N,N,...\"";
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_number_unsigned()) return "[" + std::to_string(i) + "]: expected a positive integer";
    out += (i == 0 ? "" : ",") + std::to_string(value[i].get<std::uint64_t>());
  }
  options.presence_max_delta_sizes = std::move(out);
  return {};
}

std::map<std::string, Reader, std::less<>> readers(const fs::path& base) {
  return {
      {"name", text(&NodeOptions::name)},
      {"listen", list(&NodeOptions::listen, false)},
      {"admin", text(&NodeOptions::admin)},
      {"secret_file", path_in(base, &NodeOptions::secret_file)},
      {"join", list(&NodeOptions::join, true)},
      {"data_dir", path_in(base, &NodeOptions::data_dir)},
      {"channels", read_channels},
      {"datastore", list(&NodeOptions::datastore, false)},
      {"datastore_pool_size", integer(&NodeOptions::datastore_pool_size)},
      {"lmdb_map_size_mb", integer(&NodeOptions::lmdb_map_size_mb)},
      {"insecure", boolean(&NodeOptions::insecure)},
      {"test_only_disable_dedupe", boolean(&NodeOptions::test_only_disable_dedupe)},
      {"heartbeat_ms", integer(&NodeOptions::heartbeat_ms)},
      {"peer_timeout_ms", integer(&NodeOptions::peer_timeout_ms)},
      {"gossip_interval_ms", integer(&NodeOptions::gossip_interval_ms)},
      {"retransmit_interval_ms", integer(&NodeOptions::retransmit_interval_ms)},
      {"ack_timeout_ms", integer(&NodeOptions::ack_timeout_ms)},
      {"transport_heartbeat_ms", integer(&NodeOptions::transport_heartbeat_ms)},
      {"dead_peer_timeout_ms", integer(&NodeOptions::dead_peer_timeout_ms)},
      {"handshake_timeout_ms", integer(&NodeOptions::handshake_timeout_ms)},
      {"handshakes_pending_max", integer(&NodeOptions::handshakes_pending_max)},
      {"handshakes_reserved_for_members", integer(&NodeOptions::handshakes_reserved_for_members)},
      {"handshakes_per_source_max", integer(&NodeOptions::handshakes_per_source_max)},
      {"handshake_first_bytes_timeout_ms", integer(&NodeOptions::handshake_first_bytes_timeout_ms)},
      {"join_retry_initial_ms", integer(&NodeOptions::join_retry_initial_ms)},
      {"join_retry_max_ms", integer(&NodeOptions::join_retry_max_ms)},
      {"join_timeout_ms", integer(&NodeOptions::join_timeout_ms)},
      {"admin_connections_max", integer(&NodeOptions::admin_connections_max)},
      {"admin_read_timeout_ms", integer(&NodeOptions::admin_read_timeout_ms)},
      {"admin_queue_max", integer(&NodeOptions::admin_queue_max)},
      {"sink_capacity", integer(&NodeOptions::sink_capacity)},
      {"sink_max_bytes", integer(&NodeOptions::sink_max_bytes)},
      {"worker_threads", integer(&NodeOptions::worker_threads)},
      {"busy_poll_us", integer(&NodeOptions::busy_poll_us)},
      {"bulk_io_nice", integer(&NodeOptions::bulk_io_nice)},
      {"bulk_io_at_nice", boolean(&NodeOptions::bulk_io_at_nice)},
      {"log_level", text(&NodeOptions::log_level)},
      {"log_format", text(&NodeOptions::log_format)},
      {"presence_disabled", boolean(&NodeOptions::presence_disabled)},
      {"presence_name", text(&NodeOptions::presence_name)},
      {"presence_channel", text(&NodeOptions::presence_channel)},
      {"presence_pool_size", integer(&NodeOptions::presence_pool_size)},
      {"presence_broadcast_period_ms", integer(&NodeOptions::presence_broadcast_period_ms)},
      {"presence_max_silent_periods", integer(&NodeOptions::presence_max_silent_periods)},
      {"presence_down_period_ms", integer(&NodeOptions::presence_down_period_ms)},
      {"presence_permdown_period_ms", integer(&NodeOptions::presence_permdown_period_ms)},
      {"presence_clock_sample_periods", integer(&NodeOptions::presence_clock_sample_periods)},
      {"presence_max_delta_sizes", read_delta_sizes},
      {"presence_delta_flush_ms", integer(&NodeOptions::presence_delta_flush_ms)},
      {"presence_owners_max", integer(&NodeOptions::presence_owners_max)},
      {"presence_lease_max_ms", integer(&NodeOptions::presence_lease_max_ms)},
  };
}

}  // namespace

Result<void> load_config_file(const fs::path& file, NodeOptions& options) {
  const std::string where = "--config " + file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(errc::io_error, where + ": cannot read the file");
  std::ostringstream content;
  content << in.rdbuf();
  if (content.str().size() > config_file_max_bytes) return make_error(errc::invalid_field, where + ": larger than 1 MiB");
  const auto document = json::parse(content.str(), nullptr, false);
  if (document.is_discarded()) return make_error(errc::invalid_json, where + ": not valid JSON");
  if (!document.is_object()) return make_error(errc::invalid_field, where + ": expected a JSON object");
  const auto known = readers(fs::absolute(file).parent_path());
  for (const auto& [key, value] : document.items()) {
    const auto reader = known.find(key);
    if (reader == known.end()) return make_error(errc::invalid_field, where + ": unknown key '" + key + "'");
    if (auto problem = reader->second(value, options); !problem.empty()) {
      return make_error(errc::invalid_field, where + ": key '" + key + "': " + problem);
    }
  }
  return {};
}

}  // namespace plexus::node
