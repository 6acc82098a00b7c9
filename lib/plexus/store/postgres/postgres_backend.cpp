// open_postgres(): option checks, the password, the schema, the pool of
// prepared connections, and the Backend that hands out PgTransactions.
#include "plexus/store/postgres/postgres_backend.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <utility>

#include <sodium.h>

#include "plexus/store/errors.hpp"
#include "plexus/store/postgres/connection.hpp"
#include "plexus/store/postgres/pool.hpp"
#include "plexus/store/postgres/read_set.hpp"
#include "plexus/store/postgres/testing.hpp"
#include "plexus/store/postgres/transaction.hpp"

namespace plexus::store {
namespace {

using namespace postgres;
using std::chrono::milliseconds;

constexpr std::size_t key_bytes_max = postgres_key_bytes_max;

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  for (char c : name) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

Result<void> check_duration(const char* field, milliseconds value, milliseconds max) {
  if (value.count() < 1 || value > max) {
    return make_error(errc::invalid_option, std::string("PostgresOptions::") + field + ": must be 1.." +
                                                std::to_string(max.count()) + " ms");
  }
  return {};
}

Result<void> check_options(const PostgresOptions& o) {
  auto refuse = [](const char* what) {
    return make_error(errc::invalid_option, std::string("PostgresOptions::") + what);
  };
  if (!valid_name(o.schema)) return refuse("schema: must match [a-z_][a-z0-9_]{0,62}");
  if (!valid_name(o.table)) return refuse("table: must match [a-z_][a-z0-9_]{0,62}");
  if (o.pool_size_max < 1 || o.pool_size_max > 256) return refuse("pool_size_max: must be 1..256");
  if (o.pool_waiters_max > 4'096) return refuse("pool_waiters_max: must be 0..4096");
  if (!o.password_file.empty() && !o.password_env.empty()) {
    return refuse("password_file, password_env: set one, not both");
  }
  const milliseconds hour{3'600'000};
  const std::pair<const char*, milliseconds> durations[] = {
      {"pool_wait_timeout", o.pool_wait_timeout},
      {"connect_timeout", o.connect_timeout},
      {"reconnect_backoff_initial", o.reconnect_backoff_initial},
      {"reconnect_backoff_max", o.reconnect_backoff_max},
      {"statement_timeout", o.statement_timeout},
      {"lock_timeout", o.lock_timeout},
      {"idle_in_transaction_timeout", o.idle_in_transaction_timeout},
      {"reply_timeout", o.reply_timeout}};
  for (const auto& [field, value] : durations) {
    if (auto ok = check_duration(field, value, hour); !ok.ok()) return ok;
  }
  if (o.reconnect_backoff_initial > o.reconnect_backoff_max) {
    return refuse("reconnect_backoff_initial: over reconnect_backoff_max");
  }
  return {};
}

/// The conninfo must parse and must not carry a password (it would end up in
/// configuration files and logs). libpq's parse message can quote the
/// string, so it is left out when the string mentions a password.
Result<void> check_conninfo(const std::string& conninfo) {
  if (conninfo.empty()) return {};
  char* message = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &message);
  if (parsed == nullptr) {
    std::string detail = "PostgresOptions::conninfo: not a libpq connection string";
    if (message != nullptr && conninfo.find("password") == std::string::npos) detail += std::string(": ") + message;
    PQfreemem(message);
    return make_error(errc::invalid_option, detail);
  }
  bool has_password = false;
  for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr && *o->val != '\0') has_password = true;
  }
  PQconninfoFree(parsed);
  if (has_password) {
    return make_error(errc::invalid_option,
                      "PostgresOptions::conninfo: holds a password; use password_file or password_env");
  }
  return {};
}

