// Node configuration: the JSON file and resolve(), each bad setting named.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "plexus/core/fault.hpp"
#include "plexus/admin/token.hpp"
#include "plexus/node/node.hpp"
#include "plexus/node/options.hpp"

using namespace plexus;
using namespace plexus::node;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/plexus-node-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

NodeOptions valid(const TempDir& dir) {
  NodeOptions options;
  options.name = "n1";
  options.secret_file = (dir.path / "key").string();
  if (!fs::exists(options.secret_file)) REQUIRE(secure::write_new_cluster_key(options.secret_file).ok());
  return options;
}

std::string problem(const NodeOptions& options) {
  auto settings = resolve(options);
  REQUIRE_FALSE(settings.ok());
  return settings.error().detail;
}

}  // namespace

TEST_CASE("a config file sets every key, relative paths from its folder") {
  // Proves the file's keys map onto the options and paths resolve against the file.
  TempDir dir;
  const auto file = dir.write("node.json", R"({"name": "n2", "listen": "127.0.0.1:7100", "secret_file": "key",
    "data_dir": "data", "join": ["127.0.0.1:7200", {"name": "x"}], "channels": {"bulk": {"parallelism": 4, "bulk": true}},
    "heartbeat_ms": 100, "peer_timeout_ms": 900, "log_format": "json", "insecure": true})");
  NodeOptions options;
  REQUIRE(load_config_file(file, options).ok());
  CHECK(options.name == "n2");
  CHECK(options.listen == std::vector<std::string>{"127.0.0.1:7100"});
  CHECK(fs::path(options.secret_file) == dir.path / "key");
  CHECK(fs::path(options.data_dir) == dir.path / "data");
  CHECK(options.join.size() == 2);
  CHECK(options.join[1] == R"({"name":"x"})");
  CHECK(options.channels == std::vector<std::string>{"bulk:4:bulk"});
  CHECK(options.heartbeat_ms == 100);
  CHECK(options.insecure);
  CHECK(options.log_format == "json");
}

TEST_CASE("the test-only dedupe switch is off unless set, and reaches the peer config") {
  // Proves plexus-harness's broken-build switch is opt-in and wired through (docs/harness.md).
  TempDir dir;
  NodeOptions options;
  CHECK_FALSE(options.test_only_disable_dedupe);
  REQUIRE(load_config_file(dir.write("t.json", R"({"test_only_disable_dedupe": true})"), options).ok());
  CHECK(options.test_only_disable_dedupe);
  // It reaches the peer service's TestHooks, never peer::Config, and only a
  // build with fault points (not release) accepts it.
  NodeOptions o = valid(dir);
  o.test_only_disable_dedupe = true;
  auto settings = resolve(o);
  if (fault::compiled_in) {
    REQUIRE(settings.ok());
    CHECK(settings->peer_test_hooks.disable_dedupe);
  } else {
    CHECK(problem(o).rfind("--test-only-disable-dedupe", 0) == 0);
  }
  o.test_only_disable_dedupe = false;
  auto plain = resolve(o);
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->peer_test_hooks.disable_dedupe);
}

TEST_CASE("unknown keys and wrong types in the config file are named") {
  // Proves a typo in the file is one clear error, never ignored.
  TempDir dir;
  NodeOptions options;
  auto unknown = load_config_file(dir.write("a.json", R"({"name": "a", "colour": "red"})"), options);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().detail.find("unknown key 'colour'") != std::string::npos);
  auto typed = load_config_file(dir.write("b.json", R"({"heartbeat_ms": "fast"})"), options);
  REQUIRE_FALSE(typed.ok());
  CHECK(typed.error().detail.find("'heartbeat_ms': expected an integer") != std::string::npos);
  auto broken = load_config_file(dir.write("c.json", "{"), options);
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().detail.find("not valid JSON") != std::string::npos);
  CHECK_FALSE(load_config_file(dir.path / "missing.json", options).ok());
}

