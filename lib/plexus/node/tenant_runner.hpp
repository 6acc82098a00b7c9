// TenantRunner: what the node's tenant manager (tenants_host.hpp) needs of
// the tenants that run on this node — start (install, or resume from the
// last snapshot), update, uninstall, graceful stop, calls and casts — as an
// interface, so that the cluster side does not depend on how tenants run.
// LocalTenants (plexus/tenants/local.hpp) is adapted to it in
// tenant_runner_local.cpp. Every method is called on the node's io thread;
// callbacks may come from any thread (the host posts them back).
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plexus/core/result.hpp"
#include "plexus/tenants/event_log.hpp"
#include "plexus/tenants/registry.hpp"

namespace plexus::node {

/// The outcome of an install, update or uninstall on the owner.
struct LifecycleOutcome {
  enum class Kind : std::uint8_t { ok, async, error };
  Kind kind = Kind::ok;
  Error error;  ///< for error
};
std::string_view outcome_name(LifecycleOutcome::Kind kind) noexcept;

class TenantRunner {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  using Done = std::function<void(LifecycleOutcome)>;
  using CallDone = std::function<void(Result<std::string>)>;
  virtual ~TenantRunner() = default;

  /// The modules this node can run.
  [[nodiscard]] virtual std::set<std::string, std::less<>> modules() const = 0;
  /// Starts `tenant` here: install when it never ran, else resume from its
  /// last snapshot. `done` gets the install's outcome (ok for a resume).
  virtual void start(const tenants::Registered& tenant, Deadline deadline, Done done) = 0;
  virtual void update(const tenants::Registered& tenant, Deadline deadline, Done done) = 0;
  virtual void uninstall(const std::string& id, Deadline deadline, Done done) = 0;
  /// Graceful stop (handoff, lost quorum, shutdown): terminate, final snapshot.
  virtual void stop(const std::string& id, const std::string& reason) = 0;
  virtual void call(const std::string& id, std::string request, Deadline deadline, CallDone done) = 0;
  virtual void cast(const std::string& id, std::string request) = 0;
  /// The tenants running here (started and not stopped).
  [[nodiscard]] virtual std::set<std::string, std::less<>> running() const = 0;
  /// {"status": ..., ...} of a tenant running here, or null.
  [[nodiscard]] virtual nlohmann::json status(const std::string& id) const = 0;
  /// The durable log of this node's lifecycle events (subscribe() to it for
  /// each committed event), or null when the runner keeps none.
  [[nodiscard]] virtual std::shared_ptr<tenants::EventLog> events() const { return nullptr; }
};

}  // namespace plexus::node
