// bench_context: what a datastore context costs and how fast it heals, on a
// PostgreSQL server from libpq's PG* variables (skipped without one). One
// JSON document on stdout:
// - point_read: one snapshot transaction reading one key (pool checkout,
//   BEGIN + snapshot, the read, COMMIT) through a context's Database, next
//   to the same work through the store's backend opened directly (no
//   context), and on one raw libpq connection (BEGIN ISOLATION LEVEL
//   REPEATABLE READ READ ONLY, the prepared SELECT, COMMIT: three round
//   trips), and on one raw connection in pipeline mode with the store's
//   protocol (BEGIN and the SELECT in one round trip; ROLLBACK sent without
//   waiting, its answer read with the next read's). The store
//   transactions start with their first read (Start::with_first_call, the
//   mode for a read right after begin). Variants alternate per round
//   (A B C D, D C B A, ...); a ratio is the median of the rounds' own
//   ratios. Target: context / raw overhead <= 5 %.
// - recovery: pg_terminate_backend on every session of the context, then the
//   time until the context reports ready again (its supervisor's transition),
//   with default supervision settings. Target: <= 1 s.
#include <libpq-fe.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "plexus/context/context.hpp"
#include "plexus/context/conninfo.hpp"
#include "plexus/store/errors.hpp"
#include "plexus/store/postgres/postgres_backend.hpp"

