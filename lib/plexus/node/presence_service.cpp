// The presence tracker of a node as a Service: its options, the tracker's
// start over the peer service (before the joins, so that it sees every peer
// come up), its admin routes and its metrics.
#include <spdlog/spdlog.h>

#include "plexus/core/errors.hpp"
#include "plexus/node/admin_server.hpp"
#include "plexus/node/metrics_text.hpp"
#include "plexus/node/node.hpp"
#include "plexus/node/presence_host.hpp"
#include "plexus/node/runtime.hpp"
#include "plexus/node/services.hpp"

namespace plexus::node {
namespace {

using K = OptionKind;
using O = NodeOptions;

const OptionTable& presence_options() {
  static const OptionTable table{"presence", "The presence tracker (docs/presence.md)", {
      option("--presence-disabled", &O::presence_disabled, K::boolean, "run no presence tracker")
          .details("run no presence tracker (the `/v1/presence/*` routes answer `404 presence_disabled`)"),
      option("--presence-name", &O::presence_name, K::text, "tracker name; shards are servers presence.<name>.<i>")
          .details("tracker name; its shards are the servers `presence.<name>.<i>`"),
      option("--presence-channel", &O::presence_channel, K::text, "channel the shards talk on (added for you)")
          .details("channel the shards talk on; added to the node's channels with parallelism `pool_size` (max 256) — do not declare it with `--channel`"),
      integer_option("--presence-pool-size", &O::presence_pool_size, 1, 1024, "tracker shards; the same on every node")
          .details("tracker shards; **the same on every node** (a mismatch is logged and counted in `plexus_presence_pool_size_mismatches_total`)"),
      integer_option("--presence-broadcast-period-ms", &O::presence_broadcast_period_ms, 1, 3'600'000,
                     "heartbeat period while changing", "ms")
          .details("heartbeat period while presences change (Phoenix: 1500)"),
      integer_option("--presence-max-silent-periods", &O::presence_max_silent_periods, 1, 1'000'000,
                     "idle: heartbeat every N periods")
          .details("an idle shard still heartbeats every N periods"),
      integer_option("--presence-down-period-ms", &O::presence_down_period_ms, 2, 86'400'000,
                     "a silent replica's presences hide (>= 2 x broadcast)", "ms")
          .details("a node's tracker silent this long is down: its presences are hidden (leaves); at least twice the broadcast period (Phoenix: 30000)"),
      integer_option("--presence-permdown-period-ms", &O::presence_permdown_period_ms, 3, 2'000'000'000,
                     "a down replica is dropped (> down period)", "ms")
          .details("a node down this long is dropped with its presences; greater than the down period"),
      integer_option("--presence-clock-sample-periods", &O::presence_clock_sample_periods, 1, 1000,
                     "heartbeats ahead before a transfer request")
          .details("heartbeats showing a node ahead before a state transfer is asked"),
      option("--presence-max-delta-sizes", &O::presence_max_delta_sizes, K::sizes,
             "catch-up delta sizes, increasing: N,N,...")
          .details("catch-up delta sizes, increasing (in the file also `[100, 1000, 10000]`); beyond the last a full state is sent"),
      integer_option("--presence-delta-flush-ms", &O::presence_delta_flush_ms, 0, 60'000,
                     "local changes coalesce this long into one delta", "ms")
          .details("local changes coalesce this long into one delta per shard"),
      integer_option("--presence-owners-max", &O::presence_owners_max, 1, 10'000'000,
                     "owners the admin API keeps open at once")
          .details("owners the admin API keeps open at once (each with a lease)"),
      integer_option("--presence-lease-max-ms", &O::presence_lease_max_ms, 100, 86'400'000,
                     "longest owner lease an admin client may ask for", "ms")
          .details("longest owner lease an admin client may ask for (at least 100)"),
  }};
  return table;
}

void render_presence(MetricsText& e, PresenceHost& host) {
  const auto gauge = [&e](const char* name, const char* help, std::uint64_t value) {
    e.family(name, "gauge", help).sample(name, {}, value);
  };
  const auto counter = [&e](const char* name, const char* help, std::uint64_t value) {
    e.family(name, "counter", help).sample(name, {}, value);
  };
  const auto t = host.tracker().metrics();
  gauge("plexus_presence_presences", "Presences this node holds, all replicas, hidden ones included.", t.presences);
  gauge("plexus_presence_local_presences", "Presences tracked on this node.", t.local_presences);
  gauge("plexus_presence_owners", "Owners open through the admin API.", host.leases().size());
  counter("plexus_presence_owners_expired_total", "Admin owners closed because their lease ran out.", host.expired_total());
  counter("plexus_presence_deltas_sent_total", "Delta messages sent to other nodes.", t.deltas_sent);
  counter("plexus_presence_deltas_merged_total", "Deltas from other nodes merged.", t.deltas_merged);
  counter("plexus_presence_gaps_total", "Deltas refused because they start after what we know (a transfer follows).", t.gaps);
  counter("plexus_presence_transfer_requests_total", "State transfers asked of other nodes.", t.transfer_requests_sent);
  e.family("plexus_presence_transfers_sent_total", "counter", "State transfers sent, by kind.")
      .sample("plexus_presence_transfers_sent_total", {{"kind", "delta"}}, t.transfers_sent_delta)
      .sample("plexus_presence_transfers_sent_total", {{"kind", "full"}}, t.transfers_sent_full);
  counter("plexus_presence_heartbeats_sent_total", "Tracker heartbeats sent.", t.heartbeats_sent);
  counter("plexus_presence_bad_messages_total", "Tracker messages that could not be decoded.", t.bad_messages);
  counter("plexus_presence_pool_size_mismatches_total", "Messages from a node running another pool size.",
          t.pool_size_mismatches);
  counter("plexus_presence_send_failures_total", "Tracker messages the peer service refused to send.", t.send_failures);
}


class Presence final : public PresenceService {
 public:
  explicit Presence(const Settings& settings) : settings_(settings) {}
  ~Presence() override {
    if (host_) host_->stop();
  }

  std::string_view name() const override { return "presence"; }

  Result<void> start(Runtime& runtime) override {
    if (!settings_.presence_enabled) return {};
    auto* peer = runtime.find<PeerNodeService>();
    if (!peer || !peer->service()) return make_error(errc::invalid_field, "needs the peer service, started before it");
    auto host = PresenceHost::start(runtime.io().get_executor(), peer->service(), settings_);
    if (!host) {
      const auto& e = host.error();
      return make_error(errc::invalid_field, "presence: " + (e.detail.empty() ? e.message() : e.detail));
    }
    host_ = std::move(*host);
    return {};
  }

  // No permdown: the other nodes see this one go down and keep its presences
  // hidden for the permdown period, in case it comes back (docs/presence.md).
  void stop(std::function<void()> done) override {
    if (host_) host_->stop();
    done();
  }

  void add_routes(AdminServer& admin) override {
    if (host_) admin.provide(host_);
    add_presence_routes(admin);
  }

  void write_metrics(MetricsText& out) override {
    if (host_) render_presence(out, *host_);
  }

  const std::shared_ptr<PresenceHost>& host() const override { return host_; }

 private:
  Settings settings_;
  std::shared_ptr<PresenceHost> host_;
};

}  // namespace

const ServiceKind& presence_service_kind() {
  static const ServiceKind kind{&presence_options,
                                [](const Settings& settings) -> std::unique_ptr<Service> {
                                  return std::make_unique<Presence>(settings);
                                }};
  return kind;
}

}  // namespace plexus::node
