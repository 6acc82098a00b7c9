// The main of store_postgres_test and store_conformance_postgres: runs the doctest cases when a PostgreSQL
// server is configured, and otherwise exits 77 so that meson reports SKIP
// rather than a pass that tested nothing.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "plexus/store/postgres/test_server.hpp"

int main(int argc, char** argv) {
  if (!plexus::store::postgres::test::server_configured()) {
    std::fprintf(stderr,
                 "%s: no PostgreSQL server configured (set PLEXUS_TEST_POSTGRES to a conninfo, "
                 "or PGHOST/PGPORT/PGDATABASE); skipping\n",
                 argc > 0 ? argv[0] : "test");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
