// TenantsHost: the node's tenant manager, cluster side (internal to
// plexus::node; io thread only). It runs the ClusterCore (registry +
// node announcements) under a replica::Host on the `_tenants` channel,
// saves the registry in the node's datastore before anything leaves
// (RegistryStore), computes this node's Plan (placement + quorum) on every
// registry, member or announcement change and applies it to the
// TenantRunner, and routes calls, casts and lifecycle-outcome waits to the
// owner over the peer service (tenants_routing.cpp). docs/tenants.md.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "plexus/node/node.hpp"
#include "plexus/node/tenant_runner.hpp"
#include "plexus/replica/host.hpp"
#include "plexus/store/kv.hpp"
#include "plexus/tenants/cluster_core.hpp"
#include "plexus/tenants/placement.hpp"
#include "plexus/tenants/plan.hpp"
#include "plexus/tenants/registry_store.hpp"

namespace plexus::node {

/// Upper bounds (µs) of the call latency histogram's buckets.
inline constexpr std::uint64_t tenant_call_latency_bounds_us[] = {100, 250, 500, 1'000, 2'500, 5'000, 10'000, 50'000, 250'000, 1'000'000};

/// Counters for /metrics.
struct TenantsCounters {
  std::uint64_t starts = 0;
  std::uint64_t stops = 0;  ///< handoffs and quorum losses
  std::uint64_t rebalanced = 0;  ///< of which handed over to a rendezvous owner (--tenant-rebalance-per-s)
  std::uint64_t calls_local = 0;
  std::uint64_t calls_remote = 0;
  std::uint64_t calls_served = 0;  ///< calls from other nodes run here
  std::uint64_t call_retries = 0;
  std::map<std::string, std::uint64_t> call_errors;  ///< by code
  std::map<std::uint64_t, std::uint64_t> call_latency_us;  ///< histogram: upper bound -> count
  std::uint64_t call_latency_sum_us = 0;
  std::uint64_t calls_total = 0;
};

class TenantsHost : public std::enable_shared_from_this<TenantsHost> {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = TenantRunner::Done;
  using CallDone = TenantRunner::CallDone;

  /// Loads the registry from `database` (may be null: not persisted), starts
  /// the replica host and the call server.
  static Result<std::shared_ptr<TenantsHost>> start(asio::io_context& io, std::shared_ptr<peer::PeerService> peer,
                                                    const TenantSettings& settings,
                                                    std::shared_ptr<store::Database> database,
                                                    std::shared_ptr<TenantRunner> runner);
  ~TenantsHost();

  // ---- the seed's writes: acknowledged once saved here and sent to the up peers ----
  Result<tenants::Registered> install(const std::string& id, const std::string& module, tenants::Config config);
  Result<tenants::Registered> update(const std::string& id, tenants::Config config);
  Result<tenants::Registered> uninstall(const std::string& id);
  /// Waits (up to `deadline`) for the owner's outcome of the write that made
  /// `generation`; `async` when the deadline passes first.
  void await_outcome(const std::string& id, std::uint64_t generation, Clock::time_point deadline, Done done);

  // ---- reads ----
  [[nodiscard]] std::optional<tenants::Registered> find(const std::string& id) const;
  [[nodiscard]] std::vector<tenants::Registered> list() const;
  /// The node that owns `id` in this node's view (placement), or nullopt.
  [[nodiscard]] std::optional<std::string> owner_of(const std::string& id) const;
  /// The node that announced running `id` (this one included), or nullopt.
  [[nodiscard]] std::optional<std::string> running_on(const std::string& id) const;
  /// The tenant record, owner, where it runs and (here) its status.
  [[nodiscard]] nlohmann::json describe(const tenants::Registered& tenant) const;
  /// Members as placement sees them: up, modules, tenants running.
  [[nodiscard]] nlohmann::json nodes_json() const;

  // ---- calls, routed to the owner; retried on a new owner until the deadline ----
  void call(const std::string& id, std::string request, Clock::time_point deadline, CallDone done);
  Result<void> cast(const std::string& id, std::string request);

  [[nodiscard]] const TenantsCounters& counters() const { return counters_; }
  [[nodiscard]] const TenantSettings& settings() const { return settings_; }
  [[nodiscard]] bool may_run_now() const;
  [[nodiscard]] TenantRunner* runner() const { return runner_.get(); }
  /// Stops every tenant running here (graceful) and the replica host.
  void stop();

  struct Routing;      ///< the call/await wire state (tenants_routing.cpp)
  struct CallAttempt;  ///< one routed call (tenants_routing.cpp)

 private:
  using ReplicaHost = replica::Host<tenants::ClusterCore>;
  TenantsHost(asio::io_context& io, std::shared_ptr<peer::PeerService> peer, TenantSettings settings,
              std::shared_ptr<TenantRunner> runner);
  Result<void> connect(std::shared_ptr<store::Database> database);
  void on_output(tenants::ClusterCore::Output& out);
  void replan();
  void arm_quorum();
  std::size_t rebalance_allowance();
  void spend_rebalance(const tenants::Plan& decided);
  std::vector<tenants::Member> members() const;
  tenants::Policy policy_of(std::string_view module) const;
  void apply(const tenants::Plan& plan);
  void start_tenant(const tenants::Registered& tenant);
  void start_failed(const std::string& id, std::uint64_t generation, const Error& error);
  void outcome(const std::string& id, std::uint64_t generation, LifecycleOutcome result);
  void forget_uninstalled(const std::string& id);
  void drain() { host_->drain(0); }
  tenants::ClusterCore& core() { return host_->core(0); }
  const tenants::ClusterCore& core() const { return host_->core(0); }
  // tenants_routing.cpp
  Result<void> start_routing();
  void cancel_routing();
  void on_wire(const std::string& from, const std::vector<std::uint8_t>& payload);
  void record_call(Clock::time_point began, const Result<std::string>& result);

  asio::io_context& io_;
  std::shared_ptr<peer::PeerService> peer_;
  TenantSettings settings_;
  std::shared_ptr<TenantRunner> runner_;
  std::shared_ptr<tenants::RegistryStore> store_;
  std::shared_ptr<ReplicaHost> host_;
  tenants::Quorum quorum_;
  asio::steady_timer quorum_timer_;
  asio::steady_timer retry_timer_;  ///< a failed start is planned again after start_retry
  asio::steady_timer rebalance_timer_;  ///< replans while rebalancing waits for budget
  double rebalance_tokens_ = 0;         ///< token bucket of --tenant-rebalance-per-s (capacity: one second's)
  Clock::time_point rebalance_refill_ = Clock::now();
  static constexpr auto start_retry = std::chrono::milliseconds(100);
  std::map<std::string, std::uint64_t> running_generation_;  ///< tenants started here -> generation applied
  /// Outcomes this node (as owner) reported: tenant -> (generation, outcome).
  std::map<std::string, std::pair<std::uint64_t, LifecycleOutcome>> outcomes_;
  std::shared_ptr<Routing> routing_;  // shared: complete only in tenants_routing.cpp
  TenantsCounters counters_;
  bool stopped_ = false;
};

}  // namespace plexus::node
