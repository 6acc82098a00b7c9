// PeerService: the peer service manager of a Plexus node (partisan's
// partisan_peer_service_manager, full mesh). It keeps the membership, keeps
// `parallelism` authenticated connections per channel to every member,
// detects failures, and carries messages to named servers on other nodes:
// acknowledged (exactly once per sender incarnation), causally ordered per
// label, relayed when there is no direct path, with partition keys for
// per-key FIFO order.
//
// The protocol decisions live in sans-IO classes (membership::Membership,
// delivery::AckTable / Dedupe / CausalLabel); this class is the Asio shell
// that feeds them real sockets and time. All methods must be called on the
// executor passed to start() (one thread); handlers registered with
// register_server run on their own strand of the worker pool.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plexus/core/node_spec.hpp"
#include "plexus/core/result.hpp"
#include "plexus/membership/membership.hpp"
#include "plexus/secure/cluster_key.hpp"
#include "plexus/transport/counters.hpp"
#include "plexus/transport/options.hpp"

namespace plexus::peer {

using Millis = std::chrono::milliseconds;

/// Name of the internal channel for membership, heartbeats and acks.
inline constexpr std::string_view control_channel = "_control";

struct Config {
  std::string name;
  std::vector<ListenAddr> listen = {{"127.0.0.1", 0}};
  /// User channels; "default" (parallelism 1) is added when absent.
  std::map<std::string, ChannelSpec, std::less<>> channels;
  secure::ClusterKey key;
  bool insecure = false;
  /// Random when 0.
  std::uint64_t instance_id = 0;
  /// Membership is saved here and reloaded at start, when set.
  std::filesystem::path data_dir;

