// Persistence of one node's replica of the tenant registry in a datastore,
// so a full cluster restart loses nothing acknowledged: the replica core
// saves what changed before it acknowledges a write or shows a digest, and
// loads it at start (then merges the peers' states as usual).
//
// Layout, in the datastore's system subspace (store's `ff` prefix, which no
// tuple key starts with), one copy per node so nodes sharing a datastore
// (PostgreSQL, or one machine's LMDB) never overwrite each other:
//   ff + pack(("plexus_tenants", "registry", node, id))
//        -> pack((version, removed, Bytes record))   record: RecordCodec bytes
//   ff + pack(("plexus_tenants", "registry_floor", node)) -> pack((version_floor,))
// Calls block (store calls): run them on a worker.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "plexus/store/kv.hpp"
#include "plexus/tenants/registry.hpp"

namespace plexus::tenants {

/// Most entries one save() transaction writes (a larger save is split).
inline constexpr std::size_t registry_save_batch_max = 500;

class RegistryStore {
 public:
  RegistryStore(std::shared_ptr<store::Database> database, std::string node);

  /// Writes `entries` as they are (tombstones too), in transactions of at
  /// most registry_save_batch_max entries.
  Result<void> save(std::span<const RegistryEntry> entries);
  /// Deletes the entries of `ids` (tombstones the map collected).
  Result<void> drop(std::span<const std::string> ids);
  Result<void> save_floor(std::uint64_t version_floor);
  /// Merges every stored entry into `into` and raises its version floor;
  /// returns how many entries were read. invalid_argument naming the tenant
  /// when a stored value is malformed (nothing is merged then).
  Result<std::size_t> load(RegistryMap& into);

 private:
  Result<std::string> entry_key(std::string_view id) const;
  std::shared_ptr<store::Database> database_;
  std::string node_;
};

}  // namespace plexus::tenants
