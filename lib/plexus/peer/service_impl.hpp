// Internal state of the peer service shell, shared by its .cpp files:
// links.cpp (connections, attach, dials), nudge.cpp (nudges), status.cpp
// (frames in and out, up/down, the tick), core_driver.cpp (carrying out the
// core's output, persistence), messaging.cpp (forward, routing); dispatch to
// servers is the Dispatcher's (dispatch.hpp).
// Protocol decisions are the sans-IO core's (peer/core/core.hpp): the shell
// feeds it frames, commands and the time, and carries out its Output (drain()).
#pragma once

#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>

#include <ctime>
#include <deque>
#include <map>
#include <random>
#include <set>

#include "plexus/peer/bulk_io.hpp"
#include "plexus/peer/dispatch.hpp"
#include "plexus/peer/core/core.hpp"
#include "plexus/peer/core/member_entries.hpp"
#include "plexus/peer/monotonic.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/peer/retired_traffic.hpp"
#include "plexus/peer/placement.hpp"
#include "plexus/transport/endpoint.hpp"
#include "plexus/wire/message.hpp"

namespace plexus::peer {

using SteadyClock = std::chrono::steady_clock;

/// What became of one frame handed to a link.
enum class SendOutcome { sent, partitioned, not_connected, outbox_full, too_large };

/// Messages and bytes on one channel of one peer (user messages only).

/// A frame to hand to a link: bytes ready, or a plain message whose body is
/// written straight into the connection's outbox (wire::encode_in_place).
struct OutFrame {
  const std::vector<std::uint8_t>* bytes = nullptr;
  const wire::Message* message = nullptr;  // without its payload, which is:
  std::span<const std::uint8_t> payload;
  std::size_t size = 0;  // body bytes
  static OutFrame ready(const std::vector<std::uint8_t>& frame) { return {&frame, nullptr, {}, frame.size()}; }
  /// The body as bytes: the ready ones, or a message encoded into `storage`.
  [[nodiscard]] const std::vector<std::uint8_t>& bytes_in(std::vector<std::uint8_t>& storage) const {
    if (bytes) return *bytes;
    storage = wire::encode(*message, payload);
    return storage;
  }
};

/// One of the `parallelism` connections of a channel to a peer.
struct Slot {
  transport::ConnectionPtr connection;
  bool attached = false;
  /// The dial of this slot under way (0: none): from the dial until its
  /// connection attaches or closes (not only until the handshake ends, or
  /// every reconcile in between would dial the slot again).
  std::uint64_t dial_id = 0;
  [[nodiscard]] bool dialing() const { return dial_id != 0; }
  /// Its channel's counters in the same PeerLinks (map nodes never move),
  /// found on the first send instead of per message.
  Traffic* traffic = nullptr;
};

/// What this node knows and holds for one other member.
struct PeerLinks {
  NodeSpec spec;
  std::map<std::string, std::vector<Slot>, std::less<>> channels;  // control included
  bool up = false;  // mirrors liveness.up(name) as of the latest refresh()
  /// The coarse time last reported to Liveness::sent: one report per clock
  /// step, not one per frame.
  std::int64_t sent_mark = -1;
  /// By channel; kept here (no "peer/channel" key built per message) and
  /// folded into Metrics when read.
  std::map<std::string, Traffic, std::less<>> traffic;
  Traffic& traffic_on(std::string_view channel) {
    auto it = traffic.find(channel);
    return it != traffic.end() ? it->second : traffic.emplace(std::string(channel), Traffic{}).first->second;
  }
  std::map<std::string, bool, std::less<>> channel_up;
  /// A nudge to this peer is under way (dialing, or waiting for its answer):
  /// no other starts until it ends, however short the backoff.
  bool nudging = false;
};

/// Which peer, channel and slot a connection serves (known after attach).
struct LinkContext {
  std::string peer;
  std::string channel;
  std::uint16_t index = 0;
  bool dialer = false;
  std::uint64_t dial_id = 0;  // dial_slot connections: the dial it answers
  bool attached = false;
  bool nudge = false;
  std::string nudge_for;  // reconcile's nudge to this member: clear its `nudging` when this ends
  Completion on_nudge_reply;  // join_address / nudge: the peer answered
  // Per-frame lookups, cached: the peer's entry and this channel's traffic
  // while Impl::peers_epoch is unchanged (an erase from `peers` bumps it),
  // and the coarse time last reported to Liveness::heard.
  PeerLinks* cached_peer = nullptr;
  Traffic* cached_traffic = nullptr;
  std::uint64_t cached_epoch = 0;
  std::int64_t heard_mark = -1;
};

struct Watch {
  bool up = false;
  std::string node;
  std::string channel;
  EventFn fn;
};

struct SyncJoin {
  std::string node;
  SteadyClock::time_point deadline;
  Completion done;
};

struct PeerService::Impl : std::enable_shared_from_this<PeerService::Impl> {
  Impl(asio::any_io_executor executor, Config config, NodeSpec self, std::shared_ptr<asio::thread_pool> workers,
       TestHooks hooks);
  /// While stopping: run on_stopped once no connection is left (called after each close).
  void check_stopped();