  transport::Options transport;
  /// Peer-level heartbeats on the control channel; a member not heard from
  /// for peer_timeout is down, and all its connections are closed (redialed).
  /// A killed peer is seen at once (its sockets close); these bound how long
  /// a silent one (paused, partitioned) takes.
  Millis heartbeat_interval{500};
  Millis peer_timeout{2000};
  /// Anti-entropy: a digest to one random member this often.
  Millis gossip_interval{1000};
  /// Membership changes learned from gossip go on to this many random members.
  std::size_t gossip_fanout = 2;
  /// A member learned from gossip that should dial us is given this long
  /// (plus jitter) before we nudge it to.
  Millis nudge_delay{1000};
  /// Redial backoff: jittered exponential between these.
  Millis redial_min{50};
  Millis redial_max{2000};
  /// The housekeeping tick: timers, retransmits, dials, ack flushes. It
  /// runs every tick_interval while there is such work (then the sweep over
  /// every peer runs at most every sweep_interval). With no such work it
  /// sleeps until the next heartbeat, timeout, redial, anti-entropy round or
  /// partition TTL falls due, and at most idle_tick_interval.
  Millis tick_interval{10};
  Millis sweep_interval{100};
  Millis idle_tick_interval{1000};
  /// Transport liveness of user-channel connections: the peer heartbeats on
  /// the control channel already watch the node, so these only reap a
  /// connection that went silent on its own.
  Millis data_link_heartbeat{5000};
  Millis data_link_dead_timeout{20000};
  /// Acked messages: retransmitted every retransmit_interval until acked.
  Millis retransmit_interval{200};
  /// With retransmit_backoff, the wait doubles after every retransmission up
  /// to retransmit_interval_max (at least retransmit_interval). Off by
  /// default: every retransmission waits retransmit_interval.
  bool retransmit_backoff = false;
  Millis retransmit_interval_max{1600};
  /// Most retransmissions one tick sends; the rest stay due for the next tick,
  /// so a burst of due messages cannot stall the executor.
  std::size_t retransmits_per_tick_max = 10'000;
  /// An acked message not acknowledged within this fails with delivery_failed.
  Millis ack_timeout{60'000};
  std::size_t ack_table_max = 100'000;
  /// Causally ordered messages waiting for their predecessors, per label.
  std::size_t causal_buffer_max = 10'000;
  /// Causal labels in use at once: a new label beyond it is refused at send
  /// (invalid_field) and dropped unacked at receipt (causal_too_many_labels).
  std::size_t causal_labels_max = 256;
  /// Processes (node incarnations) in one label's clocks, and entries of any
  /// one stamp: beyond it a send is refused, a receipt dropped unacked.
  std::size_t causal_processes_max = 1024;
  /// Retired processes (left or restarted) each label remembers so that their
  /// stale entries are ignored; the oldest is forgotten first.
  std::size_t causal_retired_max = 4096;
  /// Monotonic channels: once a connection's outbox holds this many bytes,
  /// keyed messages wait in a newest-per-key buffer of at most
  /// monotonic_max_keys keys instead of queueing every value.
  std::size_t monotonic_behind_bytes = 256 * 1024;
  std::size_t monotonic_max_keys = 65'536;
  /// Traffic counters of removed members' links kept per peer, so that the
  /// per-link counters never go backwards; once full, a newly removed
  /// member's traffic is summed under peer "_retired" (Metrics::retired_traffic_folded).
  std::size_t retired_traffic_max = 4096;
  /// Received messages waiting for their server's handler (queued for
  /// dispatch, or posted to a worker strand and not yet run). When full, a
  /// newly received message is dropped unacked (drops{reason=
  /// "dispatch_queue_full"}: an acked one is retransmitted by its sender) and
  /// a message to this node's own servers is refused with outbox_full.
  std::size_t dispatch_queue_max = 65'536;
  /// Accepted connections that have not attached yet (handshake done, no
  /// Attach frame; they are closed after transport.handshake_timeout). When
  /// full, a newly accepted one is closed at once, logged and counted in
  /// Metrics::unattached_refused, so idle connections cannot crowd out members.
  std::size_t unattached_incoming_max = 1024;
  /// Most relays a transitive message may cross.
  std::uint8_t relay_hops_max = 3;
  /// Most members (0 = unlimited); see reserve().
  std::size_t max_members = 0;
  /// Worker threads that run server handlers, when start() is given no pool
  /// (a node's Runtime gives its own, sized by --worker-threads).
  std::size_t worker_threads = 1;
  /// Channels for bulk traffic (each one of `channels`, or "default"): the
  /// I/O of their connections (sealing, writing, reading and opening
  /// records) runs on a separate bulk thread instead of the service
  /// executor, so that a stream on them does not hold up the other channels;
  /// their frames are decoded and dispatched on the service executor as
  /// usual. Empty (the default): no bulk thread. Local to this node: the
  /// peer need not agree.
  std::set<std::string, std::less<>> bulk_channels;
  /// With bulk_io_idle false, the nice value of the bulk thread (Linux, that
  /// thread only; 0 keeps the process's): a positive value lets the service
  /// thread and the handlers preempt it sooner, so with fewer cores than busy
  /// threads the stream yields more to the latency-sensitive work.
  int bulk_io_nice = 10;
  /// Run the bulk thread under SCHED_IDLE (Linux): it then gets a CPU only
  /// when no other thread wants one, so a stream never delays the service
  /// thread, the handlers or the application. Beside a saturating stream on
  /// 2 busy cores this is what keeps other channels' round-trip p99 within
  /// about 2x idle; nice alone (even 19) does not. The price: while other
  /// work keeps every core busy, the stream gets only the leftovers.
  /// false: the thread runs at bulk_io_nice.
  bool bulk_io_idle = true;
};

/// TEST ONLY switches, apart from Config so that no production configuration
/// carries them. They work only in builds with fault points compiled in
/// (fault::compiled_in: every build type but release and minsize, by
/// default); there start() refuses any that is set, and the code that reads
/// them compiles away.
struct TestHooks {
  /// Deliver retransmitted acked messages again instead of dropping them as
  /// duplicates, so that plexus-harness can prove its checkers fail on a
  /// broken node. It breaks exactly-once delivery.
  bool disable_dedupe = false;
};

/// How forward_message / cast_message carry one message (docs/peer-service.md
/// §3.5 and §4.5 to §4.8). The defaults send once, unacknowledged, directly,
/// on connection 0 of "default". To this node itself only the payload matters:
/// it goes straight to the local server and ack, causal_label and channel are
/// ignored.
struct ForwardOptions {
  /// The channel to send on. Both nodes' specs must serve it, else
  /// forward_message returns unknown_channel.
  std::string channel = std::string(default_channel);
  /// Picks the connection: `partition_key % parallelism` of the channel
  /// (the smaller of both specs). Messages with the same key to the same node
  /// on the same channel stay FIFO while that connection stays up and the
  /// path is direct. Without a key the message takes connection 0, so keyless
  /// messages are FIFO per sender and channel. On a monotonic channel a keyed,
  /// unacked, direct message may be replaced by a newer value for its key when
  /// the connection falls behind.
  std::optional<std::uint64_t> partition_key;
  /// Acknowledged delivery: the message enters the ack table and is
  /// retransmitted every Config::retransmit_interval until the target
  /// incarnation acknowledges it; it is delivered exactly once per sender
  /// incarnation. The completion then reports the outcome (ok, or
  /// connection_closed, unknown_server, shutting_down, delivery_failed).
  /// forward_message returns ack_table_full when Config::ack_table_max
  /// messages already wait. Without ack a message that cannot be routed now is
  /// an error (partitioned or not_connected) and is never retried.
  bool ack = false;
  /// Causal order per label (Schiper–Eggli–Sandoz): if sending m1 happened
  /// before sending m2 and both carry this label to the same node, that node
  /// delivers m1 first. Empty means none. Implies ack. At most
  /// Config::causal_labels_max labels; one beyond is refused with invalid_field.
  std::string causal_label;
  /// When there is no direct path (the target is down or cut outbound), go
  /// through up to Config::relay_hops_max relays, each a random member that
  /// is up. Retransmissions of an acked message follow the same rule.
  bool transitive = false;
};

/// A message delivered to a server handler.
struct Received {
  std::string from;  ///< sending node
  std::uint64_t from_instance = 0;
  std::string channel;
  bool cast = false;
  std::vector<std::uint8_t> payload;
};

using Handler = std::function<void(const Received&)>;

struct ServerOptions {
  /// Where the handler runs. Each server's calls are serial and in order
  /// wherever they run.
  enum class Placement {
    /// On a strand of the worker pool until its calls prove quick, then on
    /// the service executor; back on the strand after a call that exceeds
    /// `inline_budget` (HandlerPlacement, docs/peer-service.md).
    adaptive,
    /// Always on a strand of the worker pool: the handler may block.
    worker,
    /// Always on the peer service executor, right after the socket read that
    /// brought its messages: no thread hop each way, so a handler that
    /// answers with forward_message does so at once. The handler must not
    /// block: it stalls every connection while it runs. It may call any
    /// PeerService method.
    service_executor,
  };
  Placement placement = Placement::adaptive;
  /// adaptive: a call longer than this runs the server's next calls on its strand.
  std::chrono::microseconds inline_budget{200};
};
/// Definite outcome of a forward: ok when delivered (acked) or sent (unacked).
using Completion = std::function<void(const Result<void>&)>;
/// on_up / on_down callback: node name, and the channel for channel events ("" for node events).
using EventFn = std::function<void(const std::string& node, const std::string& channel)>;

enum class Direction { both, inbound, outbound };

struct Partition {
  std::uint64_t ref = 0;
  std::string node;
  Direction direction = Direction::both;
  std::optional<std::chrono::steady_clock::time_point> expires;
};

/// One member as seen from here.
struct MemberStatus {
  NodeSpec spec;
  bool self = false;
  bool up = false;
  std::map<std::string, bool> channels_up;
};

/// Counters for metrics (snapshot).
struct Metrics {
  std::map<std::string, std::uint64_t> messages_sent;      ///< by "peer/channel"
  std::map<std::string, std::uint64_t> messages_received;  ///< by "peer/channel"
  std::map<std::string, std::uint64_t> bytes_sent;         ///< by "peer/channel"
  std::map<std::string, std::uint64_t> bytes_received;     ///< by "peer/channel"
  std::map<std::string, std::uint64_t> drops;              ///< by reason
  std::uint64_t retransmits = 0;
  std::uint64_t up_transitions = 0;
  std::uint64_t down_transitions = 0;
  std::size_t ack_table_size = 0;
  std::size_t outbox_bytes = 0;
  std::size_t members = 0;
  /// Links of removed members whose traffic is kept by peer (at most
  /// Config::retired_traffic_max), and those retired once that was full,
  /// whose traffic went to peer "_retired".
  std::size_t retired_traffic_links = 0;
  std::uint64_t retired_traffic_folded = 0;
  /// Received messages waiting for a handler (Config::dispatch_queue_max).
  std::size_t dispatch_queued = 0;
  /// Accepted connections not attached yet (Config::unattached_incoming_max),
  /// and those closed at accept because that many were waiting.
  std::size_t unattached_incoming = 0;
  std::uint64_t unattached_refused = 0;
};

class PeerService {
 public:
  /// Listen, load the data directory, start dialing members.
  /// `test_hooks`: TEST ONLY (see TestHooks); invalid_field when set in a
  /// build without fault points. `workers`: the pool server handlers run on,
  /// shared with the rest of the node (node::Runtime owns it and joins it
  /// after every service stopped); when null the service makes its own of
  /// Config::worker_threads threads and joins it when destroyed.
  static Result<std::shared_ptr<PeerService>> start(asio::any_io_executor executor, Config config,
                                                    TestHooks test_hooks = {},
                                                    std::shared_ptr<asio::thread_pool> workers = nullptr);
  ~PeerService();
  PeerService(const PeerService&) = delete;
  PeerService& operator=(const PeerService&) = delete;

