// Parsing datastore specs and opening a node's datastores (datastore.hpp).
#include "plexus/store/datastore.hpp"

#include <algorithm>

#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "plexus/store/postgres/postgres_backend.hpp"

namespace plexus::store {
namespace {

namespace fs = std::filesystem;

// [a-z][a-z0-9_]*: the name is also part of a PostgreSQL table name.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > datastore_name_max || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

/// The value of `key=` in a libpq conninfo of key=value words, or empty.
std::string conninfo_value(std::string_view conninfo, std::string_view key) {
  std::size_t at = 0;
  while (at < conninfo.size()) {
    while (at < conninfo.size() && conninfo[at] == ' ') ++at;
    const auto end = std::min(conninfo.find(' ', at), conninfo.size());
    const auto word = conninfo.substr(at, end - at);
    const auto eq = word.find('=');
    if (eq != std::string_view::npos && word.substr(0, eq) == key) return std::string(word.substr(eq + 1));
    at = end;
  }
  return {};
}

Result<std::unique_ptr<Backend>> open_backend(const DatastoreSpec& spec, const DatastoreOptions& options) {
  if (spec.kind == BackendKind::lmdb) {
    LmdbOptions lmdb;
    lmdb.path = spec.location;
    lmdb.map_size_bytes = options.lmdb_map_size_bytes;
    return open_lmdb(lmdb);
  }
  PostgresOptions postgres;
  postgres.conninfo = spec.location;
  postgres.table = std::string(postgres_table_prefix) + spec.name;
  postgres.pool_size_max = options.postgres_pool_size;
  return open_postgres(postgres);
}

}  // namespace

Result<DatastoreSpec> parse_datastore_spec(std::string_view text, const fs::path& base) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return make_error(errc::invalid_option, "'" + std::string(text) + "': expected NAME=lmdb:PATH or NAME=postgres:CONNINFO");
  }
  DatastoreSpec spec;
  spec.name = std::string(text.substr(0, eq));
  if (!valid_name(spec.name)) {
    return make_error(errc::invalid_option, "name '" + spec.name.substr(0, 80) + "': expected a lowercase letter, then up to " +
                                                std::to_string(datastore_name_max - 1) + " of [a-z0-9_]");
  }
  const auto rest = text.substr(eq + 1);
  if (rest.starts_with("lmdb:")) {
    spec.kind = BackendKind::lmdb;
    fs::path path(std::string(rest.substr(5)));
    if (path.empty()) return make_error(errc::invalid_option, spec.name + ": lmdb: needs a directory path");
    spec.location = (path.is_relative() && !base.empty() ? base / path : path).lexically_normal().string();
    return spec;
  }
  if (rest.starts_with("postgres:")) {
    spec.kind = BackendKind::postgres;
    spec.location = std::string(rest.substr(9));
    if (spec.location.empty()) return make_error(errc::invalid_option, spec.name + ": postgres: needs a conninfo");
    if (spec.location.find("://") != std::string::npos) {
      return make_error(errc::invalid_option, spec.name + ": give the conninfo as key=value words (host=... dbname=...), "
                                                          "not a URI");
    }
    if (!conninfo_value(spec.location, "password").empty()) {
      return make_error(errc::invalid_option, spec.name + ": a password in the conninfo would show in ps and logs: "
                                                          "use passfile=PATH, PGPASSFILE or PGPASSWORD");
    }
    return spec;
  }
  return make_error(errc::invalid_option, spec.name + ": unknown backend in '" + std::string(rest.substr(0, 40)) +
                                              "': expected lmdb:PATH or postgres:CONNINFO");
}

std::string describe(const DatastoreSpec& spec) {
  if (spec.kind == BackendKind::lmdb) return "lmdb:" + spec.location;
  std::string out = "postgres:";
  for (const char* key : {"host", "port", "dbname"}) {
    const auto value = conninfo_value(spec.location, key);
    if (!value.empty()) out += std::string(out.back() == ':' ? "" : " ") + key + "=" + value;
  }
  return out;
}

Result<std::shared_ptr<Datastores>> Datastores::open(const std::vector<DatastoreSpec>& specs,
                                                     const DatastoreOptions& options) {
  auto out = std::make_shared<Datastores>();
  for (const auto& spec : specs) {
    auto backend = open_backend(spec, options);
    if (!backend) {
      return Error{backend.error().code, "datastore " + spec.name + " (" + describe(spec) + "): " +
                                             (backend.error().detail.empty() ? backend.error().message()
                                                                             : backend.error().detail)};
    }
    auto database = std::make_shared<Database>(spec.name, std::move(*backend), options.limits);
    auto tenants = std::make_shared<Tenants>(database);
    out->by_name_.emplace(spec.name, std::make_shared<Datastore>(Datastore{spec, database, tenants}));
  }
  return out;
}

Result<std::shared_ptr<Datastore>> Datastores::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  std::string known;
  for (const auto& [n, d] : by_name_) known += (known.empty() ? "" : ", ") + n;
  return make_error(errc::unknown_datastore, "'" + std::string(name).substr(0, 80) + "' (this node has: " +
                                                 (known.empty() ? "none; start it with --data-dir or --datastore" : known) +
                                                 ")");
}

std::vector<std::shared_ptr<Datastore>> Datastores::all() const {
  std::vector<std::shared_ptr<Datastore>> out;
  for (const auto& [name, d] : by_name_) out.push_back(d);
  return out;
}

}  // namespace plexus::store