  // ---- links.cpp ----
  Result<void> open_listeners();
  void on_accepted(transport::ConnectionPtr connection);
  void start_connection(const transport::ConnectionPtr& connection, std::shared_ptr<LinkContext> context);
  /// The peer a connection serves (after attach), from the context's cache when it is current.
  PeerLinks* peer_of(LinkContext& context);
  /// A bulk channel's connection decodes its frames on the bulk thread
  /// (Connection::set_preparer); call before its move_io.
  void decode_on_bulk_thread(const transport::ConnectionPtr& connection, const std::shared_ptr<LinkContext>& context);
  void on_decoded(const std::shared_ptr<LinkContext>& context, transport::Connection& connection,
                  Result<wire::Envelope> decoded, std::size_t frame_bytes);
  void on_frame(const std::shared_ptr<LinkContext>& context, transport::Connection& connection,
                std::span<const std::uint8_t> body);
  void on_attach(const std::shared_ptr<LinkContext>& context, const transport::ConnectionPtr& connection,
                 wire::Attach attach);
  void on_connection_closed(const std::shared_ptr<LinkContext>& context,
                            const transport::ConnectionPtr& connection, const Error& why);
  void ensure_links(PeerLinks& peer);
  void reconcile(PeerLinks& peer, SteadyClock::time_point now);
  void dial_slot(const std::string& peer, const std::string& channel, std::uint16_t index);
  /// `member`: the member reconcile nudges (its PeerLinks::nudging is cleared when the nudge ends).
  void nudge(const ListenAddr& address, Completion done, std::string member = {});
  void nudge_ended(const std::string& member);
  /// A connection accepted from `name` is waiting for its attach: `name` is dialing us.
  [[nodiscard]] bool inbound_pending(std::string_view name) const;
  void answer_nudge(PeerLinks& peer, const transport::ConnectionPtr& connection,
                    const std::vector<wire::DigestEntry>& digest);
  void refresh(PeerLinks& peer, SteadyClock::time_point now);
  void fire(bool up, const std::string& node, const std::string& channel);
  void drop_links(PeerLinks& peer, const char* why);
  void tick();
  void arm_tick();
  void arm_tick_at(SteadyClock::time_point due);
  /// When the idle tick next has something to do.
  [[nodiscard]] SteadyClock::time_point idle_due(SteadyClock::time_point now) const;
  /// Tick soon when there is work for it (the tick slows down when idle).
  void wake();
  /// Tick with the per-peer sweep at `due`, or as soon after as sweep_interval allows.
  void sweep_by(SteadyClock::time_point due);
  [[nodiscard]] bool has_timed_work() const;
  PeerLinks* find_peer(std::string_view name);
  /// Whether an injected partition cuts traffic to `node` (both ways or outbound).
  [[nodiscard]] bool cut_outbound(std::string_view node) const;
  /// What an untrusted frame body may be (Config::transport's frame bound).
  [[nodiscard]] wire::Limits wire_limits() const;
  SendOutcome send_frame(PeerLinks& peer, std::string_view channel, std::uint16_t index,
                         const std::vector<std::uint8_t>& frame, bool control);
  /// send_frame on the channel's slots, already looked up.
  SendOutcome send_on(PeerLinks& peer, std::string_view channel, std::vector<Slot>& slots, std::uint16_t index,
                      const OutFrame& frame, bool control);
  bool send_control(PeerLinks& peer, const wire::Envelope& envelope);
  void check_sync_joins(SteadyClock::time_point now);
  /// Fail the pending acks of every known life of `name` but `keep` and forget
  /// its dedupe and causal state (it restarted, or left when keep is empty).

