// The tenant registry's schema on replica::Map: tenant id -> Record {module,
// config, capabilities, desired state}, its generation being the entry's
// version in the map (bumped by every write, so it only grows and every
// replica orders two records of one tenant the same way). Sans-IO; the
// replica core that carries it over the peer service and persists it comes
// with the node integration.
//
// Merge laws are replica::Map's (a join-semilattice: idempotent, commutative,
// associative): per tenant the greater record wins — higher generation, then
// live over removed, then the greater canonical encoding — so concurrent
// installs of one id on two sides of a partition resolve to the same record
// everywhere. An uninstall is a write (desired = uninstalled) at a higher
// generation, and forget() (after the owner finished uninstalling) is a
// tombstone above it: neither can be undone by an older install or update.
//
// Record encoding (canonical: equal records, equal bytes): compact JSON with
// sorted keys, {"capabilities":{..},"config":{..},"desired":"running"|
// "uninstalled","module":"<name>"}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/replica/replica.hpp"
#include "plexus/tenants/module.hpp"

namespace plexus::tenants {

enum class Desired : std::uint8_t { running, uninstalled };

/// What the registry holds per tenant.
struct Record {
  std::string module;
  Config config;
  Desired desired = Desired::running;
  friend bool operator==(const Record&, const Record&) = default;
};

/// The canonical encoding of a Record (see the file comment).
struct RecordCodec {
  static std::string encode(const Record& record);
  static std::optional<Record> decode(std::string_view bytes);
};
/// decode with the reason: invalid_argument naming the field or offset.
Result<Record> decode_record(std::string_view bytes);

using RegistrySchema = replica::KeyValue<std::string, Record, RecordCodec>;
using RegistryMap = replica::Map<RegistrySchema>;
using RegistryEntry = RegistrySchema::Entry;

/// A tenant as the registry shows it.
struct Registered {
  std::string id;
  Record record;
  std::uint64_t generation = 0;
};

/// The seed's install / update / uninstall on one replica of the registry.
/// Not thread-safe: owned by the registry's replica core.
class Registry {
 public:
  explicit Registry(replica::Limits limits = {}) : map_(limits) {}

  /// already_exists while the id is registered (running or being
  /// uninstalled); invalid_argument for a bad id or module name.
  Result<Registered> install(std::string_view id, std::string_view module, Config config);
  /// tenant_not_found unless registered and desired running.
  Result<Registered> update(std::string_view id, Config config);
  /// Marks desired = uninstalled; tenant_not_found unless desired running.
  Result<Registered> uninstall(std::string_view id);
  /// Drops an uninstalled tenant (a tombstone): its id may be installed again.
  /// tenant_not_found unless desired uninstalled.
  Result<void> forget(std::string_view id);

  /// The registered tenant, or nullopt (absent or forgotten).
  [[nodiscard]] std::optional<Registered> find(std::string_view id) const;
  /// Every registered tenant, in id order.
  [[nodiscard]] std::vector<Registered> list() const;
  [[nodiscard]] RegistryMap& map() { return map_; }
  [[nodiscard]] const RegistryMap& map() const { return map_; }

 private:
  Result<Registered> write(std::string_view id, Record record);
  RegistryMap map_;
};

/// Longest tenant id and module name, in bytes (store's tenant id limit).
inline constexpr std::size_t tenant_id_bytes_max = 128;
/// invalid_argument unless 1..tenant_id_bytes_max bytes.
Result<void> validate_id(std::string_view id, std::string_view field);

}  // namespace plexus::tenants
