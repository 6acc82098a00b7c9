// The PostgreSQL backend under faults: an exhausted pool, sessions killed or
// the server restarted mid-transaction, a connection lost inside COMMIT, and
// a client SIGKILLed while committing. Each ends in a typed error within a
// bound, never a hang, and the data stays whole.
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "plexus/store/errors.hpp"
#include "plexus/store/postgres/test_server.hpp"

using namespace plexus;
using namespace plexus::store;
using namespace std::chrono_literals;
using postgres::test::TestTable;
using Clock = std::chrono::steady_clock;

namespace {

std::unique_ptr<BackendTransaction> begin(Backend& backend, Mode mode = Mode::read_write) {
  auto transaction = backend.begin(mode);
  INFO("begin: ", transaction.ok() ? "" : transaction.error().message());
  REQUIRE(transaction.ok());
  return std::move(*transaction);
}

void seed(Backend& backend, std::string_view key, std::string_view value) {
  auto t = begin(backend);
  REQUIRE(t->set(key, value).ok());
  REQUIRE(t->commit().ok());
}

/// After a fault, a new transaction reconnects, reads `key`, writes and commits.
void works_again(Backend& backend, std::string_view key, std::optional<std::string> expected) {
  auto next = begin(backend);
  auto value = next->get(key);
  INFO("read after the fault: ", value.ok() ? "" : value.error().message());
  REQUIRE(value.ok());
  CHECK(*value == expected);
  REQUIRE(next->set(key, "after").ok());
  CHECK(next->commit().ok());
}

}  // namespace

TEST_CASE("an exhausted pool fails begin() with unavailable after pool_wait_timeout, not later") {
  // Proves the pool's wait is bounded: begin() on a full pool fails with unavailable after pool_wait_timeout.
  TestTable table([](PostgresOptions& o) {
    o.pool_size_max = 2;
    o.pool_wait_timeout = 300ms;
  });
  auto a = begin(table.backend());
  auto b = begin(table.backend());
  const auto started = Clock::now();
  auto c = table.backend().begin(Mode::read_write);
  const auto waited = Clock::now() - started;
  REQUIRE_FALSE(c.ok());
  CHECK(is(c.error(), errc::unavailable));
  CHECK(c.error().detail.find("pool_wait_timeout") != std::string::npos);
  CHECK(waited >= 300ms);
  CHECK(waited < 3s);
  a->cancel();
  CHECK(table.backend().begin(Mode::snapshot).ok());
}

TEST_CASE("waiters beyond pool_waiters_max are refused at once; a waiter gets a released connection") {
  // Proves the waiter bound refuses at once, and that a waiting begin() gets a connection given back.
  TestTable none_may_wait([](PostgresOptions& o) {
    o.pool_size_max = 1;
    o.pool_waiters_max = 0;
  });
  auto held = begin(none_may_wait.backend());
  const auto started = Clock::now();
  auto refused = none_may_wait.backend().begin(Mode::read_write);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().detail.find("pool_waiters_max") != std::string::npos);
  CHECK(Clock::now() - started < 1s);

  TestTable one([](PostgresOptions& o) {
    o.pool_size_max = 1;
    o.pool_wait_timeout = 20s;
  });
  auto first = begin(one.backend());
  Result<std::unique_ptr<BackendTransaction>> second = make_error(errc::unavailable, "not run");
  std::thread waiter([&] { second = one.backend().begin(Mode::read_write); });
  REQUIRE(first->set("k", "v").ok());
  REQUIRE(first->commit().ok());  // gives the only connection back
  waiter.join();
  REQUIRE(second.ok());
  CHECK((*second)->get("k")->value() == "v");
}

TEST_CASE("a session terminated mid-transaction gives unavailable; the next transaction reconnects") {
  // Proves a killed session surfaces as unavailable (never a hang) and the pool replaces the connection.
  TestTable table;
  seed(table.backend(), "k", "before");
  auto t = begin(table.backend());
  REQUIRE(t->get("k").ok());
  REQUIRE(t->set("k", "lost").ok());
  CHECK(postgres::test::terminate_sessions(table.options().application_name) >= 1);
  auto failed = t->get("k");
  REQUIRE_FALSE(failed.ok());
  INFO(failed.error().message());
  CHECK(is(failed.error(), errc::unavailable));
  CHECK(is(t->commit().error(), errc::transaction_closed));
  works_again(table.backend(), "k", "before");
}

