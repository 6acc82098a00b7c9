// Datastore and context options (MscmpSystDb's DatastoreOptions and
// datastore_context), as the node config and the admin API give them in
// JSON, and their parser. Every refusal names the field ("contexts[1].kind:
// must be owner, login or nonlogin"). A credential is only ever a *source*
// (a file path or an environment variable's name); the secret itself is read
// when a connection is made and is never held here, logged or shown.
//
// JSON shape (docs/store.md, "Datastore contexts"):
//   {"name": "app", "backend": "postgres:host=127.0.0.1 dbname=postgres",
//    "admin_credential": {"env": "PGPASSWORD"},              // optional
//    "supervision": {"probe_interval_ms": 100, ...},         // optional
//    "contexts": [
//      {"name": "app_owner", "kind": "owner", "role": "app_owner"},
//      {"name": "app_api", "kind": "login", "role": "app_api", "description": "API traffic",
//       "credential": {"file": "/etc/plexus/app_api.pw"}, "pool_size": 4, "start": true,
//       "access": "read_write", "registry": "global"}]}
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plexus/core/result.hpp"

namespace plexus::context {

/// Longest datastore, context and role names; each is [a-z_][a-z0-9_]*.
inline constexpr std::size_t name_max = 48;
/// Most contexts one datastore declares.
inline constexpr std::size_t contexts_max = 64;
/// Longest description.
inline constexpr std::size_t description_max = 1'024;

enum class Kind { owner, login, nonlogin };
enum class Access { read_write, read_only };
enum class BackendKind { lmdb, postgres };
/// Where a started context's name is registered (registry.hpp).
enum class Scope { none, local, global };

/// Where a password comes from; `where` is a path or a variable name, not a secret.
struct CredentialSource {
  enum class From { none, file, env };
  From from = From::none;
  std::string where;
};

/// One context: a database role and, for a login context, a pool logged in as it.
struct ContextOptions {
  std::string name;
  std::string description;
  Kind kind = Kind::login;
  /// The PostgreSQL role (ignored on LMDB, which has no roles).
  std::string role;
  /// Required for a PostgreSQL login context; refused on owner contexts.
  CredentialSource credential;
  /// Connections of the pool (1..256); login contexts only.
  std::size_t pool_size = 4;
  /// start_datastore() starts it (login contexts only).
  bool start = true;
  Access access = Access::read_write;
  /// The registry scope its name is registered in while it runs (login contexts).
  Scope registry = Scope::local;
};

/// How a started context is watched (supervisor.hpp). Bounded: see the parser.
struct SupervisionOptions {
  /// A healthy context is probed this often (a one-read snapshot through its pool).
  std::chrono::milliseconds probe_interval{100};
  /// After a failed probe, the next waits a jittered, doubling backoff.
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2'000};
  /// This many failed probes within park_window park the context (it stops
  /// retrying and says why) until start_context() is called again.
  std::size_t park_failures_max = 20;
  std::chrono::milliseconds park_window{60'000};
  /// A call made while the context is not ready waits this long, then fails `unavailable`.
  std::chrono::milliseconds call_wait_max{2'000};
};

struct DatastoreOptions {
  std::string name;
  BackendKind backend = BackendKind::lmdb;
  /// LMDB: the environment's directory. PostgreSQL: the libpq conninfo of a
  /// privileged connection (any database of the server; no password in it).
  std::string location;
  /// The privileged connection's password source (none: libpq's PGPASSWORD / .pgpass).
  CredentialSource admin_credential;
  std::vector<ContextOptions> contexts;
  SupervisionOptions supervision;

  /// The owner context (exactly one after parsing).
  [[nodiscard]] const ContextOptions& owner() const;
  /// The context of that name, or nullptr.
  [[nodiscard]] const ContextOptions* find(std::string_view context) const;
};

/// Parses and checks the JSON above. Error: plexus::errc::invalid_field (or
/// invalid_json for text) whose detail names the field and what is wrong.
Result<DatastoreOptions> parse_datastore_options(const nlohmann::json& json);
Result<DatastoreOptions> parse_datastore_options(std::string_view text);
/// Checks options built in code the same way.
Result<void> validate(const DatastoreOptions& options);

/// Reads the secret of `source` (first line of the file, or the variable).
/// The error names the source, never the content. `field` prefixes the detail.
Result<std::string> read_credential(const CredentialSource& source, std::string_view field);

std::string_view to_string(Kind kind);
std::string_view to_string(Access access);
std::string_view to_string(Scope scope);

}  // namespace plexus::context