  // ---- core_driver.cpp ----
  /// Where a membership change was seen: here first (join, attach, leave,
  /// the data directory) or in another member's gossip.
  using Source = core::Core::Source;
  /// The core applies them; the shell's link table follows (drain()).
  void apply_changes(const std::vector<membership::Change>& changes, Source source = Source::local);
  /// Carry out what the core asks: link changes, frames, deliveries,
  /// completions, drops; until it asks nothing more.
  void drain();
  void carry_out(core::Output& out);
  void apply_link_change(const core::LinkChange& change);
  /// A frame the core asks for: on the control link, or a message on its channel.
  void send_core_frame(const core::Send& send, const std::vector<std::uint8_t>& frame);
  /// The outbound partitions, as the core sees them (after every change of partition_table).
  void sync_cut();
  [[nodiscard]] std::vector<wire::DigestEntry> digest_frame_body() const;
  void persist();
  void removed_self();
  Result<void> load_data_dir();

  // ---- messaging.cpp ----
  Result<void> forward(const std::string& node, const std::string& server,
                       std::span<const std::uint8_t> payload, const ForwardOptions& options, bool cast,
                       Completion done);
  /// `target`: message.target's links when the caller has looked them up;
  /// `payload`: the payload when it was encoded apart (message.payload empty).
  SendOutcome route(wire::Message& message, const OutFrame& frame, PeerLinks* target = nullptr,
                    std::span<const std::uint8_t> payload = {});
  bool relay(wire::Message message);
  void on_message(PeerLinks& from, LinkContext& link, wire::Message& message, std::size_t frame_bytes);
  /// Queue `message` for dispatch (taken apart: left moved-from).
  void deliver(wire::Message& message);
  void flush_dispatch();
  void fail_completions(const Error& why);
  void close_stale_unattached(SteadyClock::time_point now);
  void count_drop(const std::string& reason);
  delivery::Time now_ns() const;

