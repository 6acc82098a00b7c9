// create_datastore / drop_datastore (context.hpp): the PostgreSQL roles,
// database and privileges of a datastore over one privileged libpq session,
// or an LMDB environment's directory. Statements are run one at a time
// (CREATE DATABASE cannot run in a transaction block); an error names the
// step, never a password (roles get SCRAM verifiers made here).
#include <libpq-fe.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "plexus/context/context.hpp"
#include "plexus/context/conninfo.hpp"
#include "plexus/store/lmdb/lmdb_backend.hpp"

namespace plexus::context {
namespace {

using detail::identifier;

struct ConnDeleter {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

/// A privileged session on `dbname` ("" keeps the conninfo's database).
Result<Conn> admin_connect(const DatastoreOptions& options, const std::string& dbname) {
  auto password = read_credential(options.admin_credential, "admin_credential");
  if (!password) return password.error();
  std::vector<std::pair<std::string, std::string>> overrides{{"application_name", "plexus_provision"},
                                                             {"connect_timeout", "10"}};
  if (!dbname.empty()) overrides.emplace_back("dbname", dbname);
  if (!password->empty()) overrides.emplace_back("password", *password);
  auto conninfo = detail::override_conninfo(options.location, overrides);
  if (!conninfo) return conninfo.error();
  Conn conn(PQconnectdb(conninfo->c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn.get());
    if (!password->empty()) {
      for (auto at = why.find(*password); at != std::string::npos; at = why.find(*password)) why.replace(at, password->size(), "***");
    }
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return make_error(errc::provision_failed, "privileged connection to " + options.name + ": " + why);
  }
  return conn;
}

/// Runs one statement; `step` names it in the error (the SQL may hold a verifier).
Result<void> exec(PGconn* conn, const std::string& sql, const std::string& step) {
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  std::string why = PQresultErrorMessage(result);
  PQclear(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return make_error(errc::provision_failed, step + ": " + why);
}

/// CREATE ROLE for one context: NOLOGIN for owner and nonlogin, else LOGIN
/// with a SCRAM verifier of its password.
Result<void> create_role(PGconn* conn, const ContextOptions& c, std::size_t index) {
  const std::string step = "CREATE ROLE " + identifier(c.role);
  if (c.kind != Kind::login) return exec(conn, step + " NOLOGIN", step);
  auto password = read_credential(c.credential, "contexts[" + std::to_string(index) + "].credential");
  if (!password) return password.error();
  char* verifier = PQencryptPasswordConn(conn, password->c_str(), c.role.c_str(), nullptr);
  if (verifier == nullptr) return make_error(errc::provision_failed, step + ": cannot encrypt the password");
  char* literal = PQescapeLiteral(conn, verifier, std::strlen(verifier));
  PQfreemem(verifier);
  if (literal == nullptr) return make_error(errc::provision_failed, step + ": cannot quote the verifier");
  const std::string sql = step + " LOGIN PASSWORD " + literal;
  PQfreemem(literal);
  return exec(conn, sql, step);
}

/// In the new database: the schema and table owned by the owner, and each context's privileges.
Result<void> create_objects(const DatastoreOptions& options) {
  auto conn = admin_connect(options, options.name);
  if (!conn) return conn.error();
  const std::string owner = identifier(options.owner().role);
  const std::string schema = identifier(detail::postgres_schema);
  const std::string table = schema + "." + identifier(detail::postgres_table);
  std::vector<std::pair<std::string, std::string>> steps{
      {"BEGIN", "BEGIN"},
      {"CREATE SCHEMA " + schema + " AUTHORIZATION " + owner, "CREATE SCHEMA"},
      {"SET LOCAL ROLE " + owner, "SET ROLE owner"},
      {"CREATE TABLE " + table + " (key bytea PRIMARY KEY, value bytea NOT NULL)", "CREATE TABLE"},
      {"RESET ROLE", "RESET ROLE"}};
  for (const auto& c : options.contexts) {
    if (c.kind == Kind::owner) continue;
    const std::string role = identifier(c.role);
    const std::string rights = c.access == Access::read_only ? "SELECT" : "SELECT, INSERT, UPDATE, DELETE";
    steps.emplace_back("GRANT USAGE ON SCHEMA " + schema + " TO " + role, "GRANT USAGE to " + c.role);
    steps.emplace_back("GRANT " + rights + " ON " + table + " TO " + role, "GRANT " + rights + " to " + c.role);
  }
  steps.emplace_back("COMMIT", "COMMIT");
  for (const auto& [sql, step] : steps) {
    if (auto ok = exec(conn->get(), sql, step); !ok) return ok;
  }
  return {};
}

Result<void> create_postgres(const DatastoreOptions& options) {
  auto conn = admin_connect(options, "");
  if (!conn) return conn.error();
  for (std::size_t i = 0; i < options.contexts.size(); ++i) {
    if (auto ok = create_role(conn->get(), options.contexts[i], i); !ok) return ok;
  }
  const std::string db = identifier(options.name);
  const std::pair<std::string, std::string> database_steps[] = {
      {"CREATE DATABASE " + db + " OWNER " + identifier(options.owner().role), "CREATE DATABASE " + db},
      {"REVOKE ALL ON DATABASE " + db + " FROM PUBLIC", "REVOKE ALL ON DATABASE FROM PUBLIC"}};
  for (const auto& [sql, step] : database_steps) {
    if (auto ok = exec(conn->get(), sql, step); !ok) return ok;
  }
  for (const auto& c : options.contexts) {
    if (c.kind == Kind::owner) continue;
    const std::string sql = "GRANT CONNECT ON DATABASE " + db + " TO " + identifier(c.role);
    if (auto ok = exec(conn->get(), sql, "GRANT CONNECT to " + c.role); !ok) return ok;
  }
  return create_objects(options);
}

Result<void> drop_postgres(const DatastoreOptions& options) {
  auto conn = admin_connect(options, "");
  if (!conn) return conn.error();
  const std::string db = identifier(options.name);
  if (auto ok = exec(conn->get(), "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", "DROP DATABASE " + db); !ok) {
    return ok;
  }
  // Context roles first, the owner last (nothing is left for it to own).
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& c : options.contexts) {
      if ((c.kind == Kind::owner) != (pass == 1)) continue;
      if (auto ok = exec(conn->get(), "DROP ROLE IF EXISTS " + identifier(c.role), "DROP ROLE " + c.role); !ok) return ok;
    }
  }
  return {};
}

Result<void> create_lmdb(const DatastoreOptions& options) {
  store::LmdbOptions lmdb;
  lmdb.path = options.location;
  auto opened = store::open_lmdb(lmdb);
  if (!opened) return make_error(errc::provision_failed, "create lmdb environment: " + opened.error().message());
  return {};
}

Result<void> drop_lmdb(const DatastoreOptions& options) {
  const std::filesystem::path dir(options.location);
  std::error_code error;
  for (const char* file : {"data.mdb", "lock.mdb"}) {
    std::filesystem::remove(dir / file, error);
    if (error) return make_error(errc::provision_failed, "remove " + (dir / file).string() + ": " + error.message());
  }
  // Only an empty directory is removed: it may hold files that are not the datastore's.
  if (std::filesystem::is_directory(dir, error) && std::filesystem::is_empty(dir, error)) {
    std::filesystem::remove(dir, error);
  }
  return {};
}

}  // namespace

Result<void> create_datastore(const DatastoreOptions& options) {
  if (auto ok = validate(options); !ok) return ok;
  return options.backend == BackendKind::postgres ? create_postgres(options) : create_lmdb(options);
}

Result<void> drop_datastore(const DatastoreOptions& options) {
  if (auto ok = validate(options); !ok) return ok;
  return options.backend == BackendKind::postgres ? drop_postgres(options) : drop_lmdb(options);
}

}  // namespace plexus::context
