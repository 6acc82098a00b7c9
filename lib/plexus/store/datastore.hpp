// The datastores of one node, by name: each a Database on LMDB or PostgreSQL
// with its tenant directory. A datastore is given as NAME=lmdb:PATH or
// NAME=postgres:CONNINFO (plexusd --datastore, the config file's
// "datastore" list). A PostgreSQL password never appears in a spec: libpq
// reads it from `passfile=` or PGPASSFILE, or from PGPASSWORD; a spec that
// holds `password=` is refused, so it cannot leak into `ps`, logs or answers.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/store/kv.hpp"
#include "plexus/store/tenant.hpp"

namespace plexus::store {

enum class BackendKind { lmdb, postgres };

/// One datastore as configured.
struct DatastoreSpec {
  std::string name;
  BackendKind kind = BackendKind::lmdb;
  /// LMDB: the environment's directory. PostgreSQL: the libpq conninfo.
  std::string location;
};

/// Longest datastore name; names are [a-z][a-z0-9_]*.
inline constexpr std::size_t datastore_name_max = 48;
/// A PostgreSQL datastore NAME is the table plexus_NAME (in the conninfo's database).
inline constexpr std::string_view postgres_table_prefix = "plexus_";
/// The datastore a node opens in its data directory when none named `main` is given.
inline constexpr std::string_view default_datastore = "main";

/// Parses NAME=lmdb:PATH or NAME=postgres:CONNINFO. invalid_option naming
/// the part that is wrong. A relative LMDB path is taken from `base`.
Result<DatastoreSpec> parse_datastore_spec(std::string_view text, const std::filesystem::path& base = {});

/// What is safe to show of a spec: the LMDB path, or the conninfo's host,
/// port and dbname only.
std::string describe(const DatastoreSpec& spec);

/// Settings every datastore of a node shares.
struct DatastoreOptions {
  Limits limits;
  /// LMDB: the initial (sparse) map size.
  std::size_t lmdb_map_size_bytes = std::size_t{16} << 30;
  /// PostgreSQL: connections per datastore.
  std::size_t postgres_pool_size = 8;
};

/// One open datastore.
struct Datastore {
  DatastoreSpec spec;
  std::shared_ptr<Database> database;
  std::shared_ptr<Tenants> tenants;
};

/// The node's datastores. Opened once at start; thread-safe to read.
class Datastores {
 public:
  /// Opens every spec (all or nothing): the first failure is returned, naming the datastore.
  static Result<std::shared_ptr<Datastores>> open(const std::vector<DatastoreSpec>& specs,
                                                  const DatastoreOptions& options);

  /// The datastore, or unknown_datastore naming the ones there are.
  Result<std::shared_ptr<Datastore>> find(std::string_view name) const;
  [[nodiscard]] std::vector<std::shared_ptr<Datastore>> all() const;

 private:
  std::map<std::string, std::shared_ptr<Datastore>, std::less<>> by_name_;
};

}  // namespace plexus::store
