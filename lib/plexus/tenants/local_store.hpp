// The local host's datastore work (internal to LocalTenants): bringing a
// tenant's key space and lease up, and batches of fenced writes — snapshot
// writes, lease renewals, releases and the final clear of an uninstalled
// tenant — each batch ONE serializable transaction in which every item first
// reads its tenant's lease key and is refused (fenced) unless the lease still
// names this owner and epoch, exactly as fenced_run() checks it. An item's
// refusal fails only that item. Everything here blocks: call it on the pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "plexus/store/tenant.hpp"
#include "plexus/tenants/fence.hpp"

namespace plexus::tenants::local_detail {

/// What a fenced batch item does after the fence check passed.
enum class WriteKind : std::uint8_t {
  snapshot,  ///< ("__plexus","snapshot") <- state
  renew,     ///< the lease's expiry <- now + ttl
  release,   ///< the lease's owner cleared (epoch kept)
  clear,     ///< every key of the tenant cleared, then the lease written back released
};

/// One item of a fenced batch.
struct FencedWrite {
  WriteKind kind = WriteKind::snapshot;
  std::string prefix;                 ///< the tenant's key space prefix P (store::Tenant::prefix())
  Lease lease;
  std::string state;                  ///< snapshot
  std::int64_t expires_unix_ms = 0;   ///< renew
  std::function<void(Result<void>)> done;  ///< called once, after the batch ended
};

/// Runs `items` in one transaction (retried on conflict), then calls each
/// item's `done` with its own outcome (fenced for a stale lease). When the
/// whole transaction fails (e.g. transaction_too_large) and it held several
/// items, each is run again alone so one oversized item fails only itself.
void run_fenced_batch(store::Database& database, std::vector<FencedWrite>& items);

/// A tenant brought up on this node: its key space, the lease taken and,
/// for a resume, the last snapshot.
struct Opened {
  store::Tenant tenant;
  Lease lease;
  std::optional<std::string> snapshot;
};

/// Opens (creating if needed) the key space of `id`, takes its lease for
/// `node` (lease_held when another live owner holds it) and, when
/// `read_snapshot`, reads the snapshot under the new lease's fence.
Result<Opened> open_tenant(store::Tenants& tenants, const std::string& id, const std::string& node,
                           std::chrono::milliseconds ttl, bool read_snapshot);

/// The wall clock in Unix milliseconds (lease expiry only).
std::int64_t unix_ms_now();

}  // namespace plexus::tenants::local_detail