namespace {

using namespace plexus;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Flags {
  int rounds = 9;
  int reads = 2'000;
  int recoveries = 10;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_context: %s\n", what.c_str());
  std::exit(1);
}

PGconn* connect(const std::string& dbname) {
  std::vector<std::pair<std::string, std::string>> overrides{{"application_name", "bench_raw"}};
  if (!dbname.empty()) overrides.emplace_back("dbname", dbname);  // "" keeps PGDATABASE
  auto conninfo = context::detail::override_conninfo("", overrides);
  PGconn* conn = PQconnectdb(conninfo->c_str());
  if (PQstatus(conn) != CONNECTION_OK) fail(std::string("raw connection: ") + PQerrorMessage(conn));
  return conn;
}

void exec(PGconn* conn, const char* sql) {
  PGresult* result = PQexec(conn, sql);
  const auto status = PQresultStatus(result);
  PQclear(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(std::string(sql) + ": " + PQerrorMessage(conn));
}

/// Reads `keys` through `database`, one snapshot transaction each; returns seconds.
double through_store(store::Database& database, const std::vector<std::string>& keys) {
  const auto start = Clock::now();
  for (const auto& key : keys) {
    auto transaction = database.begin(store::Mode::snapshot, store::Start::with_first_call);
    if (!transaction) fail("begin: " + transaction.error().message());
    auto value = transaction->get(key);
    if (!value || !*value) fail("read: missing");
    if (auto done = transaction->commit(); !done) fail("commit: " + done.error().message());
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double through_raw(PGconn* conn, const std::vector<std::string>& keys) {
  const auto start = Clock::now();
  for (const auto& key : keys) {
    exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const char* values[1] = {key.data()};
    const int lengths[1] = {static_cast<int>(key.size())};
    const int formats[1] = {1};
    PGresult* result = PQexecPrepared(conn, "bench_get", 1, values, lengths, formats, 1);
    if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1) fail("raw read");
    PQclear(result);
    exec(conn, "COMMIT");
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The next result of a pipelined `conn` must have `status`; then its null.
void expect(PGconn* conn, ExecStatusType status, const char* what) {
  PGresult* result = PQgetResult(conn);
  const bool ok = result != nullptr && PQresultStatus(result) == status &&
                  (status != PGRES_TUPLES_OK || PQntuples(result) == 1);
  PQclear(result);
  if (!ok) fail(std::string("raw pipelined: ") + what + ": " + PQerrorMessage(conn));
  if (status != PGRES_PIPELINE_SYNC && PQgetResult(conn) != nullptr) fail(std::string("raw pipelined: ") + what);
}

/// The same reads on a raw connection in pipeline mode, with the store's round
/// trips: BEGIN and the SELECT in one; ROLLBACK sent without waiting, its
/// answer read in the next read's round trip.
double through_raw_pipelined(PGconn* conn, const std::vector<std::string>& keys) {
  const auto start = Clock::now();
  bool rollback_unread = false;
  auto read_rollback = [&] {
    if (!rollback_unread) return;
    expect(conn, PGRES_COMMAND_OK, "ROLLBACK");
    expect(conn, PGRES_PIPELINE_SYNC, "sync");
    rollback_unread = false;
  };
  for (const auto& key : keys) {
    const char* values[1] = {key.data()};
    const int lengths[1] = {static_cast<int>(key.size())};
    const int formats[1] = {1};
    PQsendQueryParams(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, nullptr, nullptr, nullptr, nullptr, 1);
    PQsendQueryPrepared(conn, "bench_get", 1, values, lengths, formats, 1);
    PQpipelineSync(conn);
    read_rollback();
    expect(conn, PGRES_COMMAND_OK, "BEGIN");
    expect(conn, PGRES_TUPLES_OK, "SELECT");
    expect(conn, PGRES_PIPELINE_SYNC, "sync");
    PQsendQueryParams(conn, "ROLLBACK", 0, nullptr, nullptr, nullptr, nullptr, 1);
    PQpipelineSync(conn);
    rollback_unread = true;
  }
  read_rollback();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

json point_reads(const Flags& flags, context::Context& ctx, store::Database& direct, PGconn* raw, PGconn* piped) {
  std::vector<std::string> keys;
  for (int i = 0; i < 1'000; ++i) keys.push_back("key-" + std::to_string(i));
  auto filled = ctx.database()->run([&](store::Transaction& t) -> Result<void> {
    for (const auto& key : keys) {
      if (auto ok = t.set(key, "value-of-" + key); !ok) return ok;
    }
    return {};
  });
  if (!filled) fail("fill: " + filled.error().message());
  std::mt19937_64 random(7);
  std::vector<std::string> picks;
  for (int i = 0; i < flags.reads; ++i) picks.push_back(keys[random() % keys.size()]);
  std::vector<double> context_s, direct_s, raw_s, piped_s, context_vs_raw, context_vs_direct, context_vs_piped;
  for (int round = 0; round < flags.rounds; ++round) {
    double c = 0, d = 0, r = 0, p = 0;
    if (round % 2 == 0) {
      c = through_store(*ctx.database(), picks), d = through_store(direct, picks), r = through_raw(raw, picks);
      p = through_raw_pipelined(piped, picks);
    } else {
      p = through_raw_pipelined(piped, picks);
      r = through_raw(raw, picks), d = through_store(direct, picks), c = through_store(*ctx.database(), picks);
    }
    context_s.push_back(c), direct_s.push_back(d), raw_s.push_back(r), piped_s.push_back(p);
    context_vs_raw.push_back(c / r), context_vs_direct.push_back(c / d), context_vs_piped.push_back(c / p);
  }
  auto rate = [&](const std::vector<double>& s) { return flags.reads / median(s); };
  return json{{"reads_per_round", flags.reads},
              {"rounds", flags.rounds},
              {"context_reads_per_s", rate(context_s)},
              {"store_direct_reads_per_s", rate(direct_s)},
              {"raw_libpq_reads_per_s", rate(raw_s)},
              {"context_over_raw_time_ratio", median(context_vs_raw)},
              {"context_over_store_direct_time_ratio", median(context_vs_direct)},
              {"raw_pipelined_reads_per_s", rate(piped_s)},
              {"context_over_raw_pipelined_time_ratio", median(context_vs_piped)},
              {"target_context_over_raw_max", 1.05}};
}

json recoveries(const Flags& flags, context::Context& ctx, const std::string& application_name) {
  PGconn* admin = connect("");
  std::vector<double> ms;
  for (int i = 0; i < flags.recoveries; ++i) {
    const auto not_ready_before = ctx.metrics().supervisor.not_ready;
    const auto ended = Clock::now();
    exec(admin, ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
                 application_name + "'").c_str());
    const auto deadline = ended + std::chrono::seconds(10);
    // Polls the context's state: a wait on a condition with a deadline.
    while (!(ctx.metrics().supervisor.not_ready > not_ready_before && ctx.state() == context::State::ready)) {
      if (Clock::now() > deadline) fail("context not ready 10 s after pg_terminate_backend");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const auto transitions = ctx.transitions();
    ms.push_back(std::chrono::duration<double, std::milli>(transitions.back().at - ended).count());
  }
  PQfinish(admin);
  return json{{"terminations", flags.recoveries},
              {"to_ready_ms_median", median(ms)},
              {"to_ready_ms_max", *std::max_element(ms.begin(), ms.end())},
              {"probe_interval_ms", context::SupervisionOptions{}.probe_interval.count()},
              {"target_to_ready_ms_max", 1'000}};
}

context::DatastoreOptions bench_options() {
  context::DatastoreOptions o;
  o.name = "plexus_bench_ctx_" + std::to_string(std::random_device{}() % 1'000'000);
  o.backend = context::BackendKind::postgres;
  context::ContextOptions owner, api;
  owner.name = owner.role = o.name + "_owner";
  owner.kind = context::Kind::owner;
  api.name = api.role = o.name + "_api";
  ::setenv("PLEXUS_BENCH_CONTEXT_PW", ("bench-" + std::to_string(std::random_device{}())).c_str(), 1);
  api.credential = {context::CredentialSource::From::env, "PLEXUS_BENCH_CONTEXT_PW"};
  api.pool_size = 4;
  o.contexts = {owner, api};
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"bench_context: datastore context overhead and recovery (JSON on stdout)"};
  app.add_option("--rounds", flags.rounds, "alternating rounds of the point-read variants")->check(CLI::Range(1, 1000));
  app.add_option("--reads", flags.reads, "point reads per variant per round")->check(CLI::Range(1, 10'000'000));
  app.add_option("--recoveries", flags.recoveries, "pg_terminate_backend rounds")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  if (std::getenv("PGHOST") == nullptr && std::getenv("PGPORT") == nullptr && std::getenv("PGDATABASE") == nullptr) {
    std::printf("%s\n", json{{"skipped", "no PostgreSQL server (PG* variables unset)"}}.dump(2).c_str());
    return 0;
  }
  spdlog::set_level(spdlog::level::warn);
  const auto options = bench_options();
  if (auto created = context::create_datastore(options); !created) fail(created.error().message());
  json out;
  {
    auto started = context::Datastore::start(options);
    if (!started) fail(started.error().message());
    auto ctx = *started->datastore->context(options.contexts[1].name);
    store::PostgresOptions direct_options;
    direct_options.conninfo = *context::detail::override_conninfo("", {{"dbname", options.name}});
    direct_options.schema = context::detail::postgres_schema;
    direct_options.table = context::detail::postgres_table;
    direct_options.pool_size_max = 4;
    auto direct_backend = store::open_postgres(direct_options);
    if (!direct_backend) fail(direct_backend.error().message());
    store::Database direct("direct", std::move(*direct_backend));
    PGconn* raw = connect(options.name);
    PGresult* prepared = PQprepare(raw, "bench_get", "SELECT value FROM plexus.kv WHERE key = $1", 1, nullptr);
    PQclear(prepared);
    PGconn* piped = connect(options.name);
    PQclear(PQprepare(piped, "bench_get", "SELECT value FROM plexus.kv WHERE key = $1", 1, nullptr));
    if (PQenterPipelineMode(piped) != 1) fail("raw pipelined: cannot enter pipeline mode");
    out["point_read"] = point_reads(flags, *ctx, direct, raw, piped);
    PQfinish(piped);
    PQfinish(raw);
    out["recovery"] = recoveries(flags, *ctx, "plexus/" + options.name + "/" + options.contexts[1].name);
  }
  if (auto dropped = context::drop_datastore(options); !dropped) fail(dropped.error().message());
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
