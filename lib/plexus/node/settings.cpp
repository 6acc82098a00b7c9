// resolve(): every node option checked, in the order an operator reads the
// flags, each error naming its flag. Nothing is started here; the only side
// effects are reading the key file and creating/probing the data directory.
#include <unistd.h>

#include <array>
#include <algorithm>
#include <fstream>
#include <tuple>

#include <sodium.h>

#include "plexus/core/errors.hpp"
#include "plexus/node/node.hpp"

namespace plexus::node {
namespace {

namespace fs = std::filesystem;

Error flag_error(std::string_view flag, const std::string& what) {
  return make_error(errc::invalid_field, std::string(flag) + ": " + what);
}

// A library error's detail when it has one ("listen_addr: must be ..."), else its message.
std::string reason(const Error& error) { return error.detail.empty() ? error.message() : error.detail; }

// NAME:PARALLELISM[:monotonic]
Result<std::pair<std::string, ChannelSpec>> parse_channel(const std::string& text) {
  const auto bad = [&](const std::string& what) { return flag_error("--channel " + text, what); };
  const auto first = text.find(':');
  if (first == std::string::npos) return bad("expected NAME:PARALLELISM[:monotonic]");
  const std::string name = text.substr(0, first);
  std::string rest = text.substr(first + 1);
  ChannelSpec spec;
  if (const auto second = rest.find(':'); second != std::string::npos) {
    if (rest.substr(second + 1) != "monotonic") return bad("the third part must be 'monotonic'");
    spec.monotonic = true;
    rest.resize(second);
  }
  if (rest.empty() || rest.size() > 3 || rest.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(rest) < 1 || std::stoul(rest) > channel_parallelism_max) {
    return bad("parallelism must be 1.." + std::to_string(channel_parallelism_max));
  }
  spec.parallelism = std::uint32_t(std::stoul(rest));
  if (auto ok = validate_channel_name(name, "channel name"); !ok) return bad(reason(ok.error()));
  if (name == peer::control_channel) return bad("_control is reserved");
  return std::pair{name, spec};
}

Result<void> check_range(std::string_view flag, int value, int min, int max) {
  if (value < min || value > max) {
    return flag_error(flag, "must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
                                std::to_string(value));
  }
  return {};
}

Result<void> check_timers(const NodeOptions& o) {
  const std::array<std::tuple<std::string_view, int, int, int>, 11> ranges{{
      {"--heartbeat-ms", o.heartbeat_ms, 1, 60'000},
      {"--peer-timeout-ms", o.peer_timeout_ms, 2, 3'600'000},
      {"--gossip-interval-ms", o.gossip_interval_ms, 10, 3'600'000},
      {"--retransmit-interval-ms", o.retransmit_interval_ms, 1, 600'000},
      {"--ack-timeout-ms", o.ack_timeout_ms, 1, 86'400'000},
      {"--transport-heartbeat-ms", o.transport_heartbeat_ms, 1, 60'000},
      {"--dead-peer-timeout-ms", o.dead_peer_timeout_ms, 2, 3'600'000},
      {"--handshake-timeout-ms", o.handshake_timeout_ms, 1, 600'000},
      {"--sink-capacity", o.sink_capacity, 1, 1'000'000},
      {"--sink-max-bytes", o.sink_max_bytes, 1024, 1 << 30},
      {"--worker-threads", o.worker_threads, 1, 64},
  }};
  for (const auto& [flag, value, min, max] : ranges) {
    if (auto ok = check_range(flag, value, min, max); !ok) return ok;
  }
  if (o.peer_timeout_ms < 2 * o.heartbeat_ms) return flag_error("--peer-timeout-ms", "must be at least twice --heartbeat-ms");
  if (o.dead_peer_timeout_ms < 2 * o.transport_heartbeat_ms) {
    return flag_error("--dead-peer-timeout-ms", "must be at least twice --transport-heartbeat-ms");
  }
  return {};
}

// The data directory must be a directory this process can create files in and read from.
Result<void> check_data_dir(const fs::path& dir) {
  const auto bad = [&](const std::string& what) { return flag_error("--data-dir " + dir.string(), what); };
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) return bad("not a directory");
  fs::create_directories(dir, ec);
  if (ec) return bad("cannot create: " + ec.message());
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) return bad("not readable and writable by this user");
  const fs::path probe = dir / ".plexusd-write-probe";
  if (!std::ofstream(probe)) return bad("cannot create files in it");
  fs::remove(probe, ec);
  const fs::path membership = dir / "membership.json";
  if (fs::exists(membership, ec) && (!fs::is_regular_file(membership, ec) || !std::ifstream(membership))) {
    return bad("membership.json is not a readable file");
  }
  return {};
}

Result<void> resolve_joins(const std::vector<std::string>& joins, Settings& settings) {
  for (const auto& text : joins) {
    if (!text.empty() && text.front() == '{') {
      auto spec = parse_node_spec(text);
      if (!spec) return flag_error("--join (node spec)", reason(spec.error()));
      settings.joins.emplace_back(std::move(*spec));
      continue;
    }
    auto address = parse_listen_addr(text);
    if (!address) return flag_error("--join", reason(address.error()));
    if (address->port == 0) return flag_error("--join " + text, "port 0 is not an address to join");
    settings.joins.emplace_back(*address);
  }
  return {};
}

Result<void> resolve_peer(const NodeOptions& o, peer::Config& config) {
  if (o.name.empty()) return flag_error("--name", "required (a name unique in the cluster)");
  if (auto ok = validate_node_name(o.name, "--name"); !ok) return flag_error("--name", reason(ok.error()));
  config.name = o.name;
  config.listen.clear();
  if (o.listen.empty()) return flag_error("--listen", "at least one address is needed");
  for (const auto& text : o.listen) {
    auto address = parse_listen_addr(text);
    if (!address) return flag_error("--listen", reason(address.error()));
    config.listen.push_back(*address);
  }
  for (const auto& text : o.channels) {
    auto channel = parse_channel(text);
    if (!channel) return channel.error();
    config.channels.insert(*channel);
  }
  if (auto ok = check_timers(o); !ok) return ok;
  config.insecure = o.insecure;
  config.heartbeat_interval = peer::Millis(o.heartbeat_ms);
  config.peer_timeout = peer::Millis(o.peer_timeout_ms);
  config.gossip_interval = peer::Millis(o.gossip_interval_ms);
  config.retransmit_interval = peer::Millis(o.retransmit_interval_ms);
  config.ack_timeout = peer::Millis(o.ack_timeout_ms);
  config.transport.heartbeat_interval = peer::Millis(o.transport_heartbeat_ms);
  config.transport.dead_peer_timeout = peer::Millis(o.dead_peer_timeout_ms);
  config.transport.handshake_timeout = peer::Millis(o.handshake_timeout_ms);
  config.worker_threads = std::size_t(o.worker_threads);
  config.test_only_disable_dedupe = o.test_only_disable_dedupe;
  return {};
}

}  // namespace

Result<Settings> resolve(const NodeOptions& o) {
  Settings settings;
  if (auto ok = resolve_peer(o, settings.peer); !ok) return ok.error();
  auto admin = parse_listen_addr(o.admin);
  if (!admin) return flag_error("--admin", reason(admin.error()));
  settings.admin = *admin;
  if (auto ok = resolve_joins(o.join, settings); !ok) return ok.error();
  static const std::array<std::string_view, 6> levels{"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(levels.begin(), levels.end(), o.log_level) == levels.end()) {
    return flag_error("--log-level", "must be trace, debug, info, warn, error or off, got '" + o.log_level + "'");
  }
  settings.log_level = o.log_level;
  if (o.log_format != "text" && o.log_format != "json") {
    return flag_error("--log-format", "must be text or json, got '" + o.log_format + "'");
  }
  settings.log_format = o.log_format == "json" ? LogFormat::json : LogFormat::text;
  settings.sink_capacity = std::size_t(o.sink_capacity);
  settings.sink_max_bytes = std::size_t(o.sink_max_bytes);
  if (o.secret_file.empty()) return flag_error("--secret-file", "required (create one with: plexus keygen FILE)");
  auto key = secure::read_cluster_key(o.secret_file);
  if (!key) return flag_error("--secret-file", reason(key.error()));
  settings.peer.key = *key;
  if (!o.data_dir.empty()) {
    if (auto ok = check_data_dir(o.data_dir); !ok) return ok.error();
    settings.peer.data_dir = o.data_dir;
  }
  return settings;
}

std::string admin_token(const secure::ClusterKey& key) {
  const auto subkey = secure::derive_subkey(key, admin_token_purpose);
  std::array<char, 2 * 32 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), subkey.data(), subkey.size());
  return std::string(hex.data(), 2 * 32);
}

Result<std::string> read_token_file(const fs::path& file) {
  std::ifstream in(file);
  std::string token;
  if (!in || !std::getline(in, token)) return make_error(errc::io_error, file.string() + ": cannot read the token file");
  if (token.size() != 64 || token.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return make_error(errc::invalid_field, file.string() + ": expected 64 lowercase hex digits (see plexus token)");
  }
  return token;
}

}  // namespace plexus::node