TEST_CASE("a channel's flags: monotonic into its spec, bulk into peer::Config::bulk_channels") {
  TempDir dir;
  auto o = valid(dir);
  o.channels = {"stream:2:bulk", "state:1:monotonic", "both:3:bulk:monotonic", "plain:1"};
  auto settings = resolve(o);
  REQUIRE(settings.ok());
  CHECK(settings->peer.bulk_channels == std::set<std::string, std::less<>>{"both", "stream"});
  CHECK(settings->peer.channels.at("stream").parallelism == 2);
  CHECK_FALSE(settings->peer.channels.at("stream").monotonic);
  CHECK(settings->peer.channels.at("state").monotonic);
  CHECK(settings->peer.channels.at("both").monotonic);
  CHECK(settings->peer.channels.at("both").parallelism == 3);
}

TEST_CASE("resolve names the flag of each bad setting") {
  // Proves every rejected option says which flag is wrong.
  TempDir dir;
  auto o = valid(dir);
  REQUIRE(resolve(o).ok());
  auto bad = o;
  bad.listen = {"127.0.0.1:99999"};
  CHECK(problem(bad).starts_with("--listen"));
  bad = o;
  bad.admin = "localhost:80";
  CHECK(problem(bad).starts_with("--admin"));
  bad = o;
  bad.secret_file = (dir.path / "nope").string();
  CHECK(problem(bad).starts_with("--secret-file"));
  bad = o;
  bad.channels = {"bulk:0"};
  CHECK(problem(bad).starts_with("--channel bulk:0"));
  bad = o;
  bad.channels = {"bulk:2:bulk:bulk"};
  CHECK(problem(bad).starts_with("--channel bulk:2:bulk:bulk"));
  bad = o;
  bad.channels = {"bulk:2:fast"};
  CHECK(problem(bad).starts_with("--channel bulk:2:fast"));
  bad = o;
  bad.peer_timeout_ms = bad.heartbeat_ms;
  CHECK(problem(bad).starts_with("--peer-timeout-ms"));
  bad = o;
  bad.log_format = "xml";
  CHECK(problem(bad).starts_with("--log-format"));
  bad = o;
  bad.join = {"{\"name\": 1}"};
  CHECK(problem(bad).starts_with("--join"));
  bad = o;
  bad.data_dir = dir.write("file", "x").string();
  CHECK(problem(bad).find("not a directory") != std::string::npos);
  bad = o;
  bad.name = "";
  CHECK(problem(bad).starts_with("--name"));
  bad = o;
  bad.busy_poll_us = -1;
  CHECK(problem(bad).starts_with("--busy-poll-us"));
  bad = o;
  bad.bulk_io_nice = 20;
  CHECK(problem(bad).starts_with("--bulk-io-nice"));
}

TEST_CASE("busy polling and an idle bulk thread by default, both can be turned off; the thread keys reach the settings") {
  // Proves the --busy-poll-us and bulk thread defaults, and that busy_poll_us / bulk_io_nice /
  // bulk_io_at_nice are wired through (docs/operations.md).
  TempDir dir;
  auto o = valid(dir);
  auto settings = resolve(o);
  REQUIRE(settings.ok());
  CHECK(settings->busy_poll == std::chrono::microseconds(50));
  CHECK(settings->peer.bulk_io_nice == 10);
  CHECK(settings->peer.bulk_io_idle);
  REQUIRE(load_config_file(dir.write("p.json", R"({"busy_poll_us": 0, "bulk_io_nice": 5, "bulk_io_at_nice": true})"), o)
              .ok());
  settings = resolve(o);
  REQUIRE(settings.ok());
  CHECK(settings->busy_poll.count() == 0);
  CHECK_FALSE(settings->peer.bulk_io_idle);
  CHECK(settings->peer.bulk_io_nice == 5);
}

