// How a module reaches its tenant's key space: the `keyspace` capability.
// A tenant installed with capabilities {"keyspace": {"datastore": D,
// "context": C}} gets the store tenant of its id in datastore D, opened
// through context C, by the host (the node), which also holds the tenant's
// lease when D is shared. The host then binds a KeySpaceRunner for the
// tenant in the KeySpaces it gave every module through Module::attach(); the
// module looks it up by tenant id on each callback and runs its transaction
// bodies through it. The runner the host supplies is fenced_run() with the
// lease it holds (keyspace_runner() builds one), so every module write
// carries the fencing epoch, and the module never sees the lease.
//
// Runners block (store calls): callbacks run on the node's pool, not its io thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "plexus/store/tenant.hpp"
#include "plexus/tenants/fence.hpp"

namespace plexus::tenants {

/// The body of one transaction in a tenant's key space (module keys only:
/// FencedTransaction refuses the manager's reserved keys).
using KeySpaceBody = std::function<Result<void>(FencedTransaction&)>;

/// Runs a body in one read-write transaction of one tenant's key space,
/// retried on conflict; supplied by the host, fenced by the lease it holds.
using KeySpaceRunner = std::function<Result<void>(const KeySpaceBody&)>;

/// A runner over an open store tenant: fenced_run() with the lease `lease()`
/// returns when it returns one (a shared datastore), else an unfenced
/// transaction that still guards the reserved keys (no lease: an unshared datastore).
/// `lease` is asked on every run, so a renewed or lost lease is seen at once;
/// an empty `lease` means never fenced.
KeySpaceRunner keyspace_runner(store::Tenant tenant, std::function<std::optional<Lease>()> lease = {});

/// The key spaces of the tenants running on this node, by tenant id.
/// Thread-safe: the host binds and unbinds from its threads while modules
/// look up from the tenants' strands.
class KeySpaces {
 public:
  /// Binds (or rebinds) `tenant_id`'s key space; the host does so before
  /// the tenant's install or run, and after taking its lease.
  void bind(std::string tenant_id, KeySpaceRunner runner);
  /// Unbinds it; the host does so after the tenant's terminate.
  void unbind(std::string_view tenant_id);
  /// Runs `body` in `tenant_id`'s key space; unavailable naming the tenant
  /// when none is bound (no `keyspace` capability, or not running here).
  Result<void> run(std::string_view tenant_id, const KeySpaceBody& body) const;
  [[nodiscard]] bool bound(std::string_view tenant_id) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const KeySpaceRunner>, std::less<>> runners_;
};

/// What the host offers modules beyond the callbacks (Module::attach). New
/// offers are added as fields; a module ignores what it does not use.
struct ModuleHost {
  /// Tenants' key spaces; null when the host offers none.
  std::shared_ptr<KeySpaces> keyspaces;
};

/// The `keyspace` capability as a tenant's capabilities spell it.
struct KeySpaceCapability {
  std::string datastore;  ///< the node's datastore holding the key space
  std::string context;    ///< the datastore context to open it through; empty: the datastore itself
  friend bool operator==(const KeySpaceCapability&, const KeySpaceCapability&) = default;
};

/// The `keyspace` capability of `capabilities`: nullopt without one;
/// invalid_argument naming the field ("capabilities.keyspace.datastore: ...") when malformed.
Result<std::optional<KeySpaceCapability>> keyspace_capability(const nlohmann::json& capabilities);

}  // namespace plexus::tenants
