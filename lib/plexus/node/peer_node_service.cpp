// The peer service of a node as a Service: its options, its start (the peer
// service on the runtime's io_context and worker pool, then the built-in
// servers), the --join retries once every service started, its admin routes
// (membership, messaging, status) and its metrics.
//
// Built-in servers:
//  - `sink` keeps what it receives (sink.hpp); the admin API reads and clears it.
//  - `echo` sends each payload back, unchanged and on the same channel, to
//    the sending node's server named by the payload's "reply_to" when the
//    payload is a JSON object with a string "reply_to", else to its `sink`.
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/node/admin_server.hpp"
#include "plexus/node/join_retry.hpp"
#include "plexus/node/metrics_text.hpp"
#include "plexus/node/node.hpp"
#include "plexus/node/runtime.hpp"
#include "plexus/node/services.hpp"
#include "plexus/node/sink.hpp"

namespace plexus::node {

void write_peer_metrics(MetricsText& out, const peer::PeerService& service, const Sink& sink, const EchoCounters& echo);

namespace {

using K = OptionKind;
using O = NodeOptions;

const OptionTable& peer_options() {
  static const OptionTable table{"peer", "The peer service", {
      option("--listen", &O::listen, K::list, "IP:PORT for peers (repeatable); port 0 picks one")
          .details("peer address(es), `IP:PORT` or `[IPV6]:PORT`, repeatable (a string or an array in the file); port 0 picks one"),
      option("--source-address", &O::source_address, K::text, "IP outgoing peer connections are bound to")
          .details("IP address the connections this node dials are bound to before connecting; default: the first `--listen` address when it is one specific address (not `0.0.0.0` or `::`), else the kernel chooses. An address the host does not have fails every dial (`dial_failed`)"),
      option("--join", &O::join, K::join_list, "IP:PORT or node spec JSON of a member to join (repeatable)")
          .details("member to join: `IP:PORT` or node spec JSON, repeatable (in the file an array of strings or spec objects)"),
      option("--channel", &O::channels, K::channels, "NAME:PARALLELISM[:monotonic][:bulk] (repeatable)", 0, 0, {},
             "channels")
          .details("`NAME:PARALLELISM[:monotonic][:bulk]`, repeatable; in the file an array of such strings or `{\"bulk\": {\"parallelism\": 4, \"monotonic\": false, \"bulk\": true}}`; parallelism 1..256; `_control` is reserved. `bulk`: the channel's connections do their I/O (encryption, socket reads and writes) on a separate thread under `SCHED_IDLE` (`--bulk-io-at-nice`: at nice 10), so a stream on it does not delay the other channels (`peer::Config::bulk_channels`, docs/peer-service.md §3.1); a local choice, other nodes need not agree"),
      option("--insecure", &O::insecure, K::boolean, "plaintext frames (benchmarks/debugging only; all nodes must agree)")
          .details("plaintext frames after the authenticated handshake (benchmarks only; all nodes must agree)"),
      integer_option("--heartbeat-ms", &O::heartbeat_ms, 1, 60'000, "peer heartbeat interval", "ms")
          .details("peer heartbeat interval"),
      integer_option("--peer-timeout-ms", &O::peer_timeout_ms, 2, 3'600'000,
                     "a member not heard from this long is down (at least twice --heartbeat-ms)", "ms")
          .details("a member not heard from this long is down; at least twice the heartbeat"),
      integer_option("--gossip-interval-ms", &O::gossip_interval_ms, 10, 3'600'000,
                     "anti-entropy: a digest to one member this often", "ms")
          .details("anti-entropy: a membership digest to one random member this often"),
      integer_option("--retransmit-interval-ms", &O::retransmit_interval_ms, 1, 600'000, "acked messages resent this often",
                     "ms")
          .details("acked messages are resent this often until acked (a fixed interval: plexusd does not back off)"),
      integer_option("--ack-timeout-ms", &O::ack_timeout_ms, 1, 86'400'000,
                     "an acked message not acknowledged within this fails", "ms")
          .details("an acked message not acknowledged within this fails (its sender's completion reports it) and leaves the ack table"),
      integer_option("--transport-heartbeat-ms", &O::transport_heartbeat_ms, 1, 60'000, "connection keepalive when idle",
                     "ms")
          .details("a connection idle this long sends a keepalive"),
      integer_option("--dead-peer-timeout-ms", &O::dead_peer_timeout_ms, 2, 3'600'000,
                     "a connection silent this long is closed (at least twice --transport-heartbeat-ms)", "ms")
          .details("a connection silent this long is closed and redialed; at least twice the transport heartbeat"),
      integer_option("--handshake-timeout-ms", &O::handshake_timeout_ms, 1, 600'000, "a handshake must finish within this",
                     "ms")
          .details("a connection's whole handshake must finish within this"),
      integer_option("--handshakes-pending-max", &O::handshakes_pending_max, 1, 65'536,
                     "pending handshakes per listener (the weakest is evicted when full)")
          .details("handshakes pending at once per listener; when full the weakest pending one is closed for the newcomer (\"Admission under load\")"),
      integer_option("--handshakes-reserved-for-members", &O::handshakes_reserved_for_members, 0, 65'535,
                     "of those, slots only members' addresses may take (less than --handshakes-pending-max)")
          .details("of those, slots only connections from members' addresses may take; less than `--handshakes-pending-max`"),
      integer_option("--handshakes-per-source-max", &O::handshakes_per_source_max, 1, 65'536,
                     "pending handshakes per address that is not a member's")
          .details("pending handshakes from one address that is not a member's; past it that address's own weakest one is closed"),
      integer_option("--handshake-first-bytes-timeout-ms", &O::handshake_first_bytes_timeout_ms, 1, 600'000,
                     "an accepted connection silent this long is closed", "ms")
          .details("an accepted peer connection that sent no byte within this is closed"),
      integer_option("--dispatch-queue-max", &O::dispatch_queue_max, 1, 100'000'000,
                     "received messages waiting for server handlers; beyond: dropped unacked")
          .details("received messages waiting for their server's handler (queued, or on a worker strand not yet run); past it a message is dropped unacked (`plexus_drops_total{reason=\"dispatch_queue_full\"}`; an acked one is retransmitted by its sender) and a message to this node's own server is refused with `outbox_full`"),
      integer_option("--unattached-incoming-max", &O::unattached_incoming_max, 1, 65'536,
                     "accepted peer connections not attached yet; beyond: closed at accept")
          .details("accepted peer connections past the handshake that have not attached yet (each is closed after `--handshake-timeout-ms`); past it a new one is closed at once, logged (one line a second at most) and counted in `plexus_unattached_refused_total`"),
      integer_option("--join-retry-initial-ms", &O::join_retry_initial_ms, 1, 600'000,
                     "first delay before a failed --join target is retried", "ms")
          .details("first delay before a `--join` target that failed is tried again"),
      integer_option("--join-retry-max-ms", &O::join_retry_max_ms, 1, 3'600'000,
                     "the retry delay doubles (jittered) up to this (at least --join-retry-initial-ms)", "ms")
          .details("the delay doubles up to this (minus up to half as jitter); at least the initial delay"),
      integer_option("--join-timeout-ms", &O::join_timeout_ms, 0, 86'400'000,
                     "exit with code 2 if no --join target joined within this (0: retry forever)", "ms")
          .details("if no `--join` target joined within this, plexusd exits with code 2 (0: retry for ever)"),
      integer_option("--sink-capacity", &O::sink_capacity, 1, 1'000'000, "messages the built-in sink keeps")
          .details("messages the built-in `sink` keeps"),
      integer_option("--sink-max-bytes", &O::sink_max_bytes, 1024, 1 << 30, "payload bytes the built-in sink keeps",
                     "bytes")
          .details("payload bytes the `sink` keeps"),
      integer_option("--bulk-io-nice", &O::bulk_io_nice, -20, 19,
                     "nice value of the bulk I/O thread with --bulk-io-at-nice")
          .details("with `--bulk-io-at-nice`, the nice value of that thread (Linux, that thread only; below the process's own value needs CAP_SYS_NICE)"),
      option("--bulk-io-at-nice", &O::bulk_io_at_nice, K::boolean,
             "run the bulk channels' I/O thread at --bulk-io-nice, not SCHED_IDLE")
          .details("run the thread that does the I/O of `:bulk` channels at `--bulk-io-nice` instead of under `SCHED_IDLE` (which lets it run only when no other thread wants a CPU: other traffic's latency first, the stream gets the leftovers)"),
      option("--test-only-disable-dedupe", &O::test_only_disable_dedupe, K::boolean,
             "TEST ONLY: deliver retransmitted acked messages twice (breaks exactly-once; for plexus-harness's own tests)")
          .details("**TEST ONLY — never in production.** Retransmitted acknowledged messages are delivered again instead of dropped as duplicates, which breaks exactly-once delivery. It exists so that `plexus-harness`'s own tests can prove its checkers fail on a broken node (`docs/harness.md`); the node logs a warning at start when it is set. It is not part of the peer service's `Config` (it is a `peer::TestHooks` switch) and exists only in builds with fault points (`-Dfault_points`, on by default for every build type but release and minsize): a release `plexusd` refuses it."),
  }};
  return table;
}

std::string reply_server_of(const std::vector<std::uint8_t>& payload) {
  const auto document = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (document.is_object()) {
    const auto it = document.find("reply_to");
    if (it != document.end() && it->is_string() && !it->get<std::string>().empty()) return it->get<std::string>();
  }
  return "sink";
}

class PeerNode final : public PeerNodeService {
 public:
  explicit PeerNode(const Settings& settings)
      : config_(settings.peer), hooks_(settings.peer_test_hooks), joins_(settings.joins),
        join_retry_(settings.join_retry),
        sink_(std::make_shared<Sink>(settings.sink_capacity, settings.sink_max_bytes)) {}

  ~PeerNode() override {
    // Drop our servers while the peer service is alive (their strands run on the runtime's pool).
    if (service_) {
      service_->unregister_server("echo");
      service_->unregister_server("sink");
    }
  }

  std::string_view name() const override { return "peer"; }

  Result<void> start(Runtime& runtime) override {
    io_ = runtime.io().get_executor();
    for (const auto& target : joins_) {
      const auto* spec = std::get_if<NodeSpec>(&target);
      if (spec && spec->name == config_.name) return make_error(errc::invalid_field, "--join: a node cannot join itself");
    }
    if (hooks_.disable_dedupe) {
      spdlog::warn("TEST ONLY: --test-only-disable-dedupe is set: retransmitted messages are delivered twice");
    }
    auto service = peer::PeerService::start(io_, config_, hooks_, runtime.workers());
    if (!service) return make_error(errc::io_error, "cannot start the peer service: " + reason(service.error()));
    service_ = *service;
    if (auto ok = register_builtin_servers(); !ok) return ok;
    // Runs when another node removed this one, and on this node's own leave().
    service_->on_removed([this] {
      spdlog::warn("no longer a member of the cluster: stopping");
      finish();
    });
    joiner_ = std::make_shared<Joiner>(io_, service_, join_retry_);
    return {};
  }

  // --join targets are retried until they join; with a join timeout, a node
  // that joined none of them by then gives up (plexusd exits 2).
  void started(Runtime&) override {
    for (const auto& target : joins_) joiner_->add(target);
    if (joins_.empty() || join_retry_.timeout.count() == 0) return;
    join_deadline_ = std::make_unique<asio::steady_timer>(io_, join_retry_.timeout);
    join_deadline_->async_wait([this](std::error_code ec) {
      if (ec || joiner_->joined_any() || finished_) return;
      std::string last;
      for (const auto& pending : joiner_->pending()) {
        last += (last.empty() ? "" : "; ") + pending.target + ": " + pending.last_error;
      }
      join_failure_ = "--join-timeout-ms: joined none of the --join targets within " +
                      std::to_string(join_retry_.timeout.count()) + " ms (" + last + ")";
      spdlog::error("{}: stopping", *join_failure_);
      finish();
    });
  }

  void stop(std::function<void()> done) override {
    if (join_deadline_) join_deadline_->cancel();
    if (joiner_) joiner_->stop();
    if (!service_) return done();
    service_->stop(std::move(done));
  }

  void add_routes(AdminServer& admin) override {
    admin.provide(std::make_shared<PeerRoutes>(PeerRoutes{service_, sink_, echo_,
                                                          [this] {
                                                            spdlog::info("left the cluster: stopping");
                                                            finish();
                                                          },
                                                          joiner_}));
    add_membership_routes(admin);
    add_messaging_routes(admin);
    add_status_routes(admin);
  }

  void write_metrics(MetricsText& out) override { write_peer_metrics(out, *service_, *sink_, *echo_); }

  const std::shared_ptr<peer::PeerService>& service() const override { return service_; }
  void on_finished(std::function<void()> fn) override { on_finished_ = std::move(fn); }
  const std::optional<std::string>& join_failure() const override { return join_failure_; }

 private:
  static std::string reason(const Error& e) { return e.detail.empty() ? e.message() : e.detail; }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (on_finished_) on_finished_();
  }

  Result<void> register_builtin_servers() {
    auto sink = sink_;
    if (auto ok = service_->register_server("sink", [sink](const peer::Received& r) { sink->push(r); }); !ok) return ok;
    std::weak_ptr<peer::PeerService> weak = service_;
    // Handlers may run on a worker (adaptive placement); the reply is sent from the io thread.
    return service_->register_server("echo", [weak, io = io_, counters = echo_](const peer::Received& r) {
      asio::post(io, [weak, counters, r, reply_to = reply_server_of(r.payload)] {
        auto service = weak.lock();
        if (!service) return;
        peer::ForwardOptions options;
        options.channel = r.channel;
        auto sent = r.cast ? service->cast_message(r.from, reply_to, r.payload, options)
                           : service->forward_message(r.from, reply_to, r.payload, options);
        if (sent) {
          ++counters->replies;
        } else {
          ++counters->failures;
          spdlog::warn("echo: cannot reply to {} on {}: {}", reply_to, r.from, sent.error().message());
        }
      });
    });
  }

  peer::Config config_;
  peer::TestHooks hooks_;
  std::vector<JoinTarget> joins_;
  JoinRetryOptions join_retry_;
  asio::any_io_executor io_;
  std::shared_ptr<peer::PeerService> service_;
  std::shared_ptr<Sink> sink_;
  std::shared_ptr<EchoCounters> echo_ = std::make_shared<EchoCounters>();
  std::shared_ptr<Joiner> joiner_;
  std::unique_ptr<asio::steady_timer> join_deadline_;
  std::optional<std::string> join_failure_;
  std::function<void()> on_finished_;
  bool finished_ = false;
};

}  // namespace

const ServiceKind& peer_service_kind() {
  static const ServiceKind kind{&peer_options,
                                [](const Settings& settings) -> std::unique_ptr<Service> {
                                  return std::make_unique<PeerNode>(settings);
                                }};
  return kind;
}

}  // namespace plexus::node
