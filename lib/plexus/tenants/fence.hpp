// Fenced ownership of a tenant's key space: a lease with a fencing epoch
// kept in the tenant's own key space, and a transaction wrapper that checks
// the epoch in the same serializable transaction as every write, so the
// datastore itself refuses a stale owner's writes (errc::fenced) — a paused
// process that wakes after its lease went to another node cannot write.
//
// Layout, inside the tenant's key space (store/tenant.hpp), under the
// reserved first element "__plexus" that modules cannot touch:
//   ("__plexus", "lease")    -> pack((owner, epoch, expires_unix_ms))
//   ("__plexus", "snapshot") -> the module's last state snapshot (bytes)
// The epoch only grows: every acquire bumps it (also a re-acquire by the same
// node, so its previous life is fenced too); release clears the owner and
// keeps the epoch. Expiry uses the callers' wall clocks and only decides
// when another node may take the lease; safety rests on the epoch alone.
//
// Calls block (store calls): run them on a worker, not on the io thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "plexus/store/tenant.hpp"
#include "plexus/tenants/errors.hpp"

namespace plexus::tenants {

/// The reserved first tuple element of the manager's keys in a tenant's space.
inline constexpr std::string_view reserved_element = "__plexus";

/// A lease as stored.
struct Lease {
  std::string owner;  ///< empty once released
  std::int64_t epoch = 0;
  std::int64_t expires_unix_ms = 0;
  friend bool operator==(const Lease&, const Lease&) = default;
};

/// A lease as its stored bytes: the packed tuple (owner, epoch, expires_unix_ms).
Result<std::string> encode_lease(const Lease& lease);
/// The lease in stored bytes (nullopt stays nullopt: never taken);
/// invalid_argument when the bytes are not that tuple.
Result<std::optional<Lease>> decode_lease(const std::optional<std::string>& bytes);

/// The fence rule: ok when `stored` is still `held` (same owner and epoch),
/// fenced naming both otherwise (also when no lease is stored).
Result<void> still_held(const Lease& held, const std::optional<Lease>& stored);

/// The lease of `tenant`, nullopt when none was ever taken.
Result<std::optional<Lease>> read_lease(const store::Tenant& tenant);
/// Takes the lease for `node` when it is free, released, expired at
/// `now_unix_ms`, or already `node`'s; bumps the epoch. lease_held otherwise
/// (the detail names the holder, its epoch and expiry).
Result<Lease> acquire(const store::Tenant& tenant, std::string_view node, std::int64_t now_unix_ms,
                      std::chrono::milliseconds ttl);
/// Extends `held` to now + ttl; fenced unless it is still the stored lease
/// (same owner and epoch).
Result<Lease> renew(const store::Tenant& tenant, const Lease& held, std::int64_t now_unix_ms,
                    std::chrono::milliseconds ttl);
/// Gives `held` up (owner cleared, epoch kept); fenced unless it is still the stored lease.
Result<void> release(const store::Tenant& tenant, const Lease& held);

/// A tenant transaction that may only touch the module's keys; created by
/// fenced_run() after the epoch check, inside the same transaction.
class FencedTransaction {
 public:
  FencedTransaction(store::TenantTransaction& transaction, const store::Tenant& tenant)
      : transaction_(transaction), tenant_(tenant) {}

  /// As store::TenantTransaction's; reserved_key for a key under "__plexus".
  Result<std::optional<std::string>> get(const store::Tuple& key);
  Result<void> set(const store::Tuple& key, std::string_view value);
  Result<void> clear(const store::Tuple& key);
  /// Rows extending `prefix`, the manager's own keys left out.
  Result<store::TupleRangeResult> get_range(const store::Tuple& prefix, store::RangeOptions options = {});
  /// Clears every key extending `prefix` but the manager's own.
  Result<void> clear_range(const store::Tuple& prefix);

  /// The manager's state snapshot (not the module's keys).
  Result<void> write_snapshot(std::string_view state);
  Result<std::optional<std::string>> read_snapshot();

 private:
  store::TenantTransaction& transaction_;
  const store::Tenant& tenant_;
};

/// Reads the stored lease in `transaction`; fenced unless it is `held`'s
/// owner and epoch.
Result<void> check_fence(store::TenantTransaction& transaction, const Lease& held);

/// Runs `fn(FencedTransaction&) -> Result<T>` in one read-write transaction
/// of `tenant` that first checks the fence (retried on conflict, as
/// store::Tenant::run): in the datastore's serial order, no write of an epoch
/// commits after the acquire of a later one.
template <class F>
auto fenced_run(const store::Tenant& tenant, const Lease& held, F&& fn)
    -> std::invoke_result_t<F&, FencedTransaction&> {
  using R = std::invoke_result_t<F&, FencedTransaction&>;
  return tenant.run([&](store::TenantTransaction& transaction) -> R {
    if (auto ok = check_fence(transaction, held); !ok) return ok.error();
    FencedTransaction fenced(transaction, tenant);
    return fn(fenced);
  });
}

}  // namespace plexus::tenants
