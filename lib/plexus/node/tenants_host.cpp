// TenantsHost: start (registry load, replica host), the seed's writes, the
// plan on every change and its application to the runner (see tenants_host.hpp).
#include "plexus/node/tenants_host.hpp"

#include <spdlog/spdlog.h>
#include <sodium.h>

#include <asio/post.hpp>

#include <cmath>

#include "plexus/core/errors.hpp"
#include "plexus/tenants/errors.hpp"

namespace plexus::node {
namespace {

Time now_time() { return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now().time_since_epoch()); }

std::uint64_t random_instance() {
  std::uint64_t value = 0;
  while (value == 0) randombytes_buf(&value, sizeof value);
  return value;
}

}  // namespace

std::string_view outcome_name(LifecycleOutcome::Kind kind) noexcept {
  switch (kind) {
    case LifecycleOutcome::Kind::ok: return "ok";
    case LifecycleOutcome::Kind::async: return "async";
    case LifecycleOutcome::Kind::error: return "error";
  }
  return "?";
}

TenantsHost::TenantsHost(asio::io_context& io, std::shared_ptr<peer::PeerService> peer, TenantSettings settings,
                         std::shared_ptr<TenantRunner> runner)
    : io_(io), peer_(std::move(peer)), settings_(std::move(settings)), runner_(std::move(runner)),
      quorum_(tenants::QuorumOptions{settings_.stable_after}), quorum_timer_(io), retry_timer_(io),
      rebalance_timer_(io), rebalance_tokens_(double(settings_.rebalance_per_s)) {}

Result<std::shared_ptr<TenantsHost>> TenantsHost::start(asio::io_context& io, std::shared_ptr<peer::PeerService> peer,
                                                        const TenantSettings& settings,
                                                        std::shared_ptr<store::Database> database,
                                                        std::shared_ptr<TenantRunner> runner) {
  std::shared_ptr<TenantsHost> host(new TenantsHost(io, std::move(peer), settings, std::move(runner)));
  if (auto ok = host->connect(std::move(database)); !ok) return ok.error();
  if (auto ok = host->start_routing(); !ok) return ok.error();
  host->replan();
  return host;
}

TenantsHost::~TenantsHost() { stop(); }

Result<void> TenantsHost::connect(std::shared_ptr<store::Database> database) {
  const auto& name = peer_->spec().name;
  std::vector<tenants::RegistryEntry> entries;
  std::uint64_t floor = 0;
  tenants::ClusterCore::Save save;
  if (database) {
    store_ = std::make_shared<tenants::RegistryStore>(database, name);
    tenants::RegistryMap loaded;
    auto read = store_->load(loaded);
    if (!read) return Error{read.error().code, "tenant registry: " + read.error().message()};
    for (const auto& [id, entry] : loaded) entries.push_back(entry);
    floor = loaded.version_floor();
    save = [store = store_](const tenants::RegistryCore::Output& out) -> Result<void> {
      if (auto ok = store->save(out.persist); !ok) return ok;
      if (!out.dropped.empty()) {
        if (auto ok = store->drop(out.dropped); !ok) return ok;
      }
      if (out.version_floor) return store->save_floor(*out.version_floor);
      return {};
    };
  }
  std::set<std::string, std::less<>> modules;
  if (runner_) modules = runner_->modules();
  tenants::RegistryCoreOptions options;
  options.anti_entropy_period = settings_.anti_entropy;
  auto core = std::make_unique<tenants::ClusterCore>(name, random_instance(), std::move(modules), std::move(save),
                                                     ReplicaHost::now(), options);
  if (auto restored = core->registry().restore(entries, floor); !restored) {
    return Error{restored.error().code, "tenant registry: " + restored.error().message()};
  }
  if (!entries.empty()) spdlog::info("tenant registry: {} entries loaded", entries.size());
  std::vector<std::unique_ptr<tenants::ClusterCore>> cores;
  cores.push_back(std::move(core));
  std::weak_ptr<TenantsHost> weak = weak_from_this();
  auto host = ReplicaHost::start(io_.get_executor(), peer_,
                                 replica::HostOptions{settings_.channel, {"tenants.registry"}, "tenants"},
                                 std::move(cores), [weak](std::uint32_t, tenants::ClusterCore::Output& out) {
                                   if (auto self = weak.lock()) self->on_output(out);
                                 });
  if (!host) return Error{host.error().code, "tenant registry: " + host.error().message()};
  host_ = *host;
  return {};
}

void TenantsHost::on_output(tenants::ClusterCore::Output& out) {
  if (out.changes.empty() && !out.nodes_changed) return;
  // Not inline: drain() may run inside a runner callback or another drain.
  asio::post(io_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->replan();
  });
}

