// The tenant tests' PostgreSQL target (conformance.hpp's seam): every
// open_fresh() is a new table with a random name on the test server
// (postgres/test_server.hpp), dropped by cleanup(). Test-only; when the
// PostgreSQL branch's own conformance_postgres.cpp lands, the tenant
// executable can link that one instead.
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

}  // namespace

ConformanceTarget conformance_target() {
  ConformanceTarget target;
  target.name = "postgres";
  target.available = postgres::test::server_configured();
  if (!target.available) target.skip_reason = "no PostgreSQL server (PLEXUS_TEST_POSTGRES or PG* variables)";
  target.open_fresh = [] {
    tables().current = postgres::test::random_name();
    tables().made.push_back(tables().current);
    return open_postgres(options_for(tables().current));
  };
  target.reopen_same = [] { return open_postgres(options_for(tables().current)); };
  target.cleanup = [] {
    for (const auto& table : tables().made) postgres::test::admin_query("DROP TABLE IF EXISTS public." + table);
    tables().made.clear();
  };
  return target;
}

}  // namespace plexus::store
