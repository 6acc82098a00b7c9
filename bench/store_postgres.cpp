// bench_store section "postgres": point reads and single-key write
// transactions through a tenant of a PostgreSQL datastore next to raw libpq
// on one connection doing the same work, in the same run, one thread each:
// - reads: pg_reads_per_transaction reads per transaction; Plexus
//   Tenant::begin(Mode::snapshot) + get(tuple built per read) + commit, raw
//   BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY, the backend's own SELECT
//   (prepared, binary) per key, COMMIT;
// - writes: one upsert per transaction; Plexus Tenant::run (which also reads
//   the tenant's directory entry, as every read-write tenant transaction
//   does), raw BEGIN ISOLATION LEVEL SERIALIZABLE, the backend's upsert, COMMIT.
//   Database::run of a blind set (no tenant) is shown beside them.
// Rates are per wall second (the time is round trips to the server).
// The server comes from libpq's PG* variables; without any the section is skipped.
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "plexus/store/postgres/postgres_backend.hpp"
#include "store_fixture.hpp"
#include "store_measure.hpp"
#include "store_sections.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;

constexpr const char* pg_variables[] = {"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"};
constexpr std::size_t fill_rows_per_transaction = 2'000;

bool pg_configured() {
  for (const char* name : pg_variables) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

Error pg_failure(PGconn* conn, const std::string& what) {
  return store::make_error(store::errc::backend_error, what + ": " + PQerrorMessage(conn));
}

/// Runs `sql` and returns its first value (or "" when it returns no rows).
Result<std::string> exec(PGconn* conn, const std::string& sql) {
  PGresult* result = PQexec(conn, sql.c_str());
  const auto status = PQresultStatus(result);
  std::string first = status == PGRES_TUPLES_OK && PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
  PQclear(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return pg_failure(conn, sql);
  return first;
}

Result<void> prepare(PGconn* conn, const char* name, const std::string& sql, int parameters) {
  const Oid types[2] = {17, 17};  // bytea
  PGresult* result = PQprepare(conn, name, sql.c_str(), parameters, types);
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  if (!ok) return pg_failure(conn, std::string("prepare ") + name);
  return {};
}

/// Executes a prepared statement with binary bytea parameters and results.
Result<std::size_t> exec_prepared(PGconn* conn, const char* name, std::string_view a, std::string_view b = {}) {
  const char* values[2] = {a.data(), b.data()};
  const int lengths[2] = {static_cast<int>(a.size()), static_cast<int>(b.size())};
  const int formats[2] = {1, 1};
  const int count = b.data() == nullptr ? 1 : 2;
  PGresult* result = PQexecPrepared(conn, name, count, values, lengths, formats, 1);
  const auto status = PQresultStatus(result);
  std::size_t bytes = 0;
  if (status == PGRES_TUPLES_OK && PQntuples(result) == 1) bytes = std::string(PQgetvalue(result, 0, 0), PQgetlength(result, 0, 0)).size();
  PQclear(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return pg_failure(conn, name);
  return bytes;
}

struct PgSetup {
  PGconn* raw = nullptr;
  std::shared_ptr<store::Database> database;
  std::unique_ptr<store::Tenant> tenant;
  std::vector<std::size_t> index;  // random rows
  std::vector<std::string> full;   // their full keys
};

Result<void> fill(const store::Tenant& tenant, std::size_t keys) {
  for (std::size_t begin = 0; begin < keys; begin += fill_rows_per_transaction) {
    auto done = tenant.run([&](store::TenantTransaction& transaction) -> Result<void> {
      for (std::size_t i = begin; i < std::min(keys, begin + fill_rows_per_transaction); ++i) {
        if (auto set = transaction.set(user_key(i), user_value(i)); !set.ok()) return set;
      }
      return {};
    });
    if (!done.ok()) return done.error();
  }
  return {};
}

Result<void> set_up(PgSetup& setup, const StoreFlags& flags, const std::string& table) {
  store::PostgresOptions options;
  options.table = table;
  options.application_name = "bench_store";
  auto backend = store::open_postgres(options);
  if (!backend.ok()) return backend.error();
  setup.database = std::make_shared<store::Database>("bench", std::move(*backend));
  store::Tenants tenants(setup.database);
  auto tenant = tenants.open_or_create("bench");
  if (!tenant.ok()) return tenant.error();
  setup.tenant = std::make_unique<store::Tenant>(std::move(*tenant));
  if (auto filled = fill(*setup.tenant, flags.pg_keys); !filled.ok()) return filled.error();
  const std::string t = "\"public\".\"" + table + "\"";
  if (auto ok = prepare(setup.raw, "bench_get", "SELECT value FROM " + t + " WHERE key = $1", 1); !ok.ok()) return ok;
  if (auto ok = prepare(setup.raw, "bench_put", "INSERT INTO " + t + " (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", 2); !ok.ok()) return ok;
  std::mt19937_64 random(7);
  std::uniform_int_distribution<std::size_t> pick(0, flags.pg_keys - 1);
  const std::size_t count = std::max(flags.pg_reads_per_transaction * flags.pg_read_transactions, flags.pg_writes);
  for (std::size_t k = 0; k < count; ++k) {
    setup.index.push_back(pick(random));
    auto full = setup.tenant->pack(user_key(setup.index.back()));
    if (!full.ok()) return full.error();
    setup.full.push_back(std::move(*full));
  }
  return {};
}

Result<Sample> raw_reads(const PgSetup& setup, std::size_t transactions, std::size_t per_transaction) {
  std::size_t total = 0;
  const Stopwatch watch;
  for (std::size_t t = 0, k = 0; t < transactions; ++t) {
    if (auto begun = exec(setup.raw, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !begun.ok()) return begun.error();
    for (std::size_t r = 0; r < per_transaction; ++r, ++k) {
      auto bytes = exec_prepared(setup.raw, "bench_get", setup.full[k]);
      if (!bytes.ok()) return bytes.error();
      total += *bytes;
    }
    if (auto ended = exec(setup.raw, "COMMIT"); !ended.ok()) return ended.error();
  }
  const auto done = sample(transactions * per_transaction, watch);
  keep(total);
  return done;
}

Result<Sample> tenant_reads(const PgSetup& setup, std::size_t transactions, std::size_t per_transaction) {
  std::size_t total = 0;
  const Stopwatch watch;
  for (std::size_t t = 0, k = 0; t < transactions; ++t) {
    auto transaction = setup.tenant->begin(store::Mode::snapshot);
    if (!transaction.ok()) return transaction.error();
    for (std::size_t r = 0; r < per_transaction; ++r, ++k) {
      auto value = transaction->get(store::Tuple{"users", static_cast<std::int64_t>(setup.index[k]), "email"});
      if (!value.ok()) return value.error();
      total += value->has_value() ? (*value)->size() : 0;
    }
    if (auto ended = transaction->commit(); !ended.ok()) return ended.error();
  }
  const auto done = sample(transactions * per_transaction, watch);
  keep(total);
  return done;
}

Result<Sample> raw_writes(const PgSetup& setup, std::size_t writes, const std::string& value) {
  const Stopwatch watch;
  for (std::size_t k = 0; k < writes; ++k) {
    if (auto begun = exec(setup.raw, "BEGIN ISOLATION LEVEL SERIALIZABLE"); !begun.ok()) return begun.error();
    if (auto put = exec_prepared(setup.raw, "bench_put", setup.full[k], value); !put.ok()) return put.error();
    if (auto ended = exec(setup.raw, "COMMIT"); !ended.ok()) return ended.error();
  }
  return sample(writes, watch);
}

/// Through Tenant::run (by tuple), or Database::run with the full key (no tenant check).
Result<Sample> plexus_writes(const PgSetup& setup, std::size_t writes, const std::string& value, bool tenant) {
  const Stopwatch watch;
  for (std::size_t k = 0; k < writes; ++k) {
    auto done = tenant ? setup.tenant->run([&](store::TenantTransaction& transaction) {
                           return transaction.set(store::Tuple{"users", static_cast<std::int64_t>(setup.index[k]), "email"}, value);
                         })
                       : setup.database->run([&](store::Transaction& transaction) { return transaction.set(setup.full[k], value); });
    if (!done.ok()) return done.error();
  }
  return sample(writes, watch);
}

json whole(const json& rate) { return rate.is_number() ? json(round_to(rate.get<double>(), 0)) : json(nullptr); }

json measure(const PgSetup& setup, const StoreFlags& flags) {
  const std::size_t transactions = flags.pg_read_transactions, per = flags.pg_reads_per_transaction;
  const std::string value = user_value(1);
  std::vector<Variant> variants{
      {"raw_libpq_reads", [&] { return raw_reads(setup, transactions, per); }},
      {"tenant_get_tuple_reads", [&] { return tenant_reads(setup, transactions, per); }},
      {"raw_libpq_writes", [&] { return raw_writes(setup, flags.pg_writes, value); }},
      {"tenant_run_writes", [&] { return plexus_writes(setup, flags.pg_writes, value, true); }},
      {"database_run_writes", [&] { return plexus_writes(setup, flags.pg_writes, value, false); }},
  };
  auto rounds = run_rounds(variants, flags.rounds, true);
  if (!rounds.ok()) return {{"error", rounds.error().message()}};
  return {{"rates", rounds->to_json()},
          {"figures",
           {{"pg_get_tuple_vs_libpq", rounds->median_ratio("tenant_get_tuple_reads", "raw_libpq_reads", Per::wall_second)},
            {"pg_tenant_write_vs_libpq", rounds->median_ratio("tenant_run_writes", "raw_libpq_writes", Per::wall_second)},
            {"pg_database_write_vs_libpq", rounds->median_ratio("database_run_writes", "raw_libpq_writes", Per::wall_second)},
            {"pg_get_tuple_reads_per_s", whole(rounds->median_rate("tenant_get_tuple_reads", Per::wall_second))},
            {"pg_tenant_writes_per_s", whole(rounds->median_rate("tenant_run_writes", Per::wall_second))}}}};
}

constexpr const char* sessions_sql =
    "SELECT (SELECT sessions FROM pg_stat_database WHERE datname = current_database()), pg_stat_clear_snapshot()";

json server_settings(PGconn* conn) {
  json out = json::object();
  for (const char* name : {"server_version", "fsync", "synchronous_commit", "shared_buffers"}) {
    auto value = exec(conn, std::string("SHOW ") + name);
    out[name] = value.ok() ? json(*value) : json(nullptr);
  }
  const char* host = PQhost(conn);
  out["host"] = host != nullptr && host[0] == '/' ? "unix socket" : (host != nullptr ? host : "");
  return out;
}

}  // namespace

json run_postgres(const StoreFlags& flags) {
  if (!pg_configured()) return {{"skipped", "no PG* environment variable set (PGHOST, PGPORT, PGDATABASE, PGUSER, ...)"}};
  const std::string table = "bench_store_" + std::to_string(::getpid());
  PgSetup setup;
  setup.raw = PQconnectdb("");
  if (PQstatus(setup.raw) != CONNECTION_OK) {
    json out = {{"error", std::string("connecting: ") + PQerrorMessage(setup.raw)}};
    PQfinish(setup.raw);
    return out;
  }
  json out = {{"server", server_settings(setup.raw)}, {"table", table}, {"keys", flags.pg_keys},
              {"reads_per_transaction", flags.pg_reads_per_transaction},
              {"read_transactions_per_round", flags.pg_read_transactions}, {"writes_per_round", flags.pg_writes}};
  const auto sessions_before = exec(setup.raw, sessions_sql);
  if (auto ready = set_up(setup, flags, table); !ready.ok()) {
    out["error"] = "setting up: " + ready.error().message();
  } else {
    out.update(measure(setup, flags));
  }
  // Sessions the server saw open meanwhile: the pool's connections, or more if it reconnected.
  const auto sessions_after = exec(setup.raw, sessions_sql);
  if (sessions_before.ok() && sessions_after.ok()) {
    out["server_sessions_opened"] = std::stoll("0" + *sessions_after) - std::stoll("0" + *sessions_before);
  }
  setup.tenant.reset();
  setup.database.reset();  // closes the pool before the table is dropped
  (void)exec(setup.raw, "DROP TABLE IF EXISTS \"public\".\"" + table + "\"");
  PQfinish(setup.raw);
  return out;
}

}  // namespace plexus::bench