TEST_CASE("presence options: defaults add the tracker's channel; bad values name their flag") {
  // Proves the node runs a tracker by default on its own channel, and each
  // presence option is checked with Phoenix's rules, naming the flag.
  TempDir dir;
  auto o = valid(dir);
  auto settings = resolve(o);
  REQUIRE(settings.ok());
  CHECK(settings->presence_enabled);
  CHECK(settings->peer.channels.at("_presence").parallelism == 1);
  CHECK(settings->presence.broadcast_period == presence::Options{}.broadcast_period);
  o.presence_pool_size = 8;
  o.presence_max_delta_sizes = "10,20";
  settings = resolve(o);
  REQUIRE(settings.ok());
  CHECK(settings->peer.channels.at("_presence").parallelism == 8);
  CHECK(settings->presence.max_delta_sizes == std::vector<std::size_t>{10, 20});

  auto bad = valid(dir);
  bad.presence_down_period_ms = 150;  // < 2 x broadcast (100)
  CHECK(problem(bad) == "--presence-down-period-ms: must be at least twice broadcast_period");
  bad = valid(dir);
  bad.presence_permdown_period_ms = bad.presence_down_period_ms;
  CHECK(problem(bad).starts_with("--presence-permdown-period-ms: must be greater"));
  bad = valid(dir);
  bad.presence_pool_size = 0;
  CHECK(problem(bad).starts_with("--presence-pool-size: must be 1..1024"));
  bad = valid(dir);
  bad.presence_max_delta_sizes = "100,50";
  CHECK(problem(bad).starts_with("--presence-max-delta-sizes"));
  bad.presence_max_delta_sizes = "100,x";
  CHECK(problem(bad).starts_with("--presence-max-delta-sizes: expected comma-separated integers"));
  bad = valid(dir);
  bad.presence_name = "";
  CHECK(problem(bad).starts_with("--presence-name"));
  bad = valid(dir);
  bad.channels = {"_presence:2"};
  CHECK(problem(bad).starts_with("--presence-channel: '_presence' is already a channel"));
  bad = valid(dir);
  bad.presence_owners_max = 0;
  CHECK(problem(bad).starts_with("--presence-owners-max"));

  auto off = valid(dir);
  off.presence_disabled = true;
  off.channels = {"_presence:2"};  // the name is free when no tracker runs
  settings = resolve(off);
  REQUIRE(settings.ok());
  CHECK_FALSE(settings->presence_enabled);
}

