// Option tables (options.hpp): the node's own table, the list of every
// table, range checks and the Markdown of docs/operations.md.
#include "plexus/node/options.hpp"

#include <sstream>

#include "plexus/core/errors.hpp"
#include "plexus/node/node.hpp"

namespace plexus::node {

OptionSpec option(std::string_view flag, OptionSpec::Member member, OptionKind kind, std::string_view help, int min,
                  int max, std::string_view unit, std::string_view key) {
  std::string derived(key);
  if (derived.empty()) {
    for (const char c : flag.substr(2)) derived += c == '-' ? '_' : c;
  }
  return OptionSpec{flag, std::move(derived), member, kind, min, max, help, unit, {}};
}

OptionSpec integer_option(std::string_view flag, int NodeOptions::*member, int min, int max, std::string_view help,
                          std::string_view unit) {
  return option(flag, member, OptionKind::integer, help, min, max, unit);
}

namespace {

using K = OptionKind;
using O = NodeOptions;

// The node itself: its identity, the admin API, the runtime, logging.
const OptionTable& node_options() {
  static const OptionTable table{"node", "The node and its admin API", {
      option("--name", &O::name, K::text, "node name, unique in the cluster ([A-Za-z0-9_.@-], required)")
          .details("**required**: node name, unique in the cluster"),
      option("--secret-file", &O::secret_file, K::path, "cluster key file (plexus keygen FILE; required)")
          .details("**required**: cluster key file (mode 0600)"),
      option("--data-dir", &O::data_dir, K::path, "keeps the membership, so a restart rejoins without --join")
          .details("keeps `membership.json`; created if missing; must be a writable directory"),
      option("--admin", &O::admin, K::text, "IP:PORT of the admin HTTP API; port 0 picks one")
          .details("admin API address; port 0 picks one"),
      integer_option("--admin-connections-max", &O::admin_connections_max, 1, 65'536,
                     "admin connections at once (the oldest unfinished is closed when full)")
          .details("admin connections open at once; past it the oldest one still sending its request is closed"),
      integer_option("--admin-read-timeout-ms", &O::admin_read_timeout_ms, 1, 600'000,
                     "an admin connection must send its whole request within this", "ms")
          .details("an admin connection must send its whole request within this of its accept (the rest of a body over 64 KiB: within this of its turn)"),
      integer_option("--admin-queue-max", &O::admin_queue_max, 1, 65'536,
                     "whole admin requests waiting for a thread; beyond: 503")
          .details("whole admin requests waiting for one of the 4 admin threads; past it `503 busy` at once"),
      integer_option("--worker-threads", &O::worker_threads, 1, 64, "threads that run server handlers (the runtime's pool)")
          .details("threads running server handlers"),
      integer_option("--busy-poll-us", &O::busy_poll_us, 0, 100'000,
                     "poll up to this long after work before blocking, adaptively (0: off)", "us")
          .details("after work, the service thread polls up to this long before it blocks, adaptively (0: off; see \"Latency and busy polling\")"),
      option("--log-level", &O::log_level, K::text, "trace|debug|info|warn|error|off")
          .details("`trace`, `debug`, `info`, `warn`, `error`, `off`"),
      option("--log-format", &O::log_format, K::text, "text|json (one JSON object per line)")
          .details("`text`, or `json`: one object per line, `{\"time\", \"level\", \"node\", \"msg\"}`"),
  }};
  return table;
}

std::string range_text(const OptionSpec& spec) {
  if (spec.kind != OptionKind::integer) return "";
  return std::to_string(spec.min) + ".." + std::to_string(spec.max);
}

// A table cell: '|' would end it.
std::string cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string_view kind_text(OptionKind kind) {
  switch (kind) {
    case OptionKind::integer: return "integer";
    case OptionKind::boolean: return "flag";
    case OptionKind::text: return "text";
    case OptionKind::path: return "path";
    case OptionKind::list:
    case OptionKind::join_list:
    case OptionKind::channels: return "repeatable";
    case OptionKind::sizes: return "N,N,...";
  }
  return "";
}

}  // namespace

const std::vector<const OptionTable*>& option_tables() {
  static const std::vector<const OptionTable*> tables = [] {
    std::vector<const OptionTable*> out{&node_options()};
    for (const auto& kind : standard_service_kinds()) out.push_back(&kind.options());
    return out;
  }();
  return tables;
}

const OptionSpec* find_option_by_key(std::string_view key) {
  for (const auto* table : option_tables()) {
    for (const auto& spec : table->options) {
      if (spec.key == key) return &spec;
    }
  }
  return nullptr;
}

Result<void> check_ranges(const NodeOptions& options) {
  for (const auto* table : option_tables()) {
    for (const auto& spec : table->options) {
      const auto* member = std::get_if<int NodeOptions::*>(&spec.member);
      if (!member) continue;
      const int value = options.*(*member);
      if (value < spec.min || value > spec.max) {
        return make_error(errc::invalid_field, std::string(spec.flag) + ": must be " + range_text(spec) + ", got " +
                                                   std::to_string(value));
      }
    }
  }
  return {};
}

std::string default_text(const OptionSpec& spec) {
  static const NodeOptions defaults;
  return std::visit(
      [](auto member) -> std::string {
        const auto& value = defaults.*member;
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, int>) {
          return std::to_string(value);
        } else if constexpr (std::is_same_v<T, bool>) {
          return value ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return value;
        } else {
          std::string out;
          for (const auto& item : value) out += (out.empty() ? "" : ", ") + item;
          return out;
        }
      },
      spec.member);
}

std::string options_markdown() {
  std::ostringstream out;
  for (const auto* table : option_tables()) {
    out << "#### " << table->title << " (`" << table->service << "`)\n\n"
        << "| flag / key | default | range | meaning |\n"
        << "|---|---|---|---|\n";
    for (const auto& spec : table->options) {
      const std::string fallback = default_text(spec);
      const std::string unit = spec.unit.empty() ? "" : " " + std::string(spec.unit);
      out << "| `" << spec.flag << "` / `" << spec.key << "` | "
          << (fallback.empty() ? "" : "`" + cell(fallback) + "`") << " | "
          << (spec.kind == OptionKind::integer ? range_text(spec) + unit : std::string(kind_text(spec.kind))) << " | "
          << cell(spec.doc.empty() ? spec.help : spec.doc) << " |\n";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace plexus::node
