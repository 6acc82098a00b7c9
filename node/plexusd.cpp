// plexusd: one Plexus node process. It runs the peer service with the
// built-in `echo` and `sink` servers and the admin HTTP API, prints one JSON
// line when ready ({"spec": {...}, "admin": "127.0.0.1:PORT"}), and stops
// gracefully on SIGINT/SIGTERM (a second signal stops at once).
//
// Configuration: flags, or a JSON file (--config) with the same keys ('_' for
// '-'); a flag given on the command line wins over the file. A bad setting is
// one line on stderr naming it, and exit code 2, before anything starts.
#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "plexus/node/node.hpp"
#include "plexus/transport/run_loop.hpp"

namespace {

using plexus::node::NodeOptions;

constexpr int exit_bad_config = 2;

[[noreturn]] void fail(const plexus::Error& error) {
  std::cerr << "plexusd: " << (error.detail.empty() ? error.message() : error.detail) << "\n";
  std::exit(exit_bad_config);
}

/// Flags bound to a NodeOptions; after parsing, copy_given() applies only the
/// flags that were on the command line, over what the config file set.
class Flags {
 public:
  explicit Flags(CLI::App& app) : app_(app) {}

  template <class T>
  CLI::Option* option(const std::string& name, T NodeOptions::*member, const std::string& help) {
    auto* added = app_.add_option(name, given_.*member, help);
    // Show defaults, but not empty ones ("--join TEXT=[]" says nothing).
    if constexpr (requires(const T& value) { value.empty(); }) {
      if (!(given_.*member).empty()) added->capture_default_str();
    } else {
      added->capture_default_str();
    }
    copies_.push_back([added, member](const NodeOptions& from, NodeOptions& to) {
      if (added->count() > 0) to.*member = from.*member;
    });
    return added;
  }
  void flag(const std::string& name, bool NodeOptions::*member, const std::string& help) {
    auto* added = app_.add_flag(name, given_.*member, help);
    copies_.push_back([added, member](const NodeOptions& from, NodeOptions& to) {
      if (added->count() > 0) to.*member = from.*member;
    });
  }
  void copy_given(NodeOptions& to) const {
    for (const auto& copy : copies_) copy(given_, to);
  }