  // ---- state ----
  asio::any_io_executor executor;
  Config config;
  TestHooks test_hooks;  // TEST ONLY; read only when fault::compiled_in
  NodeSpec self;
  /// The thread of Config::bulk_channels (null when there are none).
  /// PeerService's destructor stops it; each connection moved onto it holds
  /// it too, so its io_context outlives their sockets.
  std::shared_ptr<BulkIo> bulk;
  [[nodiscard]] bool bulk_channel(std::string_view channel) const {
    return bulk && config.bulk_channels.count(channel) != 0;
  }
  /// Every protocol decision and its state: membership, liveness, acks,
  /// dedupe, causal order, lives (peer/core/core.hpp).
  core::Core core;
  core::Output drain_buffer;  // reused by the outermost drain(): no allocation per frame
  int drain_depth = 0;
  std::shared_ptr<transport::Counters> counters = std::make_shared<transport::Counters>();
  secure::HandshakeConfig identity;
  std::vector<std::shared_ptr<transport::Listener>> listeners;
  std::map<std::string, PeerLinks, std::less<>> peers;
  std::uint64_t peers_epoch = 1;  // bumped by every erase from `peers` (LinkContext caches)
  /// A connection whose Attach is pending (or a nudge): since when, and
  /// whether it was accepted (counted in unattached_incoming).
  struct Unattached {
    SteadyClock::time_point since;
    bool incoming = false;
  };
  std::map<transport::ConnectionPtr, Unattached> unattached;
  std::size_t unattached_incoming = 0;  // bounded by Config::unattached_incoming_max
  SteadyClock::time_point unattached_refused_logged{};  // the last refusal logged (one a second)
  void add_unattached(const transport::ConnectionPtr& connection, bool incoming);
  void forget_unattached(const transport::ConnectionPtr& connection);
  std::map<std::uint64_t, Watch> watches;
  std::uint64_t next_watch = 1;
  // The pool first: members are destroyed in reverse, and the dispatcher's
  // strands must go before the pool they run on. Given by the caller
  // (node::Runtime) or, when none was, owned and joined here.
  std::shared_ptr<asio::thread_pool> workers;
  bool owns_workers = false;
  Dispatcher dispatcher;
  std::map<std::uint64_t, Partition> partition_table;
  std::uint64_t next_partition = 1;
  asio::steady_timer tick_timer;
  SteadyClock::time_point tick_due{};
  SteadyClock::time_point next_sweep{};
  std::mt19937_64& rng;  // the core's
  liveness::Liveness& liveness;  // the core's: heartbeats, failure detection, redial backoff
  membership::Membership& members;  // the core's
  std::uint64_t next_dial_id = 1;
  std::vector<SyncJoin> sync_joins;
  bool left = false;
  bool leaving_by_choice = false;  // leave() was called here (not removed by another node)
  bool stopping = false;
  std::function<void()> on_removed_fn;
  std::function<void()> on_stopped;  ///< stop()'s completion, until it ran

  // delivery: the core tracks acked sends by token; their completions wait here
  std::map<std::uint64_t, Completion> completions;
  std::uint64_t next_token = 1;
  /// Monotonic channels: newest frame per key, per (peer, channel, index).
  std::map<std::tuple<std::string, std::string, std::uint16_t>, MonotonicBuffer> monotonic;
  bool send_monotonic(PeerLinks& peer, const std::string& channel, std::uint16_t index, std::uint64_t key,
                      const std::vector<std::uint8_t>& frame);
  void drain_monotonic();
  Metrics metrics;
  /// Traffic of peers no longer in `peers` (removed members), bounded by
  /// Config::retired_traffic_max links.
  RetiredTraffic retired_traffic{config.retired_traffic_max};
  void retire_traffic(const PeerLinks& peer);
};

/// A steady-clock instant as the sans-IO cores' time (nanoseconds since its epoch).
inline liveness::Time ticks(SteadyClock::time_point t) {
  return std::chrono::duration_cast<liveness::Time>(t.time_since_epoch());
}

/// Now from CLOCK_MONOTONIC_COARSE (the steady clock's epoch, a few ms
/// resolution, several times cheaper): for the per-frame heard/sent marks,
/// which only need to be good against heartbeat intervals.
inline liveness::Time coarse_ticks() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

inline asio::ip::tcp::endpoint endpoint_of(const ListenAddr& addr) {
  return {asio::ip::make_address(addr.ip), addr.port};
}

/// Setup frames on a connection not yet in the slot table. A failure here
/// (outbox full, closing) means the connection is going away anyway, and its
/// close handler does the bookkeeping.
inline void send_now(const transport::ConnectionPtr& connection, const wire::Envelope& envelope) {
  (void)connection->send(wire::encode(envelope));
}

using core::dials;
using core::from_wire;
using core::to_wire;

/// Channels a connection set to `peer` has: control plus user channels both
/// sides serve, at the smaller parallelism.
std::map<std::string, std::uint32_t, std::less<>> shared_channels(const NodeSpec& self, const NodeSpec& peer);

using core::process_key;

/// "node/channel" metric key.
inline std::string metric_key(std::string_view node, std::string_view channel) {
  return std::string(node) + "/" + std::string(channel);
}

}  // namespace plexus::peer