  [[nodiscard]] const NodeSpec& spec() const noexcept;

  // ---- membership ----
  /// Add a member and connect to it (asynchronous).
  Result<void> join(const NodeSpec& spec);
  /// Contact a node by address only: it sends back its spec, then as join(spec).
  void join_address(const ListenAddr& address, Completion done = {});
  /// join(spec), completing when connected to every member on every channel
  /// at full parallelism, or failing with the reason at the deadline.
  void sync_join(const NodeSpec& spec, Millis timeout, Completion done);
  /// This node leaves: every member drops it, and it stops cluster traffic.
  void leave(Completion done = {});
  /// Remove another node; it is told and stops too.
  Result<void> leave(const std::string& node);
  [[nodiscard]] std::vector<std::string> members() const;
  [[nodiscard]] std::vector<NodeSpec> members_for_orchestration() const;
  [[nodiscard]] std::vector<MemberStatus> member_status() const;
  /// Make the membership exactly `specs` (plus this node): joins and leaves.
  Result<void> update_members(const std::vector<NodeSpec>& specs);
  /// Take `spec` as the current spec of its node; returns the specs it made
  /// stale (previous addresses or instance) when `prune`.
  Result<std::vector<NodeSpec>> connect(const NodeSpec& spec, bool prune);
  /// Reserve a membership slot for node `tag` under max_members.
  Result<void> reserve(const std::string& tag);
  [[nodiscard]] bool supports_capability(std::string_view name) const;
  /// The whole local state as JSON (membership, connections, partitions,
  /// delivery tables); decode_local_state reads it back.
  [[nodiscard]] nlohmann::json get_local_state() const;

