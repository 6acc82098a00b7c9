// The conformance suite's PostgreSQL target (conformance.hpp): every
// open_fresh() is a new, randomly named table on the test server (the PG*
// variables or PLEXUS_TEST_POSTGRES, as for store_postgres_test), dropped by
// cleanup(). store_conformance_postgres runs with test_main.cpp, which exits
// 77 (SKIP) without a server, so `available` is always true when tests run.
#include <string>
#include <vector>

#include "plexus/store/conformance.hpp"
#include "plexus/store/postgres/postgres_backend.hpp"
#include "plexus/store/postgres/test_server.hpp"

namespace plexus::store {
namespace {

struct Tables {
  std::string current;
  std::vector<std::string> made;
};

Tables& tables() {
  static Tables made;
  return made;
}

PostgresOptions options_for(const std::string& table) {
  PostgresOptions options;
  options.conninfo = postgres::test::test_conninfo();
  options.table = table;
  options.application_name = table;
  options.connect_timeout = std::chrono::milliseconds{10'000};
  return options;
}

Result<std::unique_ptr<Backend>> open_fresh() {
  tables().current = postgres::test::random_name();
  tables().made.push_back(tables().current);
  return open_postgres(options_for(tables().current));
}

}  // namespace

ConformanceTarget conformance_target() {
  ConformanceTarget target;
  target.name = "postgres";
  target.available = postgres::test::server_configured();
  target.skip_reason = "no PostgreSQL server configured (PLEXUS_TEST_POSTGRES or PGHOST/PGPORT/PGDATABASE)";
  target.open_fresh = open_fresh;
  target.reopen_same = [] { return open_postgres(options_for(tables().current)); };
  target.cleanup = [] {
    for (const std::string& table : tables().made) postgres::test::drop_table("public." + table);
    tables().made.clear();
  };
  return target;
}

}  // namespace plexus::store
