// How the PostgreSQL backend's tests reach their server: the connection comes
// from PLEXUS_TEST_POSTGRES (a libpq conninfo) or libpq's PG* variables (set
// by ./run.sh test, or by pg_virtualenv); each test gets a fresh table with a
// random name, dropped at the end. Test-only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "plexus/store/backend.hpp"
#include "plexus/store/postgres/postgres_backend.hpp"

namespace plexus::store::postgres::test {

/// True when PLEXUS_TEST_POSTGRES or one of PGHOST, PGPORT, PGDATABASE, PGSERVICE is set.
bool server_configured();

/// The test server's conninfo ("" means the PG* variables).
std::string test_conninfo();

/// "plexus_test_" and 16 random hex digits.
std::string random_name();

/// Runs `sql` on a plain libpq connection of its own (not the backend's) and
/// returns the first column of the first row ("" without rows). Fails the
/// test when the statement fails.
std::string admin_query(const std::string& sql);

/// Drops `qualified` if it exists; false (and a line on stderr) on failure.
/// Asserts nothing, so it may run in a destructor.
bool drop_table(const std::string& qualified);

/// Terminates every session whose application_name is `name`; returns how many.
int terminate_sessions(const std::string& application_name);

/// The command that restarts the test server (PLEXUS_TEST_POSTGRES_RESTART,
/// exported by ./run.sh test), or "" when the tests may not restart it.
std::string restart_command();

/// A fresh table and a backend on it. Destruction closes the backend, then drops the table.
class TestTable {
 public:
  /// `adjust` may change the options (pool size, timeouts) before opening.
  explicit TestTable(const std::function<void(PostgresOptions&)>& adjust = {});
  ~TestTable();
  TestTable(const TestTable&) = delete;
  TestTable& operator=(const TestTable&) = delete;

  Backend& backend() { return *backend_; }
  [[nodiscard]] const PostgresOptions& options() const { return options_; }
  [[nodiscard]] std::string qualified() const { return "public." + options_.table; }
  /// A second backend (its own pool) on the same table, or the error.
  Result<std::unique_ptr<Backend>> open_another() const;

 private:
  PostgresOptions options_;
  std::unique_ptr<Backend> backend_;
};

}  // namespace plexus::store::postgres::test
