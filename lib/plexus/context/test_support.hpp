// Test helpers of the context tests on PostgreSQL: a datastore with an owner,
// a read-write, a read-only and a nonlogin context under random names (their
// passwords random, in environment variables), created on construction and
// dropped on destruction; and admin queries in any database of the test
// server. Test-only.
#pragma once

#include <libpq-fe.h>

#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "plexus/context/context.hpp"
#include "plexus/context/conninfo.hpp"
#include "plexus/store/postgres/test_server.hpp"

namespace plexus::context::test {

inline std::string random_hex(int digits) {
  static std::mt19937_64 random{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < digits; ++i) out += hex[random() & 0xf];
  return out;
}

/// Runs `sql` in database `db` ("" = the test conninfo's) as the test server's
/// admin; the first column of the first row ("" without rows).
inline std::string query(const std::string& db, const std::string& sql) {
  std::vector<std::pair<std::string, std::string>> overrides{{"application_name", "plexus_test_admin"}};
  if (!db.empty()) overrides.emplace_back("dbname", db);
  auto conninfo = detail::override_conninfo(store::postgres::test::test_conninfo(), overrides);
  REQUIRE(conninfo.ok());
  PGconn* conn = PQconnectdb(conninfo->c_str());
  INFO("admin connection: ", PQerrorMessage(conn));
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PGresult* result = PQexec(conn, sql.c_str());
  INFO("admin query `", sql, "`: ", PQresultErrorMessage(result));
  const ExecStatusType status = PQresultStatus(result);
  std::string first;
  if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) first = PQgetvalue(result, 0, 0);
  PQclear(result);
  PQfinish(conn);
  REQUIRE((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK));
  return first;
}

/// Polls `condition` every millisecond until it holds or `timeout` passes;
/// returns whether it held. A wait on a condition with a deadline, not a sleep.
template <class F>
bool eventually(F&& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int pass = 0; pass < 1'000'000; ++pass) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return condition();
}

/// Options of a fresh datastore: contexts <name>_owner (owner), <name>_rw
/// (login, read_write), <name>_ro (login, read_only), <name>_nl (nonlogin).
inline DatastoreOptions fresh_options() {
  DatastoreOptions o;
  o.name = "plexus_ctx_" + random_hex(12);
  o.backend = BackendKind::postgres;
  o.location = store::postgres::test::test_conninfo();
  o.supervision.probe_interval = std::chrono::milliseconds{50};
  o.supervision.call_wait_max = std::chrono::milliseconds{1'000};
  auto add = [&](const std::string& suffix, Kind kind, Access access) {
    ContextOptions c;
    c.name = o.name + suffix;
    c.role = c.name;
    c.kind = kind;
    c.access = access;
    c.pool_size = 3;
    if (kind == Kind::login) {
      const std::string variable = "PLEXUS_TEST_PW_" + c.name;
      ::setenv(variable.c_str(), ("pw-" + random_hex(24)).c_str(), 1);
      c.credential = {CredentialSource::From::env, variable};
    }
    o.contexts.push_back(c);
  };
  add("_owner", Kind::owner, Access::read_write);
  add("_rw", Kind::login, Access::read_write);
  add("_ro", Kind::login, Access::read_only);
  add("_nl", Kind::nonlogin, Access::read_only);
  return o;
}

/// The password of a login context of fresh_options().
inline std::string password_of(const ContextOptions& c) { return std::getenv(c.credential.where.c_str()); }

/// A created datastore, dropped at the end.
class TestDatastore {
 public:
  explicit TestDatastore(DatastoreOptions options = fresh_options()) : options_(std::move(options)) {
    auto created = create_datastore(options_);
    INFO("create_datastore: ", created.ok() ? "" : created.error().message());
    REQUIRE(created.ok());
  }
  ~TestDatastore() {
    auto dropped = drop_datastore(options_);
    if (!dropped) MESSAGE("drop_datastore: ", dropped.error().message());
  }
  TestDatastore(const TestDatastore&) = delete;
  TestDatastore& operator=(const TestDatastore&) = delete;

  [[nodiscard]] const DatastoreOptions& options() const { return options_; }
  DatastoreOptions& options() { return options_; }
  [[nodiscard]] const ContextOptions& rw() const { return options_.contexts[1]; }
  [[nodiscard]] const ContextOptions& ro() const { return options_.contexts[2]; }
  [[nodiscard]] const ContextOptions& owner() const { return options_.contexts[0]; }
  [[nodiscard]] const ContextOptions& nonlogin() const { return options_.contexts[3]; }

 private:
  DatastoreOptions options_;
};

}  // namespace plexus::context::test
