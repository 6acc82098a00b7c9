// The tenant manager of a node as a Service (docs/tenants.md): its option
// table, the start of the TenantsHost over the peer service (after the
// store, whose datastore keeps the registry, and the peer service, whose
// `_tenants` channel carries it and the calls), the admin routes and the
// /metrics families (tenants by status and module, starts, stops, calls and
// their latency).
#include <spdlog/spdlog.h>

#include "plexus/core/errors.hpp"
#include "plexus/node/admin_server.hpp"
#include "plexus/node/metrics_text.hpp"
#include "plexus/node/runtime.hpp"
#include "plexus/node/services.hpp"
#include "plexus/node/tenants_host.hpp"
#include "plexus/store/datastore.hpp"

namespace plexus::node {

void add_tenant_routes(AdminServer& admin);
/// The runner of this node's tenants (tenant_runner_local.cpp); null when none can run here.
Result<std::shared_ptr<TenantRunner>> make_tenant_runner(Runtime& runtime, const Settings& settings,
                                                         std::shared_ptr<store::Datastores> datastores);

namespace {

using K = OptionKind;
using O = NodeOptions;

const OptionTable& tenants_options() {
  static const OptionTable table{"tenants", "The tenant manager (docs/tenants.md)", {
      option("--tenants", &O::tenants, K::boolean, "run the tenant manager (channel _tenants)")
          .details("run the tenant manager: its registry and calls travel on the channel `_tenants` (added for you; do not declare it with `--channel`)"),
      option("--module-lib", &O::module_lib, K::list, "load tenant modules from this shared library (repeatable)")
          .details("a shared library of tenant modules, loaded at start (repeatable); a library that fails to load or has the wrong version stops the start, naming it"),
      option("--tenant-policy", &O::tenant_policy, K::list, "MODULE=majority|available (repeatable)")
          .details("split-brain policy of a module, `MODULE=majority` or `MODULE=available` (repeatable); a module not named gets `majority` on clusters of 3 or more members, `available` below"),
      option("--tenant-datastore", &O::tenant_datastore, K::text, "datastore that keeps the tenant registry")
          .details("the datastore (`--datastore`) in which this node saves its replica of the tenant registry; without it (no such datastore) the registry lives in memory only"),
      integer_option("--tenant-stable-after-ms", &O::tenant_stable_after_ms, 0, 600'000,
                     "majority policy: a majority must hold this long before tenants start", "ms")
          .details("majority policy: this node starts tenants only once it has seen a strict majority of the members for this long"),
      integer_option("--tenant-call-deadline-ms", &O::tenant_call_deadline_ms, 1, 600'000,
                     "deadline of a call, install, update or uninstall that names none", "ms")
          .details("deadline of a call, install, update or uninstall that gives none (`deadline_ms`)"),
      integer_option("--tenant-calls-pending-max", &O::tenant_calls_pending_max, 1, 10'000'000,
                     "calls this node waits on at once; beyond: unavailable")
          .details("calls and outcome waits this node has in flight to other nodes at once; beyond it new ones fail `unavailable`"),
      integer_option("--tenant-anti-entropy-ms", &O::tenant_anti_entropy_ms, 10, 600'000,
                     "registry digest period", "ms")
          .details("period of the registry's digest exchange with every up peer"),
      integer_option("--tenant-lease-ttl-ms", &O::tenant_lease_ttl_ms, 30, 3'600'000,
                     "a tenant's ownership lease; renewed every third of it", "ms")
          .details("a tenant's ownership lease in its datastore, renewed every third of it: on a shared datastore a crashed owner's tenants start elsewhere once it expired (the failover time), on a node's own datastore it fences only that node's previous life"),
      integer_option("--tenant-rebalance-per-s", &O::tenant_rebalance_per_s, 0, 100'000,
                     "tenants per second handed over to a joining node; 0: none")
          .details("placement is sticky: a running tenant stays on its owner while that owner is up, so a joining node takes nothing; with N > 0 this node hands at most N tenants per second (a burst of at most N) over to their rendezvous owner, each a graceful handoff"),
      integer_option("--tenant-events-keep", &O::tenant_events_keep, 1, 10'000'000,
                     "lifecycle events kept in this node's durable event log")
          .details("lifecycle events (install, update, uninstall, error_occurred) kept in this node's durable event log in the tenant datastore (`GET /v1/tenants/events`); an append drops those older than the last this many"),
  }};
  return table;
}

void render(MetricsText& out, TenantsHost& host) {
  std::map<std::pair<std::string, std::string>, std::uint64_t> by_status;
  for (const auto& t : host.list()) {
    std::string status = t.record.desired == tenants::Desired::running ? "registered" : "uninstalling";
    if (host.runner() && host.runner()->running().contains(t.id)) {
      const auto local = host.runner()->status(t.id);
      status = local.is_object() && local.contains("status") ? local["status"].get<std::string>() : "running";
    } else if (host.running_on(t.id)) {
      status = "remote";
    }
    ++by_status[{status, t.record.module}];
  }
  out.family("plexus_tenants", "gauge", "Tenants in this node's registry, by status here (remote: running elsewhere) and module.");
  for (const auto& [key, count] : by_status) {
    out.sample("plexus_tenants", {{"status", key.first}, {"module", key.second}}, count);
  }
  const auto& c = host.counters();
  const auto counter = [&out](const char* name, const char* help, std::uint64_t value) {
    out.family(name, "counter", help).sample(name, {}, value);
  };
  counter("plexus_tenant_starts_total", "Tenants started on this node (installs, failovers, handoffs in).", c.starts);
  counter("plexus_tenant_handoffs_total", "Tenants stopped here for another owner or a lost quorum.", c.stops);
  counter("plexus_tenant_rebalanced_total", "Tenants handed over to their rendezvous owner (--tenant-rebalance-per-s).", c.rebalanced);
  counter("plexus_tenant_call_retries_total", "Call attempts retried on a new owner.", c.call_retries);
  counter("plexus_tenant_calls_served_total", "Calls from other nodes run here.", c.calls_served);
  out.family("plexus_tenant_call_errors_total", "counter", "Calls made from this node that failed, by code.");
  for (const auto& [code, n] : c.call_errors) out.sample("plexus_tenant_call_errors_total", {{"code", code}}, n);
  out.family("plexus_tenant_call_latency_us", "histogram", "Latency of calls made from this node, microseconds.");
  std::uint64_t cumulative = 0;
  for (const auto bound : tenant_call_latency_bounds_us) {
    if (auto it = c.call_latency_us.find(bound); it != c.call_latency_us.end()) cumulative += it->second;
    out.sample("plexus_tenant_call_latency_us_bucket", {{"le", std::to_string(bound)}}, cumulative);
  }
  out.sample("plexus_tenant_call_latency_us_bucket", {{"le", "+Inf"}}, c.calls_total);
  out.sample("plexus_tenant_call_latency_us_sum", {}, c.call_latency_sum_us);
  out.sample("plexus_tenant_call_latency_us_count", {}, c.calls_total);
}

class Tenants final : public Service {
 public:
  explicit Tenants(const Settings& settings) : settings_(settings) {}
  ~Tenants() override {
    if (host_) host_->stop();
  }