Result<tenants::Registered> TenantsHost::install(const std::string& id, const std::string& module,
                                                 tenants::Config config) {
  bool hosted = core().self().modules.contains(module);
  for (const auto& [node, announced] : core().announced()) hosted = hosted || announced.modules.contains(module);
  if (!hosted) {
    return tenants::make_error(tenants::errc::unknown_module, "field 'module': no node of the cluster hosts module '" + module + "'");
  }
  auto done = core().registry().install(id, module, std::move(config), ReplicaHost::now());
  drain();
  return done;
}

Result<tenants::Registered> TenantsHost::update(const std::string& id, tenants::Config config) {
  auto done = core().registry().update(id, std::move(config), ReplicaHost::now());
  drain();
  return done;
}

Result<tenants::Registered> TenantsHost::uninstall(const std::string& id) {
  auto done = core().registry().uninstall(id, ReplicaHost::now());
  drain();
  return done;
}

std::optional<tenants::Registered> TenantsHost::find(const std::string& id) const {
  return core().registry().registry().find(id);
}

std::vector<tenants::Registered> TenantsHost::list() const { return core().registry().registry().list(); }

std::vector<tenants::Member> TenantsHost::members() const {
  std::vector<tenants::Member> out;
  const auto& self = peer_->spec().name;
  out.push_back(tenants::Member{self, true, core().self().modules, core().self().running});
  for (const auto& status : peer_->member_status()) {
    if (status.self || status.spec.name == self) continue;
    tenants::Member member{status.spec.name, core().up().contains(status.spec.name), {}, {}};
    if (auto it = core().announced().find(member.name); it != core().announced().end()) {
      member.modules = it->second.modules;
      member.running = it->second.running;
    }
    out.push_back(std::move(member));
  }
  return out;
}

tenants::Policy TenantsHost::policy_of(std::string_view module) const {
  if (auto it = settings_.policies.find(module); it != settings_.policies.end()) {
    return it->second == "available" ? tenants::Policy::available : tenants::Policy::majority;
  }
  return tenants::default_policy(peer_->member_status().size());
}

bool TenantsHost::may_run_now() const { return quorum_.may_run(tenants::Policy::majority, now_time()); }

std::optional<std::string> TenantsHost::owner_of(const std::string& id) const {
  const auto tenant = find(id);
  if (!tenant || tenant->record.desired != tenants::Desired::running) return std::nullopt;
  const auto all = members();
  return tenants::placed_owner(id, tenant->record.module, all);
}

std::optional<std::string> TenantsHost::running_on(const std::string& id) const {
  if (runner_ && runner_->running().contains(id)) return peer_->spec().name;
  for (const auto& [node, announced] : core().announced()) {
    if (core().up().contains(node) && announced.running.contains(id)) return node;
  }
  return std::nullopt;
}

void TenantsHost::replan() {
  if (stopped_) return;
  const auto all = members();
  std::size_t visible = 0;
  for (const auto& m : all) visible += m.up ? 1 : 0;
  const Time now = now_time();
  quorum_.observe(all.size(), visible, now);
  arm_quorum();
  if (!runner_) return;
  // A tenant that ended by itself here (fenced, parked) no longer runs: forget
  // it, so the plan sees the truth (sticky placement reads running sets).
  const auto really = runner_->running();
  std::erase_if(running_generation_, [&](const auto& entry) {
    if (really.contains(entry.first)) return false;
    spdlog::warn("tenant {}: ended here by itself (a fenced write, or a failure)", entry.first);
    return true;
  });
  std::set<std::string, std::less<>> here;
  for (const auto& [id, generation] : running_generation_) here.insert(id);
  const auto registry = list();
  const auto decided = tenants::plan(peer_->spec().name, registry, all, here, quorum_,
                                     [this](std::string_view module) { return policy_of(module); }, now,
                                     rebalance_allowance());
  spend_rebalance(decided);
  apply(decided);
  // Updates of tenants that keep running here.
  for (const auto& tenant : registry) {
    auto it = running_generation_.find(tenant.id);
    if (it == running_generation_.end() || tenant.record.desired != tenants::Desired::running) continue;
    if (it->second >= tenant.generation) continue;
    it->second = tenant.generation;
    const auto generation = tenant.generation;
    runner_->update(tenant, Clock::now() + settings_.call_deadline,
                    [weak = weak_from_this(), id = tenant.id, generation](LifecycleOutcome result) {
                      if (auto self = weak.lock()) self->outcome(id, generation, std::move(result));
                    });
  }
  core().set_running(runner_->running());
  drain();
}