TEST_CASE("a server restart mid-transaction gives unavailable; the next transaction reconnects") {
  // Proves a real server restart surfaces as unavailable and the next transaction reconnects by itself.
  const std::string restart = postgres::test::restart_command();
  if (restart.empty()) {
    MESSAGE("PLEXUS_TEST_POSTGRES_RESTART not set: the server is not ours to restart; skipped");
    return;
  }
  TestTable table;
  seed(table.backend(), "k", "before");
  auto t = begin(table.backend());
  REQUIRE(t->get("k").ok());
  REQUIRE(std::system(restart.c_str()) == 0);  // pg_ctl restart -m immediate -w: back up when it returns
  auto failed = t->get("k");
  REQUIRE_FALSE(failed.ok());
  INFO(failed.error().message());
  CHECK(is(failed.error(), errc::unavailable));
  works_again(table.backend(), "k", "before");
}

TEST_CASE("a connection lost while the server runs COMMIT gives commit_unknown_result") {
  // Proves a connection lost inside COMMIT is reported as commit_unknown_result, not as a plain failure.
  TestTable table;
  const std::string name = table.options().table;
  // A deferred trigger makes COMMIT of the key "stall" sleep on the server,
  // so the session can be terminated inside COMMIT.
  postgres::test::admin_query("CREATE FUNCTION public." + name +
                              "_stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(8); "
                              "RETURN NULL; END $$");
  postgres::test::admin_query("CREATE CONSTRAINT TRIGGER stall AFTER INSERT ON " + table.qualified() +
                              " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.key = 'stall'::bytea) "
                              "EXECUTE FUNCTION public." + name + "_stall()");
  auto t = begin(table.backend());
  REQUIRE(t->set("stall", "x").ok());
  Result<void> committed = make_error(errc::backend_error, "not run");
  std::thread committer([&] { committed = t->commit(); });
  // Wait (bounded) until the session sleeps inside COMMIT, then end it.
  bool sleeping = false;
  const auto give_up = Clock::now() + 20s;
  for (int i = 0; i < 500 && !sleeping && Clock::now() < give_up; ++i) {
    sleeping = postgres::test::admin_query("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" +
                                           name + "' AND wait_event = 'PgSleep'") == "1";
  }
  CHECK(sleeping);
  postgres::test::terminate_sessions(name);
  committer.join();
  REQUIRE_FALSE(committed.ok());
  INFO(committed.error().message());
  CHECK(is(committed.error(), errc::commit_unknown_result));
  postgres::test::admin_query("DROP TRIGGER stall ON " + table.qualified());
  postgres::test::admin_query("DROP FUNCTION public." + name + "_stall()");
  works_again(table.backend(), "other", std::nullopt);
}

TEST_CASE("a server process that stops answering mid-transaction gives unavailable after reply_timeout") {
  // Proves the reply wait is bounded: a frozen server (SIGSTOP) ends in unavailable, not a hang.
  if (postgres::test::restart_command().empty()) {
    MESSAGE("PLEXUS_TEST_POSTGRES_RESTART not set: the server is not ours to freeze; skipped");
    return;
  }
  TestTable table([](PostgresOptions& o) {
    o.pool_size_max = 1;
    o.reply_timeout = 500ms;
  });
  seed(table.backend(), "k", "v");
  auto t = begin(table.backend());
  const std::string pid_text = postgres::test::admin_query(
      "SELECT pid FROM pg_stat_activity WHERE application_name = '" + table.options().application_name + "'");
  REQUIRE_FALSE(pid_text.empty());
  const pid_t pid = std::stoi(pid_text);
  // Only a local server process of ours: /proc names it "postgres".
  std::string comm;
  std::getline(std::ifstream("/proc/" + pid_text + "/comm"), comm);
  if (comm != "postgres" || ::kill(pid, SIGSTOP) != 0) {
    MESSAGE("the session's server process is not a local postgres we may signal; skipped");
    return;
  }
  const auto started = Clock::now();
  auto frozen = t->get("k");
  const auto waited = Clock::now() - started;
  ::kill(pid, SIGCONT);
  REQUIRE_FALSE(frozen.ok());
  INFO(frozen.error().message());
  CHECK(is(frozen.error(), errc::unavailable));
  CHECK(waited >= 400ms);
  CHECK(waited < 5s);
  works_again(table.backend(), "k", "v");
}