 private:
  CLI::App& app_;
  NodeOptions given_;
  std::vector<std::function<void(const NodeOptions&, NodeOptions&)>> copies_;
};

void add_flags(Flags& f) {
  f.option("--name", &NodeOptions::name, "node name, unique in the cluster ([A-Za-z0-9_.@-], required)");
  f.option("--listen", &NodeOptions::listen, "IP:PORT for peers (repeatable); port 0 picks one");
  f.option("--admin", &NodeOptions::admin, "IP:PORT of the admin HTTP API; port 0 picks one");
  f.option("--secret-file", &NodeOptions::secret_file, "cluster key file (plexus keygen FILE; required)");
  f.option("--join", &NodeOptions::join, "IP:PORT or node spec JSON of a member to join (repeatable)");
  f.option("--data-dir", &NodeOptions::data_dir, "keeps the membership, so a restart rejoins without --join");
  f.option("--channel", &NodeOptions::channels, "NAME:PARALLELISM[:monotonic] (repeatable)");
  f.option("--datastore", &NodeOptions::datastore,
           "NAME=lmdb:PATH or NAME=postgres:CONNINFO (repeatable; default main=lmdb:DATA_DIR/store/main)");
  f.option("--datastore-pool-size", &NodeOptions::datastore_pool_size, "connections per PostgreSQL datastore");
  f.option("--lmdb-map-size-mb", &NodeOptions::lmdb_map_size_mb, "initial sparse map size of each LMDB datastore");
  f.flag("--insecure", &NodeOptions::insecure, "plaintext frames (benchmarks/debugging only; all nodes must agree)");
  f.option("--heartbeat-ms", &NodeOptions::heartbeat_ms, "peer heartbeat interval");
  f.option("--peer-timeout-ms", &NodeOptions::peer_timeout_ms, "a member not heard from this long is down");
  f.option("--gossip-interval-ms", &NodeOptions::gossip_interval_ms, "anti-entropy: a digest to one member this often");
  f.option("--retransmit-interval-ms", &NodeOptions::retransmit_interval_ms, "acked messages resent this often");
  f.option("--ack-timeout-ms", &NodeOptions::ack_timeout_ms, "an acked message not acknowledged within this fails");
  f.option("--transport-heartbeat-ms", &NodeOptions::transport_heartbeat_ms, "connection keepalive when idle");
  f.option("--dead-peer-timeout-ms", &NodeOptions::dead_peer_timeout_ms, "a connection silent this long is closed");
  f.option("--handshake-timeout-ms", &NodeOptions::handshake_timeout_ms, "a handshake must finish within this");
  f.option("--handshakes-pending-max", &NodeOptions::handshakes_pending_max, "pending handshakes per listener (the weakest is evicted when full)");
  f.option("--handshakes-reserved-for-members", &NodeOptions::handshakes_reserved_for_members, "of those, slots only members' addresses may take");
  f.option("--handshakes-per-source-max", &NodeOptions::handshakes_per_source_max, "pending handshakes per address that is not a member's");
  f.option("--handshake-first-bytes-timeout-ms", &NodeOptions::handshake_first_bytes_timeout_ms, "an accepted connection silent this long is closed");
  f.option("--join-retry-initial-ms", &NodeOptions::join_retry_initial_ms, "first delay before a failed --join target is retried");
  f.option("--join-retry-max-ms", &NodeOptions::join_retry_max_ms, "the retry delay doubles (jittered) up to this");
  f.option("--join-timeout-ms", &NodeOptions::join_timeout_ms, "exit with code 2 if no --join target joined within this (0: retry forever)");
  f.option("--admin-connections-max", &NodeOptions::admin_connections_max, "admin connections at once (the oldest unfinished is closed when full)");
  f.option("--admin-read-timeout-ms", &NodeOptions::admin_read_timeout_ms, "an admin connection must send its whole request within this");
  f.option("--admin-queue-max", &NodeOptions::admin_queue_max, "whole admin requests waiting for a thread; beyond: 503");
  f.option("--sink-capacity", &NodeOptions::sink_capacity, "messages the built-in sink keeps");
  f.option("--sink-max-bytes", &NodeOptions::sink_max_bytes, "payload bytes the built-in sink keeps");
  f.option("--worker-threads", &NodeOptions::worker_threads, "threads that run server handlers");
  f.option("--busy-poll-us", &NodeOptions::busy_poll_us, "poll up to this long after work before blocking, adaptively (0: off)");
  f.option("--bulk-io-nice", &NodeOptions::bulk_io_nice, "nice value of the bulk I/O thread with --bulk-io-at-nice (-20..19)");
  f.flag("--bulk-io-at-nice", &NodeOptions::bulk_io_at_nice, "run the bulk channels' I/O thread at --bulk-io-nice, not SCHED_IDLE");
  f.option("--log-level", &NodeOptions::log_level, "trace|debug|info|warn|error|off");
  f.option("--log-format", &NodeOptions::log_format, "text|json (one JSON object per line)");
  f.flag("--test-only-disable-dedupe", &NodeOptions::test_only_disable_dedupe,
         "TEST ONLY: deliver retransmitted acked messages twice (breaks exactly-once; for plexus-harness's own tests)");
  f.flag("--presence-disabled", &NodeOptions::presence_disabled, "run no presence tracker (docs/presence.md)");
  f.option("--presence-name", &NodeOptions::presence_name, "tracker name; shards are servers presence.<name>.<i>");
  f.option("--presence-channel", &NodeOptions::presence_channel, "channel the shards talk on (added for you)");
  f.option("--presence-pool-size", &NodeOptions::presence_pool_size, "tracker shards; the same on every node");
  f.option("--presence-broadcast-period-ms", &NodeOptions::presence_broadcast_period_ms, "heartbeat period while changing");
  f.option("--presence-max-silent-periods", &NodeOptions::presence_max_silent_periods, "idle: heartbeat every N periods");
  f.option("--presence-down-period-ms", &NodeOptions::presence_down_period_ms, "a silent replica's presences hide (>= 2 x broadcast)");
  f.option("--presence-permdown-period-ms", &NodeOptions::presence_permdown_period_ms, "a down replica is dropped (> down period)");
  f.option("--presence-clock-sample-periods", &NodeOptions::presence_clock_sample_periods, "heartbeats ahead before a transfer request");
  f.option("--presence-max-delta-sizes", &NodeOptions::presence_max_delta_sizes, "catch-up delta sizes, increasing: N,N,...");
  f.option("--presence-delta-flush-ms", &NodeOptions::presence_delta_flush_ms, "local changes coalesce this long into one delta");
  f.option("--presence-owners-max", &NodeOptions::presence_owners_max, "owners the admin API keeps open at once");
  f.option("--presence-lease-max-ms", &NodeOptions::presence_lease_max_ms, "longest owner lease an admin client may ask for");
}

plexus::node::Settings parse_settings(int argc, char** argv) {
  CLI::App app{"plexusd: a Plexus cluster node (docs/operations.md)"};
  app.get_formatter()->column_width(40);
  std::string config_file;
  app.add_option("--config", config_file, "JSON config file; flags given here override its keys");
  Flags flags(app);
  add_flags(flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) std::exit(app.exit(e));
    std::cerr << "plexusd: " << e.what() << " (see plexusd --help)\n";
    std::exit(exit_bad_config);
  }
  NodeOptions options;
  if (!config_file.empty()) {
    if (auto loaded = plexus::node::load_config_file(config_file, options); !loaded) fail(loaded.error());
  }
  flags.copy_given(options);
  auto settings = plexus::node::resolve(options);
  if (!settings) fail(settings.error());
  return std::move(*settings);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const auto settings = parse_settings(argc, argv);
  plexus::node::setup_logging(settings);

  asio::io_context io(1);
  // Stop within a bounded time: the peer service closes its connections
  // (bounded by the transport close timeout), then the loop ends.
  bool stopping = false;
  std::unique_ptr<plexus::node::Node> node;
  auto stop = [&] {
    if (stopping) return;
    stopping = true;
    node->stop([&] { io.stop(); });
  };
  auto started = plexus::node::Node::start(io, settings, [&] { stop(); });
  if (!started) fail(started.error());
  node = std::move(*started);
  std::cout << node->ready_line() << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int number) {
    if (ec) return;
    if (stopping) {
      spdlog::warn("second signal ({}): stopping at once", number);
      std::_Exit(1);
    }
    spdlog::info("signal {}: stopping", number);
    stop();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  plexus::transport::run_loop(io, settings.busy_poll);
  node->close_admin();
  spdlog::info("stopped");
  if (const auto& failure = node->join_failure()) {
    std::cerr << "plexusd: " << *failure << "\n";
    return exit_bad_config;
  }
  return 0;
}