// The token bucket of --tenant-rebalance-per-s: refilled at N a second up
// to N; what a plan may hand over now.
std::size_t TenantsHost::rebalance_allowance() {
  const double rate = double(settings_.rebalance_per_s);
  if (rate == 0) return 0;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - rebalance_refill_).count();
  rebalance_tokens_ = std::min(rate, rebalance_tokens_ + elapsed * rate);
  rebalance_refill_ = now;
  return std::size_t(rebalance_tokens_);
}

// Pays for the plan's handovers; plans again when the next token is due
// while handovers still wait.
void TenantsHost::spend_rebalance(const tenants::Plan& decided) {
  rebalance_tokens_ -= double(decided.rebalanced);
  counters_.rebalanced += decided.rebalanced;
  if (decided.rebalance_waiting == 0 || settings_.rebalance_per_s == 0) return;
  const double wait_s = (1.0 - (rebalance_tokens_ - std::floor(rebalance_tokens_))) / double(settings_.rebalance_per_s);
  rebalance_timer_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s)));
  rebalance_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->replan();
  });
}

void TenantsHost::arm_quorum() {
  const Time next = quorum_.next_deadline();
  if (stopped_ || next == Time::max() || next <= now_time()) return;  // already stable: nothing to wait for
  const auto at = Clock::time_point(std::chrono::duration_cast<Clock::duration>(next));
  quorum_timer_.expires_at(at);
  quorum_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->replan();
  });
}

void TenantsHost::apply(const tenants::Plan& decided) {
  for (const auto& id : decided.stop) {
    spdlog::info("tenant {}: stopping here (moved, or this node may not run it now)", id);
    runner_->stop(id, "handoff");
    running_generation_.erase(id);
    ++counters_.stops;
  }
  for (const auto& id : decided.start) {
    if (auto tenant = find(id)) start_tenant(*tenant);
  }
  for (const auto& id : decided.uninstall) {
    running_generation_.erase(id);
    const auto tenant = find(id);
    const auto generation = tenant ? tenant->generation : 0;
    runner_->uninstall(id, Clock::now() + settings_.call_deadline,
                       [weak = weak_from_this(), id, generation](LifecycleOutcome result) {
                         auto self = weak.lock();
                         if (!self) return;
                         const bool done = result.kind == LifecycleOutcome::Kind::ok;
                         self->outcome(id, generation, std::move(result));
                         if (done) self->forget_uninstalled(id);
                       });
  }
}

void TenantsHost::start_tenant(const tenants::Registered& tenant) {
  spdlog::info("tenant {}: starting here (module {}, generation {})", tenant.id, tenant.record.module,
               tenant.generation);
  running_generation_[tenant.id] = tenant.generation;
  ++counters_.starts;
  const auto generation = tenant.generation;
  runner_->start(tenant, Clock::now() + settings_.call_deadline,
                 [weak = weak_from_this(), id = tenant.id, generation](LifecycleOutcome result) {
                   auto self = weak.lock();
                   if (!self) return;
                   if (result.kind == LifecycleOutcome::Kind::error) self->start_failed(id, generation, result.error);
                   self->outcome(id, generation, std::move(result));
                 });
}

// A start that failed: the install itself (module_error, callback_threw)
// leaves nothing installed, so the registry entry is uninstalled and
// forgotten; anything else (lease_held: the old owner's lease has not
// expired yet; unavailable) is tried again by the next plan after start_retry.
void TenantsHost::start_failed(const std::string& id, std::uint64_t generation, const Error& error) {
  asio::post(io_, [weak = weak_from_this(), id, generation, error] {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    auto it = self->running_generation_.find(id);
    if (it == self->running_generation_.end() || it->second != generation) return;
    self->running_generation_.erase(it);
    if (tenants::is(error, tenants::errc::module_error) || tenants::is(error, tenants::errc::callback_threw)) {
      if (self->core().registry().uninstall(id, ReplicaHost::now())) {
        (void)self->core().registry().forget(id, ReplicaHost::now());
      }
      return self->drain();
    }
    self->retry_timer_.expires_after(start_retry);
    self->retry_timer_.async_wait([weak = self->weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      if (auto again = weak.lock()) again->replan();
    });
  });
}

void TenantsHost::forget_uninstalled(const std::string& id) {
  asio::post(io_, [weak = weak_from_this(), id] {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    (void)self->core().registry().forget(id, ReplicaHost::now());
    self->drain();
  });
}

void TenantsHost::stop() {
  if (stopped_) return;
  stopped_ = true;
  quorum_timer_.cancel();
  retry_timer_.cancel();
  rebalance_timer_.cancel();
  if (runner_) {
    for (const auto& [id, generation] : running_generation_) runner_->stop(id, "shutdown");
  }
  running_generation_.clear();
  if (routing_) cancel_routing();
  if (host_) host_->stop();
  peer_->unregister_server("tenants.call");
}

}  // namespace plexus::node