  std::string_view name() const override { return "tenants"; }

  Result<void> start(Runtime& runtime) override {
    const auto& t = settings_.tenants;
    if (!t.enabled) return {};
    auto* peer = runtime.find<PeerNodeService>();
    auto* store = runtime.find<StoreService>();
    if (!peer || !peer->service()) return make_error(errc::invalid_field, "--tenants: needs the peer service, started before it");
    std::shared_ptr<store::Database> database;
    if (store && store->datastores()) {
      if (auto found = store->datastores()->find(t.datastore)) database = (*found)->database;
    }
    if (!database) spdlog::warn("tenants: no datastore '{}': the registry is kept in memory only", t.datastore);
    auto runner = make_tenant_runner(runtime, settings_, store ? store->datastores() : nullptr);
    if (!runner) return runner.error();
    auto host = TenantsHost::start(runtime.io(), peer->service(), t, database, *runner);
    if (!host) return Error{host.error().code, "--tenants: " + host.error().message()};
    host_ = std::move(*host);
    return {};
  }

  void stop(std::function<void()> done) override {
    if (host_ && host_->runner() && host_->runner()->events()) host_->runner()->events()->close();  // wakes long polls
    if (host_) host_->stop();
    done();
  }

  void add_routes(AdminServer& admin) override {
    if (host_) admin.provide(host_);
    add_tenant_routes(admin);
  }

  void write_metrics(MetricsText& out) override {
    if (host_) render(out, *host_);
  }

 private:
  Settings settings_;
  std::shared_ptr<TenantsHost> host_;
};

}  // namespace

const ServiceKind& tenants_service_kind() {
  static const ServiceKind kind{&tenants_options, [](const Settings& settings) -> std::unique_ptr<Service> {
                                  return std::make_unique<Tenants>(settings);
                                }};
  return kind;
}

}  // namespace plexus::node