TEST_CASE("presence keys in the config file") {
  // Proves the presence_* keys read as their flags, max_delta_sizes as a string or an array.
  TempDir dir;
  NodeOptions options;
  REQUIRE(load_config_file(dir.write("p.json", R"({"presence_pool_size": 4, "presence_broadcast_period_ms": 50,
    "presence_max_delta_sizes": [10, 100], "presence_disabled": false, "presence_owners_max": 7})"), options).ok());
  CHECK(options.presence_pool_size == 4);
  CHECK(options.presence_broadcast_period_ms == 50);
  CHECK(options.presence_max_delta_sizes == "10,100");
  CHECK(options.presence_owners_max == 7);
  auto typed = load_config_file(dir.write("q.json", R"({"presence_max_delta_sizes": [10, "x"]})"), options);
  REQUIRE_FALSE(typed.ok());
  CHECK(typed.error().detail.find("'presence_max_delta_sizes': [1]: expected a positive integer") != std::string::npos);
}

TEST_CASE("the admin token is the hex of the derived subkey, and token files are checked") {
  // Proves the CLI and the node agree on the token and a bad token file is refused.
  TempDir dir;
  const auto key = secure::generate_cluster_key();
  const auto token = admin::admin_token(key);
  CHECK(token.size() == 64);
  CHECK(token == admin::admin_token(key));
  CHECK(token != admin::admin_token(secure::generate_cluster_key()));
  auto read = admin::read_token_file(dir.write("t", token + "\n"));
  REQUIRE(read.ok());
  CHECK(*read == token);
  CHECK_FALSE(admin::read_token_file(dir.write("u", "xyz")).ok());
}

TEST_CASE("admission, join retry and admin limits: defaults, config keys, and bad values named") {
  // Proves the settings of fair admission, retried joins and the admin gate reach their structs and are range-checked.
  TempDir dir;
  const auto file = dir.write("node.json", R"({"handshakes_pending_max": 100, "handshakes_reserved_for_members": 10,
    "handshakes_per_source_max": 5, "handshake_first_bytes_timeout_ms": 300, "join_retry_initial_ms": 20,
    "join_retry_max_ms": 900, "join_timeout_ms": 4000, "admin_connections_max": 50, "admin_read_timeout_ms": 700,
    "admin_queue_max": 7})");
  auto options = valid(dir);
  auto defaults = resolve(options);
  REQUIRE(defaults.ok());
  CHECK(defaults->peer.transport.admission.capacity == 256);
  CHECK(defaults->join_retry.timeout.count() == 0);
  CHECK(defaults->admin_limits.connections_max == 256);
  REQUIRE(load_config_file(file, options).ok());
  auto settings = resolve(options);
  REQUIRE(settings.ok());
  const auto& admission = settings->peer.transport.admission;
  CHECK(admission.capacity == 100);
  CHECK(admission.reserved_for_members == 10);
  CHECK(admission.per_source_max == 5);
  CHECK(admission.first_bytes_timeout.count() == 300);
  CHECK(settings->join_retry.initial.count() == 20);
  CHECK(settings->join_retry.max.count() == 900);
  CHECK(settings->join_retry.timeout.count() == 4000);
  CHECK(settings->admin_limits.connections_max == 50);
  CHECK(settings->admin_limits.read_timeout.count() == 700);
  CHECK(settings->admin_limits.queue_max == 7);

  auto bad = valid(dir);
  bad.handshakes_reserved_for_members = 256;
  CHECK(problem(bad) == "--handshakes-reserved-for-members: must be less than --handshakes-pending-max");
  bad = valid(dir);
  bad.join_retry_max_ms = 100;
  CHECK(problem(bad) == "--join-retry-max-ms: must be at least --join-retry-initial-ms");
  bad = valid(dir);
  bad.admin_queue_max = 0;
  CHECK(problem(bad).starts_with("--admin-queue-max: must be 1..65536"));
  bad = valid(dir);
  bad.handshake_first_bytes_timeout_ms = 0;
  CHECK(problem(bad).starts_with("--handshake-first-bytes-timeout-ms: must be 1..600000"));
}

TEST_CASE("every integer option of every table is range-checked under its own flag and config key") {
  // Proves the option tables drive the checks: each row's min and max are accepted by the
  // config file, one past either end is refused naming the key, and resolve names the flag.
  TempDir dir;
  std::size_t checked = 0;
  for (const auto* table : option_tables()) {
    for (const auto& spec : table->options) {
      const auto* member = std::get_if<int NodeOptions::*>(&spec.member);
      if (!member) continue;
      CAPTURE(spec.flag);
      NodeOptions options = valid(dir);
      const std::string key = "\"" + spec.key + "\": ";
      CHECK(load_config_file(dir.write("ok.json", "{" + key + std::to_string(spec.max) + "}"), options).ok());
      CHECK(options.*(*member) == spec.max);
      const auto refused = load_config_file(dir.write("bad.json", "{" + key + std::to_string(std::int64_t(spec.max) + 1) + "}"), options);
      REQUIRE_FALSE(refused.ok());
      CHECK(refused.error().detail.find("key '" + spec.key + "': must be ") != std::string::npos);
      options = valid(dir);
      options.*(*member) = spec.min - 1;
      CHECK(problem(options).starts_with(std::string(spec.flag) + ": must be " + std::to_string(spec.min) + ".."));
      options.*(*member) = spec.max + (spec.max < std::numeric_limits<int>::max() ? 1 : 0);
      if (spec.max < std::numeric_limits<int>::max()) CHECK(problem(options).starts_with(std::string(spec.flag) + ":"));
      ++checked;
    }
  }
  CHECK(checked >= 30);  // 34 today: a table losing its rows would show
}

