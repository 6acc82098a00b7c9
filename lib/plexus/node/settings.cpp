// resolve(): every node option checked, each error naming its flag: the
// ranges from the option tables (options.hpp), then what a range cannot say. Nothing is started here; the only side
// effects are reading the key file and creating/probing the data directory.
#include <asio/ip/address.hpp>
#include <unistd.h>

#include <array>
#include <algorithm>
#include <fstream>
#include <tuple>

#include "plexus/core/errors.hpp"
#include "plexus/core/fault.hpp"
#include "plexus/node/node.hpp"
#include "plexus/node/options.hpp"

namespace plexus::node {
namespace {

namespace fs = std::filesystem;

Error flag_error(std::string_view flag, const std::string& what) {
  return make_error(errc::invalid_field, std::string(flag) + ": " + what);
}

// A library error's detail when it has one ("listen_addr: must be ..."), else its message.
std::string reason(const Error& error) { return error.detail.empty() ? error.message() : error.detail; }

struct ParsedChannel {
  std::string name;
  ChannelSpec spec;
  bool bulk = false;  // peer::Config::bulk_channels
};

// NAME:PARALLELISM[:monotonic][:bulk]
Result<ParsedChannel> parse_channel(const std::string& text) {
  const auto bad = [&](const std::string& what) { return flag_error("--channel " + text, what); };
  const auto first = text.find(':');
  if (first == std::string::npos) return bad("expected NAME:PARALLELISM[:monotonic][:bulk]");
  ParsedChannel out;
  out.name = text.substr(0, first);
  std::string rest = text.substr(first + 1);
  for (auto flag = rest.rfind(':'); flag != std::string::npos; flag = rest.rfind(':')) {
    const std::string word = rest.substr(flag + 1);
    if (word == "monotonic" && !out.spec.monotonic) out.spec.monotonic = true;
    else if (word == "bulk" && !out.bulk) out.bulk = true;
    else return bad("after the parallelism only 'monotonic' and 'bulk', each once");
    rest.resize(flag);
  }
  if (rest.empty() || rest.size() > 3 || rest.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(rest) < 1 || std::stoul(rest) > channel_parallelism_max) {
    return bad("parallelism must be 1.." + std::to_string(channel_parallelism_max));
  }
  out.spec.parallelism = std::uint32_t(std::stoul(rest));
  if (auto ok = validate_channel_name(out.name, "channel name"); !ok) return bad(reason(ok.error()));
  if (out.name == peer::control_channel) return bad("_control is reserved");
  return out;
}

// What a range cannot say: options that bound one another.
Result<void> check_timers(const NodeOptions& o) {
  if (o.peer_timeout_ms < 2 * o.heartbeat_ms) return flag_error("--peer-timeout-ms", "must be at least twice --heartbeat-ms");
  if (o.dead_peer_timeout_ms < 2 * o.transport_heartbeat_ms) {
    return flag_error("--dead-peer-timeout-ms", "must be at least twice --transport-heartbeat-ms");
  }
  if (o.handshakes_reserved_for_members >= o.handshakes_pending_max) {
    return flag_error("--handshakes-reserved-for-members", "must be less than --handshakes-pending-max");
  }
  if (o.join_retry_max_ms < o.join_retry_initial_ms) {
    return flag_error("--join-retry-max-ms", "must be at least --join-retry-initial-ms");
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
  if (!o.source_address.empty()) {
    std::error_code ec;
    (void)asio::ip::make_address(o.source_address, ec);
    if (ec) return flag_error("--source-address", "not an IP address: " + o.source_address);
    config.transport.source_address = o.source_address;
  }
  for (const auto& text : o.channels) {
    auto channel = parse_channel(text);
    if (!channel) return channel.error();
    config.channels.insert({channel->name, channel->spec});
    if (channel->bulk) config.bulk_channels.insert(channel->name);
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
  config.transport.admission = transport::AdmissionLimits{
      std::size_t(o.handshakes_pending_max), std::size_t(o.handshakes_reserved_for_members),
      std::size_t(o.handshakes_per_source_max), peer::Millis(o.handshake_first_bytes_timeout_ms)};
  config.dispatch_queue_max = std::size_t(o.dispatch_queue_max);
  config.unattached_incoming_max = std::size_t(o.unattached_incoming_max);
  config.worker_threads = std::size_t(o.worker_threads);
  config.bulk_io_nice = o.bulk_io_nice;
  config.bulk_io_idle = !o.bulk_io_at_nice;
  return {};
}

// "100,1000,10000": positive integers; the library checks that they increase.
Result<std::vector<std::size_t>> parse_sizes(const std::string& text) {
  std::vector<std::size_t> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos) {
      return flag_error("--presence-max-delta-sizes", "expected comma-separated integers, got '" + text + "'");
    }
    out.push_back(std::stoul(part));
    start = end + 1;
  }
  return out;
}

// The library names its options as Phoenix does ("down_period: ..."); an
// operator reads the flag ("--presence-down-period-ms: ...").
std::string presence_flag(std::string_view option) {
  if (option == "delta_flush_period") return "--presence-delta-flush-ms";
  std::string flag = "--presence-";
  for (const char c : option) flag += c == '_' ? '-' : c;
  return option.ends_with("_period") ? flag + "-ms" : flag;
}

Result<void> resolve_presence(const NodeOptions& o, Settings& settings) {
  settings.presence_enabled = !o.presence_disabled;
  presence::Options& p = settings.presence;
  p.name = o.presence_name;
  p.channel = o.presence_channel;
  p.pool_size = std::uint32_t(o.presence_pool_size);
  p.broadcast_period = presence::Millis(o.presence_broadcast_period_ms);
  p.max_silent_periods = std::uint32_t(o.presence_max_silent_periods);
  p.down_period = presence::Millis(o.presence_down_period_ms);
  p.permdown_period = presence::Millis(o.presence_permdown_period_ms);
  p.clock_sample_periods = std::uint32_t(o.presence_clock_sample_periods);
  auto sizes = parse_sizes(o.presence_max_delta_sizes);
  if (!sizes) return sizes.error();
  p.max_delta_sizes = std::move(*sizes);
  p.delta_flush_period = presence::Millis(o.presence_delta_flush_ms);
  if (auto valid = presence::validate(p); !valid) {
    const std::string detail = reason(valid.error());
    const auto colon = detail.find(':');
    const std::string option = colon == std::string::npos ? detail : detail.substr(0, colon);
    return flag_error(presence_flag(option), colon == std::string::npos ? detail : detail.substr(colon + 2));
  }
  settings.presence_owners_max = std::size_t(o.presence_owners_max);
  settings.presence_lease_max = peer::Millis(o.presence_lease_max_ms);
  if (!settings.presence_enabled) return {};
  if (auto ok = validate_channel_name(p.channel, "channel name"); !ok) {
    return flag_error("--presence-channel", reason(ok.error()));
  }
  if (settings.peer.channels.contains(p.channel) || p.channel == peer::control_channel) {
    return flag_error("--presence-channel", "'" + p.channel + "' is already a channel (--channel): pick another");
  }
  // Shard i sends with partition key i: one ordered connection per shard, up to the channel maximum.
  settings.peer.channels[p.channel] = ChannelSpec{std::min(p.pool_size, channel_parallelism_max), false};
  return {};
}

Result<void> resolve_datastores(const NodeOptions& o, Settings& settings) {
  for (const auto& text : o.datastore) {
    auto spec = store::parse_datastore_spec(text, fs::current_path());
    if (!spec) return flag_error("--datastore", reason(spec.error()));
    for (const auto& other : settings.datastores) {
      if (other.name == spec->name) return flag_error("--datastore", "'" + spec->name + "' is given twice");
    }
    settings.datastores.push_back(std::move(*spec));
  }
  const bool has_main = std::any_of(settings.datastores.begin(), settings.datastores.end(),
                                    [](const auto& d) { return d.name == store::default_datastore; });
  if (!has_main && !o.data_dir.empty()) {
    settings.datastores.push_back(store::DatastoreSpec{std::string(store::default_datastore), store::BackendKind::lmdb,
                                                       (fs::path(o.data_dir) / "store" / "main").string()});
  }
  settings.datastore_options.postgres_pool_size = std::size_t(o.datastore_pool_size);
  settings.datastore_options.lmdb_map_size_bytes = std::size_t(o.lmdb_map_size_mb) << 20;
  settings.datastore_config = o.datastore_config;
  settings.context_registry_timeout = std::chrono::milliseconds(o.context_registry_timeout_ms);
  if (!o.datastore_config.empty()) {
    // The global context registry talks on its own channel, one ordered connection (one core).
    constexpr std::string_view channel = "_contexts";
    if (settings.peer.channels.contains(std::string(channel))) {
      return flag_error("--datastore-config", "channel '" + std::string(channel) + "' is taken (--channel): pick another name for it");
    }
    settings.context_channel = channel;
    settings.peer.channels[settings.context_channel] = ChannelSpec{1, false};
  }
  return {};
}

// --tenants: the channel of the registry and calls, the policies, the datastore.
Result<void> resolve_tenants(const NodeOptions& o, Settings& settings) {
  TenantSettings& t = settings.tenants;
  t.enabled = o.tenants;
  t.module_libs = o.module_lib;
  t.datastore = o.tenant_datastore;
  t.stable_after = std::chrono::milliseconds(o.tenant_stable_after_ms);
  t.call_deadline = std::chrono::milliseconds(o.tenant_call_deadline_ms);
  t.calls_pending_max = std::size_t(o.tenant_calls_pending_max);
  t.anti_entropy = std::chrono::milliseconds(o.tenant_anti_entropy_ms);
  t.lease_ttl = std::chrono::milliseconds(o.tenant_lease_ttl_ms);
  t.rebalance_per_s = std::size_t(o.tenant_rebalance_per_s);
  t.events_keep = std::uint64_t(o.tenant_events_keep);
  for (const auto& text : o.tenant_policy) {
    const auto eq = text.find('=');
    const std::string policy = eq == std::string::npos ? "" : text.substr(eq + 1);
    if (eq == 0 || eq == std::string::npos || (policy != "majority" && policy != "available")) {
      return flag_error("--tenant-policy " + text, "expected MODULE=majority or MODULE=available");
    }
    t.policies[text.substr(0, eq)] = policy;
  }
  if (!t.enabled) return {};
  constexpr std::string_view channel = "_tenants";
  if (settings.peer.channels.contains(std::string(channel))) {
    return flag_error("--tenants", "channel '" + std::string(channel) + "' is taken (--channel): pick another name for it");
  }
  t.channel = channel;
  // Partition 0 carries the registry in order; calls spread over the others by tenant.
  settings.peer.channels[t.channel] = ChannelSpec{4, false};
  return {};
}

}  // namespace

Result<Settings> resolve(const NodeOptions& o) {
  Settings settings;
  // Names first (an operator reads the flags in that order), then every range at once.
  if (o.name.empty()) return flag_error("--name", "required (a name unique in the cluster)");
  if (auto ok = check_ranges(o); !ok) return ok.error();
  if (auto ok = resolve_peer(o, settings.peer); !ok) return ok.error();
  if (o.test_only_disable_dedupe && !fault::compiled_in) {
    return flag_error("--test-only-disable-dedupe", "not in this build (release builds compile test hooks out)");
  }
  settings.peer_test_hooks.disable_dedupe = o.test_only_disable_dedupe;
  auto admin = parse_listen_addr(o.admin);
  if (!admin) return flag_error("--admin", reason(admin.error()));
  settings.admin = *admin;
  if (auto ok = resolve_joins(o.join, settings); !ok) return ok.error();
  settings.join_retry = {peer::Millis(o.join_retry_initial_ms), peer::Millis(o.join_retry_max_ms),
                         peer::Millis(o.join_timeout_ms)};
  settings.admin_limits = {std::size_t(o.admin_connections_max), peer::Millis(o.admin_read_timeout_ms),
                           std::size_t(o.admin_queue_max)};
  if (auto ok = resolve_presence(o, settings); !ok) return ok.error();
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
  settings.busy_poll = std::chrono::microseconds(o.busy_poll_us);
  if (o.secret_file.empty()) return flag_error("--secret-file", "required (create one with: plexus keygen FILE)");
  auto key = secure::read_cluster_key(o.secret_file);
  if (!key) return flag_error("--secret-file", reason(key.error()));
  settings.peer.key = *key;
  if (!o.data_dir.empty()) {
    if (auto ok = check_data_dir(o.data_dir); !ok) return ok.error();
    settings.peer.data_dir = o.data_dir;
  }
  if (auto ok = resolve_datastores(o, settings); !ok) return ok.error();
  if (auto ok = resolve_tenants(o, settings); !ok) return ok.error();
  return settings;
}

}  // namespace plexus::node