Result<std::string> load_password(const PostgresOptions& o) {
  if (!o.password_env.empty()) {
    const char* value = std::getenv(o.password_env.c_str());
    if (value == nullptr) {
      return make_error(errc::invalid_option, "PostgresOptions::password_env: " + o.password_env + " is not set");
    }
    return std::string(value);
  }
  if (o.password_file.empty()) return std::string();
  std::ifstream file(o.password_file);
  std::string line;
  if (!file || !std::getline(file, line)) {
    return make_error(errc::invalid_option, "PostgresOptions::password_file: cannot read " + o.password_file + ": " +
                                                std::strerror(errno));
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

/// One round trip of text statements on a setup connection.
Result<void> run_sql(Connection& connection, std::vector<std::string> const& sql, milliseconds timeout) {
  std::vector<Statement> statements;
  for (const std::string& s : sql) {
    Statement statement;
    statement.sql = s.c_str();
    statements.push_back(statement);
  }
  Reply reply = connection.round_trip(statements, Clock::now() + timeout);
  if (reply.error) return *reply.error;
  return {};
}

/// Creates the schema (unless public) and the table when the table is missing.
/// Checked first, so a role without CREATE rights can use a table an
/// administrator made. A concurrent creator on another node is tolerated.
Result<void> ensure_table(const ConnectSpec& spec, const PostgresOptions& o, const std::string& qualified) {
  auto setup = Connection::open(spec);
  if (!setup.ok()) return setup.error();
  Connection& connection = **setup;
  std::vector<std::string> create;
  if (o.schema != "public") create.push_back("CREATE SCHEMA IF NOT EXISTS \"" + o.schema + "\"");
  create.push_back("CREATE TABLE IF NOT EXISTS " + qualified +
                   " (key bytea PRIMARY KEY, value bytea NOT NULL)");
  for (int attempt = 0; attempt < 2; ++attempt) {
    Statement exists;
    const std::string probe = "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
                              "c.relnamespace WHERE n.nspname = '" + o.schema + "' AND c.relname = '" + o.table + "'";
    exists.sql = probe.c_str();
    Reply reply = connection.round_trip(std::span<const Statement>(&exists, 1), Clock::now() + o.reply_timeout);
    if (reply.error) return *reply.error;
    if (!reply.results.empty() && PQntuples(reply.results[0].get()) > 0) return {};
    auto created = run_sql(connection, create, o.reply_timeout);
    if (created.ok()) return {};
    // Two nodes creating the same table at once: one fails with a unique
    // violation on the catalog; the table then exists.
    if (attempt == 1 || created.error().detail.find("23505") == std::string::npos) return created;
  }
  return {};
}

/// The statements of every pooled connection, in the order of connect_prepared()'s names.
/// Reads return each row's xmin for read validation (read_set.hpp).
std::vector<std::string> prepare_sql(const std::string& t) {
  return {"SELECT value, xmin::text, key FROM " + t + " WHERE key = $1",
          "SELECT 1 FROM " + t + " WHERE key = $1 FOR SHARE",
          "SELECT key, value, xmin::text FROM " + t + " WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3",
          "SELECT key, value, xmin::text FROM " + t + " WHERE key >= $1 AND key < $2 ORDER BY key DESC LIMIT $3",
          "INSERT INTO " + t + " (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
          "DELETE FROM " + t + " WHERE key = $1",
          "DELETE FROM " + t + " WHERE key >= $1 AND key < $2",
          "SELECT key, xmin::text FROM " + t + " WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3"};
}

/// A new pooled connection with every statement prepared (one round trip).
Result<std::unique_ptr<Connection>> connect_prepared(const Shared& shared, const std::vector<std::string>& sql) {
  auto connection = Connection::open(shared.spec);
  if (!connection.ok()) return connection;
  constexpr Oid bytea = 17, int8 = 20;
  const char* names[] = {statement_name::get, statement_name::lock, statement_name::range, statement_name::range_reverse,
                         statement_name::upsert, statement_name::remove, statement_name::remove_range,
                         validate_statement};
  const int counts[] = {1, 1, 3, 3, 2, 1, 2, 3};
  std::vector<Statement> statements;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    Statement s;
    s.kind = Statement::Kind::prepare;
    s.name = names[i];
    s.sql = sql[i].c_str();
    s.param_count = counts[i];
    s.param_types = {bytea, bytea, int8};
    statements.push_back(s);
  }
  Reply reply = (*connection)->round_trip(statements, Clock::now() + shared.reply_timeout);
  if (reply.error) return *reply.error;
  return connection;
}

class PostgresBackend final : public Backend {
 public:
  explicit PostgresBackend(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  using Backend::begin;
  Result<std::unique_ptr<BackendTransaction>> begin(Mode mode, Start start) override {
    auto connection = shared_->pool->acquire();
    if (!connection.ok()) return connection.error();
    auto transaction = std::make_unique<PgTransaction>(shared_, std::move(*connection), mode);
    // Deferred: BEGIN goes in the round trip of the first call (exchange()).
    if (start == Start::at_begin) {
      if (auto started = transaction->start(); !started.ok()) return started.error();
    }
    return std::unique_ptr<BackendTransaction>(std::move(transaction));
  }
  [[nodiscard]] std::string_view kind() const noexcept override { return "postgres"; }
  [[nodiscard]] Limits native_limits() const noexcept override { return shared_->limits; }

  [[nodiscard]] const Shared& shared() const noexcept { return *shared_; }

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace

Result<std::unique_ptr<Backend>> open_postgres(const PostgresOptions& options) {
  if (sodium_init() < 0) return make_error(errc::backend_error, "libsodium failed to initialise");
  if (auto ok = check_options(options); !ok.ok()) return ok.error();
  if (auto ok = check_conninfo(options.conninfo); !ok.ok()) return ok.error();
  auto password = load_password(options);
  if (!password.ok()) return password.error();

  auto shared = std::make_shared<Shared>();
  shared->spec = ConnectSpec{options.conninfo, std::move(*password), options.application_name,
                             options.connect_timeout, options.statement_timeout, options.lock_timeout,
                             options.idle_in_transaction_timeout};
  shared->limits.key_bytes_max = key_bytes_max;
  shared->reply_timeout = options.reply_timeout;
  const std::string qualified = "\"" + options.schema + "\".\"" + options.table + "\"";
  if (auto ok = ensure_table(shared->spec, options, qualified); !ok.ok()) return ok.error();

  // The pool lives inside `shared`, so its callback may hold a plain pointer.
  Shared* raw = shared.get();
  shared->pool = std::make_unique<Pool>(
      PoolOptions{options.pool_size_max, options.pool_waiters_max, options.pool_wait_timeout,
                  options.reconnect_backoff_initial, options.reconnect_backoff_max},
      [raw, sql = prepare_sql(qualified)] { return connect_prepared(*raw, sql); });
  shared->validation_pool = std::make_unique<Pool>(
      PoolOptions{options.pool_size_max, options.pool_waiters_max, options.pool_wait_timeout,
                  options.reconnect_backoff_initial, options.reconnect_backoff_max},
      [raw, sql = prepare_sql(qualified)] { return connect_prepared(*raw, sql); });
  // One prepared connection now, so a table of the wrong shape fails here.
  auto first = shared->pool->acquire();
  if (!first.ok()) return first.error();
  shared->pool->release(std::move(*first));
  return std::unique_ptr<Backend>(new PostgresBackend(std::move(shared)));
}

std::optional<PostgresHealth> postgres_health(const Backend& backend) {
  const auto* postgres = dynamic_cast<const PostgresBackend*>(&backend);
  if (postgres == nullptr) return std::nullopt;
  const PoolCounters c = postgres->shared().pool->counters();
  return PostgresHealth{c.open, c.idle, c.connects, c.connect_failures, c.dropped, c.last_failure};
}

namespace postgres {

std::uint64_t round_trips(const Backend& backend) {
  const auto* postgres = dynamic_cast<const PostgresBackend*>(&backend);
  return postgres ? postgres->shared().round_trips.load() : 0;
}

}  // namespace postgres
}  // namespace plexus::store
