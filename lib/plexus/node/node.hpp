// plexus::node: one whole Plexus node as plexusd runs it and a program embeds
// it: a Runtime with the standard services (store, peer service with the
// built-in `echo` and `sink` servers, presence) and the admin HTTP API (JSON
// over HTTP on loopback by default, bearer token derived from the cluster
// key). Also the node's configuration: NodeOptions holds every option's
// value and default; the services' option tables (options.hpp) give each
// its flag, config key, range and help; resolve() checks them all, so that a
// bad setting is one clear line naming it, before anything starts.
#pragma once

#include <asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plexus/core/node_spec.hpp"
#include "plexus/node/service.hpp"
#include "plexus/core/result.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/presence/types.hpp"
#include "plexus/secure/cluster_key.hpp"
#include "plexus/store/datastore.hpp"
#include "plexus/transport/run_loop.hpp"

namespace plexus::node {

/// Every setting of a node as given on the command line or in the config
/// file, with its default. resolve() checks them all.
struct NodeOptions {
  std::string name;
  std::vector<std::string> listen{"127.0.0.1:0"};
  /// IP outgoing peer connections are bound to; "" = the listen address when specific.
  std::string source_address;
  std::string admin = "127.0.0.1:0";
  std::string secret_file;
  std::vector<std::string> join;  ///< HOST:PORT or node spec JSON
  std::string data_dir;
  std::vector<std::string> channels;  ///< NAME:PARALLELISM[:monotonic][:bulk]
  /// NAME=lmdb:PATH or NAME=postgres:CONNINFO (docs/store.md); a datastore
  /// `main` on LMDB in data_dir/store/main is added unless one is named main.
  std::vector<std::string> datastore;
  /// Connections per PostgreSQL datastore.
  int datastore_pool_size = 8;
  /// Initial (sparse) map size of each LMDB datastore, MiB; grown when full.
  int lmdb_map_size_mb = 16 * 1024;
  /// JSON file of datastores with contexts (docs/store.md, "Datastore contexts"); empty: none.
  std::string datastore_config;
  /// Longest wait of a context registry call for the io thread, ms.
  int context_registry_timeout_ms = 5000;
  bool insecure = false;
  int heartbeat_ms = 500;
  int peer_timeout_ms = 2000;
  int gossip_interval_ms = 1000;
  int retransmit_interval_ms = 200;
  int ack_timeout_ms = 60'000;
  int transport_heartbeat_ms = 1000;
  int dead_peer_timeout_ms = 5000;
  int handshake_timeout_ms = 5000;
  /// Admission on the peer port (transport/admission.hpp).
  int handshakes_pending_max = int(transport::AdmissionLimits{}.capacity);
  int handshakes_reserved_for_members = int(transport::AdmissionLimits{}.reserved_for_members);
  int handshakes_per_source_max = int(transport::AdmissionLimits{}.per_source_max);
  int handshake_first_bytes_timeout_ms = int(transport::AdmissionLimits{}.first_bytes_timeout.count());
  /// --join targets are retried with jittered exponential backoff from the
  /// initial delay up to the maximum; with a timeout (0: none) a node that
  /// has joined no target by then exits with code 2.
  int join_retry_initial_ms = 200;
  int join_retry_max_ms = 5000;
  int join_timeout_ms = 0;
  /// The admin API's front door (admin_gate.hpp).
  int admin_connections_max = 256;
  int admin_read_timeout_ms = 5000;
  int admin_queue_max = 64;
  /// peer::Config::dispatch_queue_max and unattached_incoming_max.
  int dispatch_queue_max = int(peer::Config{}.dispatch_queue_max);
  int unattached_incoming_max = int(peer::Config{}.unattached_incoming_max);
  int sink_capacity = 1000;
  int sink_max_bytes = 64 * 1024 * 1024;
  int worker_threads = 1;
  /// Largest window, in microseconds, the service thread polls after work
  /// before it blocks (transport::run_loop, adaptive); 0: off.
  int busy_poll_us = int(transport::default_busy_poll.count());
  /// peer::Config::bulk_io_nice: nice value of the bulk channels' I/O thread
  /// with bulk_io_at_nice.
  int bulk_io_nice = 10;
  /// Not peer::Config::bulk_io_idle: the bulk thread runs at bulk_io_nice
  /// instead of under SCHED_IDLE.
  bool bulk_io_at_nice = false;
  std::string log_level = "info";
  std::string log_format = "text";
  /// TEST ONLY: see peer::TestHooks::disable_dedupe. resolve() refuses it in
  /// a build without fault points (release).
  bool test_only_disable_dedupe = false;
  // The presence tracker (docs/presence.md): Phoenix.Tracker's option names,
  // the library's defaults.
  bool presence_disabled = false;
  std::string presence_name = presence::Options{}.name;
  std::string presence_channel = presence::Options{}.channel;
  int presence_pool_size = int(presence::Options{}.pool_size);
  int presence_broadcast_period_ms = int(presence::Options{}.broadcast_period.count());
  int presence_max_silent_periods = int(presence::Options{}.max_silent_periods);
  int presence_down_period_ms = int(presence::Options{}.down_period.count());
  int presence_permdown_period_ms = int(presence::Options{}.permdown_period.count());
  int presence_clock_sample_periods = int(presence::Options{}.clock_sample_periods);
  std::string presence_max_delta_sizes = "100,1000,10000";  ///< comma-separated, increasing
  int presence_delta_flush_ms = int(presence::Options{}.delta_flush_period.count());
  /// Owners the admin API keeps open at once (each holds a lease).
  int presence_owners_max = 10'000;
  /// Longest lease an admin client may ask for.
  int presence_lease_max_ms = 3'600'000;
  // The tenant manager (docs/tenants.md).
  bool tenants = false;
  std::vector<std::string> module_lib;      ///< shared libraries of tenant modules
  std::vector<std::string> tenant_policy;   ///< MODULE=majority|available
  std::string tenant_datastore = "main";    ///< where the registry is saved
  int tenant_stable_after_ms = 2'000;
  int tenant_call_deadline_ms = 5'000;
  int tenant_calls_pending_max = 10'000;
  int tenant_anti_entropy_ms = 1'000;
  int tenant_lease_ttl_ms = 10'000;
  int tenant_rebalance_per_s = 0;  ///< 0: a joining node takes no tenants
  int tenant_events_keep = 10'000;
};

/// Apply a JSON config file to `options`. Unknown keys and wrong types are
/// errors naming the file and the key; relative paths in the file are taken
/// from the file's folder.
Result<void> load_config_file(const std::filesystem::path& file, NodeOptions& options);

using JoinTarget = std::variant<ListenAddr, NodeSpec>;

enum class LogFormat { text, json };

/// How --join targets (and admin joins) are retried.
struct JoinRetryOptions {
  peer::Millis initial{200};
  peer::Millis max{5000};
  peer::Millis timeout{0};  ///< 0: retry forever
};

/// Limits of the admin API's connections.
struct AdminLimits {
  /// Connections open at once; when full, the oldest one that has not sent a
  /// whole request is closed for the newcomer.
  std::size_t connections_max = 256;
  /// A connection must deliver its request (header and body) within this.
  peer::Millis read_timeout{5000};
  /// Whole requests waiting for an admin thread; beyond, 503 at once.
  std::size_t queue_max = 64;
};

/// The tenant manager's checked options.
struct TenantSettings {
  bool enabled = false;
  std::string channel;  ///< "_tenants" when enabled
  std::vector<std::string> module_libs;
  /// Policy per module ("majority" / "available"); others: tenants::default_policy.
  std::map<std::string, std::string, std::less<>> policies;
  std::string datastore;
  std::chrono::milliseconds stable_after{2000};
  std::chrono::milliseconds call_deadline{5000};
  std::size_t calls_pending_max = 10'000;
  std::chrono::milliseconds anti_entropy{1000};
  /// A tenant's lease in its datastore (renewed every third of it).
  std::chrono::milliseconds lease_ttl{10'000};
  /// Tenants per second handed over to their rendezvous owner (0: never; sticky).
  std::size_t rebalance_per_s = 0;
  /// Lifecycle events kept in this node's durable event log (tenants/event_log.hpp).
  std::uint64_t events_keep = 10'000;
};

/// Checked options: what the node runs with.
struct Settings {
  peer::Config peer;
  /// TEST ONLY switches of the peer service (peer::TestHooks).
  peer::TestHooks peer_test_hooks;
  ListenAddr admin;
  AdminLimits admin_limits;
  std::vector<JoinTarget> joins;
  JoinRetryOptions join_retry;
  std::size_t sink_capacity = 0;
  std::size_t sink_max_bytes = 0;
  std::chrono::microseconds busy_poll{transport::default_busy_poll};
  std::string log_level;
  LogFormat log_format = LogFormat::text;
  /// The tracker plexusd runs (unless presence_enabled is false); its
  /// channel is in peer.channels with parallelism pool_size.
  bool presence_enabled = true;
  presence::Options presence;
  std::size_t presence_owners_max = 0;
  peer::Millis presence_lease_max{0};
  /// The datastores the node opens at start, and their shared settings.
  std::vector<store::DatastoreSpec> datastores;
  store::DatastoreOptions datastore_options;
  /// The datastore contexts' config file (loaded and checked at start); empty: none.
  std::string datastore_config;
  /// The peer channel of the global context registry (served when datastore_config is set).
  std::string context_channel;
  std::chrono::milliseconds context_registry_timeout{5000};
  /// The tenant manager (tenants_service.cpp); its channel is in peer.channels when enabled.
  TenantSettings tenants;
};

/// Check every option (reads the key file, creates and probes the data
/// directory). The error detail starts with the flag, e.g. "--listen: ...".
Result<Settings> resolve(const NodeOptions& options);

/// Log to stderr as text or as one JSON object per line.
void setup_logging(const Settings& settings);

class Runtime;
class PeerNodeService;
class PresenceService;
class StoreService;

/// The services of plexusd, in start order: the store, the peer service, the
/// datastore contexts, presence (services.hpp). A new service is one more entry here.
const std::vector<ServiceKind>& standard_service_kinds();

/// A running node: a Runtime (its own io_context and worker pool) with the
/// standard services and the admin API, as plexusd runs it and as a program
/// embeds it (examples/embedded_node.cpp). Its methods but run() and
/// close_admin() are called on its io thread, or before run() starts.
class Node {
 public:
  /// Bind the admin API, start every service (store, peer, contexts, presence), then
  /// join and serve the admin API. `on_finished` runs (on the io thread) once
  /// this node has left the cluster, was removed from it, or gave up joining.
  static Result<std::unique_ptr<Node>> start(const Settings& settings, std::function<void()> on_finished = {});
  /// Stops the admin API, destroys the services, joins the worker pool.
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  [[nodiscard]] Runtime& runtime();
  [[nodiscard]] asio::io_context& io();
  /// {"spec":{...},"admin":"127.0.0.1:PORT"}: the line plexusd prints when ready (no newline).
  [[nodiscard]] std::string ready_line() const;
  [[nodiscard]] const ListenAddr& admin_address() const;
  [[nodiscard]] peer::PeerService& service();
  [[nodiscard]] PeerNodeService& peer();
  [[nodiscard]] PresenceService& presence();
  [[nodiscard]] StoreService& store();
  /// Graceful, on the io thread: every service stops (the peer service closes
  /// its connections), newest first; then `done`.
  void stop(std::function<void()> done);
  /// Run the io loop on this thread until io() is stopped.
  void run();
  /// Stop the admin API; call after the io loop stopped running.
  void close_admin();
  /// Why the node gave up joining (--join-timeout-ms passed with no --join
  /// target joined); on_finished ran then. plexusd exits 2 with it.
  [[nodiscard]] const std::optional<std::string>& join_failure() const;

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plexus::node

namespace plexus {
/// A whole node for an embedding program: plexus::Node.
using Node = node::Node;
}  // namespace plexus