  // ---- events ----
  /// `node` empty = any node; `channel` empty = node-level events. Fired
  /// exactly once per transition, on the peer service executor.
  std::uint64_t on_up(const std::string& node, EventFn fn, const std::string& channel = {});
  std::uint64_t on_down(const std::string& node, EventFn fn, const std::string& channel = {});
  void remove_watch(std::uint64_t id);

  // ---- servers and messages ----
  Result<void> register_server(const std::string& name, Handler handler, ServerOptions options = {});
  void unregister_server(const std::string& name);
  /// Deliver `payload` to server `server` on `node`.
  Result<void> forward_message(const std::string& node, const std::string& server,
                               std::span<const std::uint8_t> payload, const ForwardOptions& options = {},
                               Completion done = {});
  /// As forward_message, delivered with Received::cast set.
  Result<void> cast_message(const std::string& node, const std::string& server,
                            std::span<const std::uint8_t> payload, const ForwardOptions& options = {},
                            Completion done = {});
  /// To the remote peer service itself (its set_message_handler handler).
  Result<void> send_message(const std::string& node, std::span<const std::uint8_t> payload);
  void set_message_handler(Handler handler);

  // ---- partitions (for tests) ----
  std::uint64_t inject_partition(const std::string& node, std::optional<Millis> ttl,
                                 Direction direction = Direction::both);
  Result<void> resolve_partition(std::uint64_t ref);
  [[nodiscard]] std::vector<Partition> partitions() const;

  // ---- life and metrics ----
  /// Graceful stop: flush, close connections (without leaving), then `done`.
  void stop(std::function<void()> done = {});
  [[nodiscard]] Metrics metrics() const;
  [[nodiscard]] const transport::Counters& transport_counters() const noexcept;
  /// Set when this node left or was removed (it no longer takes part).
  [[nodiscard]] bool has_left() const noexcept;
  /// Called once when another node removed this one (not on our own leave()).
  void on_removed(std::function<void()> fn);

  struct Impl;

 private:
  explicit PeerService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

/// get_local_state() read back into plain data (partisan's decode/1).
struct LocalState {
  std::string node;
  NodeSpec spec;
  bool left = false;
  membership::LocalState membership;
  struct Link {
    bool up = false;
    std::map<std::string, std::pair<std::size_t, std::size_t>> channels;  ///< connections, parallelism
  };
  std::map<std::string, Link> links;
  std::vector<Partition> partitions;  ///< expiry is not carried
  std::size_t ack_entries = 0;
  std::size_t ack_bytes = 0;
  std::vector<std::string> servers;
};

/// Strict parse of get_local_state() output; errors name the field.
Result<LocalState> decode_local_state(const nlohmann::json& state);

}  // namespace plexus::peer
