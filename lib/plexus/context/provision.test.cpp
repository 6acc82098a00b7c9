// Datastore contexts on a real PostgreSQL server: the roles and privileges
// create_datastore makes and drop_datastore removes, read-only contexts that
// cannot write, an owner that cannot log in, credentials kept out of logs.
#include <doctest/doctest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "plexus/context/contexts.hpp"
#include "plexus/context/test_support.hpp"
#include "plexus/store/errors.hpp"

namespace plexus::context {
namespace {

using test::query;
using test::TestDatastore;

std::string privilege(const std::string& db, const std::string& role, const std::string& object,
                      const std::string& right) {
  return query(db, "SELECT has_table_privilege('" + role + "', '" + object + "', '" + right + "')");
}

TEST_CASE("create_datastore makes exactly the documented roles and privileges, and drop removes them") {
  // Proves the PostgreSQL layout of docs/store.md by querying pg_roles, pg_database and has_*_privilege.
  std::string name, owner, rw, ro, nl;
  {
    TestDatastore datastore;
    name = datastore.options().name;
    owner = datastore.owner().role, rw = datastore.rw().role, ro = datastore.ro().role, nl = datastore.nonlogin().role;
    CHECK(query("", "SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + owner + "'") == "f");
    CHECK(query("", "SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + rw + "'") == "t");
    CHECK(query("", "SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + ro + "'") == "t");
    CHECK(query("", "SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + nl + "'") == "f");
    CHECK(query("", "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = '" + rw + "'") == "f");
    CHECK(query("", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '" + name + "'") == owner);
    // PUBLIC holds nothing on the database; each context role holds CONNECT and no more.
    CHECK(query("", "SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = '" + name +
                        "' AND a.grantee = 0") == "0");
    for (const std::string& role : {rw, ro, nl}) {
      CHECK(query("", "SELECT has_database_privilege('" + role + "', '" + name + "', 'CONNECT')") == "t");
      CHECK(query("", "SELECT has_database_privilege('" + role + "', '" + name + "', 'CREATE')") == "f");
      CHECK(query("", "SELECT has_database_privilege('" + role + "', '" + name + "', 'TEMPORARY')") == "f");
    }
    CHECK(query(name, "SELECT tableowner FROM pg_tables WHERE schemaname = 'plexus' AND tablename = 'kv'") == owner);
    CHECK(query(name, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'plexus'") == owner);
    for (const char* right : {"SELECT", "INSERT", "UPDATE", "DELETE"}) {
      CHECK(privilege(name, rw, "plexus.kv", right) == "t");
      CHECK(privilege(name, ro, "plexus.kv", right) == (std::string(right) == "SELECT" ? "t" : "f"));
      CHECK(privilege(name, nl, "plexus.kv", right) == (std::string(right) == "SELECT" ? "t" : "f"));
    }
    for (const std::string& role : {rw, ro}) {
      CHECK(privilege(name, role, "plexus.kv", "TRUNCATE") == "f");
      CHECK(query(name, "SELECT has_schema_privilege('" + role + "', 'plexus', 'CREATE')") == "f");
    }
  }
  CHECK(query("", "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'") == "0");
  CHECK(query("", "SELECT count(*) FROM pg_roles WHERE rolname IN ('" + owner + "', '" + rw + "', '" + ro + "', '" +
                      nl + "')") == "0");
}

TEST_CASE("a read-only context reads but cannot write; the owner context cannot log in") {
  // Proves the server enforces each context's privileges: a write through read_only fails permission_denied.
  TestDatastore datastore;
  auto started = Datastore::start(datastore.options());
  INFO("start: ", started.ok() ? "" : started.error().message());
  REQUIRE(started.ok());
  CHECK(started->outcome == StartOutcome::all_started);
  auto& running = *started->datastore;
  auto rw = *running.context(datastore.rw().name);
  auto ro = *running.context(datastore.ro().name);
  CHECK(rw->state() == State::ready);
  CHECK(ro->state() == State::ready);
  CHECK(running.state(datastore.owner().name) == State::not_started);
  CHECK(running.state("nope") == State::not_found);

  auto writer = open_or_create(*rw, "tenant-1");
  REQUIRE(writer.ok());
  REQUIRE(writer->run([](store::TenantTransaction& t) { return t.set(store::Tuple{"k"}, "v1"); }).ok());

  auto reader = open(*ro, "tenant-1");
  REQUIRE(reader.ok());
  auto read = reader->begin(store::Mode::snapshot);
  REQUIRE(read.ok());
  auto value = read->get(store::Tuple{"k"});
  REQUIRE(value.ok());
  CHECK(*value == std::optional<std::string>("v1"));
  read->cancel();

  auto written = reader->run([](store::TenantTransaction& t) { return t.set(store::Tuple{"k"}, "from-ro"); });
  REQUIRE_FALSE(written.ok());
  INFO("write through read_only: ", written.error().message());
  CHECK(store::is(written.error(), store::errc::permission_denied));
  CHECK(open_or_create(*ro, "tenant-2").ok() == false);

  auto owner_start = running.start_context(datastore.owner().name);
  REQUIRE_FALSE(owner_start.ok());
  CHECK(is(owner_start.error(), errc::not_login));
  // And the server refuses the owner role at login, whatever the password.
  auto conninfo = detail::override_conninfo(store::postgres::test::test_conninfo(),
                                            {{"dbname", datastore.options().name}, {"user", datastore.owner().role},
                                             {"password", "anything"}});
  PGconn* conn = PQconnectdb(conninfo->c_str());
  CHECK(PQstatus(conn) == CONNECTION_BAD);
  PQfinish(conn);
}

TEST_CASE("credentials appear in no log line, error or status") {
  // Proves passwords stay secret through start, a wrong password, a lost connection and a stop.
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  std::string seen;
  {
    TestDatastore datastore;
    const std::string rw_password = test::password_of(datastore.rw());
    const std::string ro_password = test::password_of(datastore.ro());
    DatastoreOptions wrong = datastore.options();
    ::setenv("PLEXUS_TEST_WRONG_PW", (ro_password + "-wrong").c_str(), 1);
    wrong.contexts[2].credential = {CredentialSource::From::env, "PLEXUS_TEST_WRONG_PW"};
    auto started = Datastore::start(wrong);
    REQUIRE(started.ok());
    CHECK(started->outcome == StartOutcome::some_started);
    for (const auto& status : started->contexts) seen += status.name + " " + status.reason + "\n";
    auto rw = *started->datastore->context(datastore.rw().name);
    const auto lost_before = rw->metrics().supervisor.not_ready;
    CHECK(store::postgres::test::terminate_sessions("plexus/" + wrong.name + "/" + datastore.rw().name) > 0);
    CHECK(test::eventually([&] { return rw->metrics().supervisor.not_ready > lost_before && rw->state() == State::ready; },
                           std::chrono::seconds(10)));
    for (const auto& t : rw->transitions()) seen += t.reason + "\n";
    started->datastore->stop();
    spdlog::default_logger()->flush();
    seen += captured.str();
    CHECK(seen.find(rw_password) == std::string::npos);
    CHECK(seen.find(ro_password) == std::string::npos);
    CHECK(seen.find("password authentication failed") != std::string::npos);  // the reason is there, the secret not
    CHECK(captured.str().find("-> not_ready") != std::string::npos);
  }
  spdlog::set_default_logger(previous);
}

TEST_CASE("the admin status and /metrics of contexts hold no credential") {
  // Proves what the node shows of contexts on PostgreSQL: states and counters, never a password or its source.
  TestDatastore datastore;
  Contexts contexts({datastore.options()}, std::make_shared<LocalRegistrar>("node1"));
  const auto started = contexts.start_all();
  CHECK(started[datastore.options().name]["outcome"] == "all_started");
  const std::string shown = contexts.status_json().dump() + contexts.metrics_text() + started.dump();
  for (const auto* c : {&datastore.rw(), &datastore.ro()}) {
    CHECK(shown.find(test::password_of(*c)) == std::string::npos);
    CHECK(shown.find(c->credential.where) == std::string::npos);  // not even the variable's name
  }
  CHECK(shown.find("plexus_context_connections_open{datastore=\"" + datastore.options().name) != std::string::npos);
  CHECK(contexts.whereis(datastore.rw().name)->datastore == datastore.options().name);
  REQUIRE(contexts.stop(datastore.options().name).ok());
}

}  // namespace
}  // namespace plexus::context
