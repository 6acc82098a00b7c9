// The JSON config file of plexusd: one object whose keys are the option
// tables' config keys (options.hpp; docs/operations.md lists them). Flags given on the
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
#include <sstream>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/node/node.hpp"
#include "plexus/node/options.hpp"

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

Reader integer(int NodeOptions::*member, int min, int max) {
  return [member, min, max](const json& value, NodeOptions& options) -> std::string {
    if (!value.is_number_integer()) return "expected an integer";
    const auto number = value.get<std::int64_t>();
    if (number < min || number > max) {
      return "must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " + value.dump();
    }
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

// The reader of one option table row, by its kind.
Reader reader_of(const OptionSpec& spec, const fs::path& base) {
  using member_int = int NodeOptions::*;
  using member_bool = bool NodeOptions::*;
  using member_text = std::string NodeOptions::*;
  using member_list = std::vector<std::string> NodeOptions::*;
  switch (spec.kind) {
    case OptionKind::integer: return integer(std::get<member_int>(spec.member), spec.min, spec.max);
    case OptionKind::boolean: return boolean(std::get<member_bool>(spec.member));
    case OptionKind::text: return text(std::get<member_text>(spec.member));
    case OptionKind::path: return path_in(base, std::get<member_text>(spec.member));
    case OptionKind::list: return list(std::get<member_list>(spec.member), false);
    case OptionKind::join_list: return list(std::get<member_list>(spec.member), true);
    case OptionKind::channels: return read_channels;
    case OptionKind::sizes: return read_delta_sizes;
  }
  return {};
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
  const auto base = fs::absolute(file).parent_path();
  for (const auto& [key, value] : document.items()) {
    const auto* spec = find_option_by_key(key);
    if (spec == nullptr) return make_error(errc::invalid_field, where + ": unknown key '" + key + "'");
    if (auto problem = reader_of(*spec, base)(value, options); !problem.empty()) {
      return make_error(errc::invalid_field, where + ": key '" + key + "': " + problem);
    }
  }
  return {};
}

}  // namespace plexus::node
