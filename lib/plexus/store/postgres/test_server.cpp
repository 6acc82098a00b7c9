// The PostgreSQL tests' server access and fresh tables (test_server.hpp).
#include "plexus/store/postgres/test_server.hpp"

#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <random>

#include <doctest/doctest.h>

namespace plexus::store::postgres::test {
namespace {

const char* env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

}  // namespace

bool server_configured() {
  return env("PLEXUS_TEST_POSTGRES") || env("PGHOST") || env("PGPORT") || env("PGDATABASE") || env("PGSERVICE");
}

std::string test_conninfo() {
  const char* conninfo = env("PLEXUS_TEST_POSTGRES");
  return conninfo ? conninfo : "";
}

std::string restart_command() {
  const char* command = env("PLEXUS_TEST_POSTGRES_RESTART");
  return command ? command : "";
}

std::string random_name() {
  static std::mt19937_64 random{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string name = "plexus_test_";
  std::uint64_t bits = random();
  for (int i = 0; i < 16; ++i, bits >>= 4) name += hex[bits & 0xf];
  return name;
}

std::string admin_query(const std::string& sql) {
  const std::string conninfo = test_conninfo();
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {conninfo.empty() ? nullptr : conninfo.c_str(), "10", "plexus_test_admin", nullptr};
  PGconn* conn = PQconnectdbParams(conninfo.empty() ? keys + 1 : keys, conninfo.empty() ? values + 1 : values, 1);
  INFO("admin connection: ", PQerrorMessage(conn));
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  INFO("admin query `", sql, "`: ", PQresultErrorMessage(result));
  const bool ok = status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
  std::string first;
  if (ok && status == PGRES_TUPLES_OK && PQntuples(result) > 0) first = PQgetvalue(result, 0, 0);
  PQclear(result);
  PQfinish(conn);
  REQUIRE(ok);
  return first;
}

bool drop_table(const std::string& qualified) {
  const std::string conninfo = test_conninfo();
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {conninfo.empty() ? nullptr : conninfo.c_str(), "10", "plexus_test_admin", nullptr};
  PGconn* conn = PQconnectdbParams(conninfo.empty() ? keys + 1 : keys, conninfo.empty() ? values + 1 : values, 1);
  bool ok = PQstatus(conn) == CONNECTION_OK;
  if (ok) {
    PGresult* result = PQexec(conn, ("DROP TABLE IF EXISTS " + qualified).c_str());
    ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
  }
  if (!ok) std::fprintf(stderr, "drop %s: %s\n", qualified.c_str(), PQerrorMessage(conn));
  PQfinish(conn);
  return ok;
}

int terminate_sessions(const std::string& application_name) {
  return std::stoi(admin_query(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" +
      application_name + "'"));
}

TestTable::TestTable(const std::function<void(PostgresOptions&)>& adjust) {
  options_.conninfo = test_conninfo();
  options_.table = random_name();
  options_.application_name = options_.table;
  options_.connect_timeout = std::chrono::milliseconds{10'000};
  if (adjust) adjust(options_);
  auto opened = open_postgres(options_);
  INFO("open_postgres: ", opened.ok() ? std::string() : opened.error().message());
  REQUIRE(opened.ok());
  backend_ = std::move(*opened);
}

TestTable::~TestTable() {
  backend_.reset();
  drop_table(qualified());
}

Result<std::unique_ptr<Backend>> TestTable::open_another() const { return open_postgres(options_); }

}  // namespace plexus::store::postgres::test