TEST_CASE("every option has one config key, and every flag of every table is unique") {
  // Proves the tables are the single declaration: no two rows share a flag or a key, and a key finds its row.
  std::set<std::string> flags, keys;
  for (const auto* table : option_tables()) {
    for (const auto& spec : table->options) {
      CHECK(flags.insert(std::string(spec.flag)).second);
      CHECK(keys.insert(spec.key).second);
      CHECK(find_option_by_key(spec.key) == &spec);
    }
  }
  CHECK(keys.count("channels") == 1);
  CHECK(find_option_by_key("channel") == nullptr);
}

TEST_CASE("datastore contexts: --datastore-config adds the registry's channel, and the file key is a path") {
  // Proves the contexts service's settings: no channel without a config, one ordered
  // connection on _contexts with it, a clash with --channel named, and the config key resolved.
  TempDir dir;
  auto o = valid(dir);
  auto settings = resolve(o);
  REQUIRE(settings.ok());
  CHECK_FALSE(settings->peer.channels.contains("_contexts"));
  CHECK(settings->datastore_config.empty());
  o.datastore_config = "/etc/plexus/ds.json";
  o.context_registry_timeout_ms = 750;
  settings = resolve(o);
  REQUIRE(settings.ok());
  CHECK(settings->peer.channels.at("_contexts").parallelism == 1);
  CHECK(settings->datastore_config == "/etc/plexus/ds.json");
  CHECK(settings->context_registry_timeout == std::chrono::milliseconds(750));
  o.channels = {"_contexts:2"};
  CHECK(problem(o).starts_with("--datastore-config"));
  o.channels.clear();
  o.context_registry_timeout_ms = 5;
  CHECK(problem(o).starts_with("--context-registry-timeout-ms"));

  NodeOptions from_file;
  const auto file = dir.write("node.json", R"({"datastore_config": "ds.json"})");
  REQUIRE(load_config_file(file, from_file).ok());
  CHECK(from_file.datastore_config == (dir.path / "ds.json").string());
}

TEST_CASE("--tenants adds the _tenants channel; policies are MODULE=majority|available, a bad one named") {
  // Proves the tenant manager's settings reach the node checked, and a clash or a bad policy stops the start.
  TempDir dir;
  auto o = valid(dir);
  auto off = resolve(o);
  REQUIRE(off.ok());
  CHECK_FALSE(off->tenants.enabled);
  CHECK_FALSE(off->peer.channels.contains("_tenants"));
  o.tenants = true;
  o.tenant_policy = {"counter=available", "kv=majority"};
  o.tenant_lease_ttl_ms = 600;
  auto on = resolve(o);
  REQUIRE(on.ok());
  CHECK(on->tenants.channel == "_tenants");
  CHECK(on->peer.channels.at("_tenants").parallelism == 4);
  CHECK(on->tenants.policies.at("counter") == "available");
  CHECK(on->tenants.policies.at("kv") == "majority");
  CHECK(on->tenants.lease_ttl == std::chrono::milliseconds(600));
  o.tenant_policy = {"counter=sometimes"};
  CHECK(problem(o) == "--tenant-policy counter=sometimes: expected MODULE=majority or MODULE=available");
  o.tenant_policy = {};
  o.channels = {"_tenants:1"};
  CHECK(problem(o).starts_with("--tenants: channel '_tenants' is taken"));
  o.channels = {};
  o.tenant_call_deadline_ms = 0;
  CHECK(problem(o) == "--tenant-call-deadline-ms: must be 1..600000, got 0");
}
