// Supervised contexts on a real PostgreSQL server: every session of a context
// ended under a write loop, one context stopped and started while another
// serves, a login refused until the context parks, a server that is down (it
// parks), and a server of the test's own that comes up after the context started.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "plexus/context/private_server.hpp"
#include "plexus/context/test_support.hpp"
#include "plexus/store/errors.hpp"

namespace plexus::context {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::eventually;
using test::TestDatastore;

/// Writes keys 0, 1, 2... through `tenant` on a thread until stopped (at most
/// writes_max, at most 60 s), remembering which commits were acknowledged.
class WriteLoop {
 public:
  static constexpr int writes_max = 200'000;

  explicit WriteLoop(store::Tenant tenant) : tenant_(std::move(tenant)), thread_([this] { run(); }) {}
  ~WriteLoop() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] int acknowledged() const { return acknowledged_.load(); }
  /// After stop(): the acknowledged keys and the failures by error name.
  [[nodiscard]] const std::vector<std::int64_t>& acked_keys() const { return acked_; }
  [[nodiscard]] const std::map<std::string, int>& failures() const { return failures_; }

 private:
  void run() {
    const auto deadline = Clock::now() + 60s;
    for (std::int64_t i = 0; i < writes_max && !stop_ && Clock::now() < deadline; ++i) {
      auto written = tenant_.run([&](store::TenantTransaction& t) { return t.set(store::Tuple{"w", i}, "v"); });
      if (written) {
        acked_.push_back(i);
        ++acknowledged_;
      } else {
        ++failures_[written.error().code.message()];
      }
    }
  }

  store::Tenant tenant_;
  std::atomic<bool> stop_{false};
  std::atomic<int> acknowledged_{0};
  std::vector<std::int64_t> acked_;
  std::map<std::string, int> failures_;
  std::thread thread_;
};

/// Every acknowledged key of `loop` is readable through `tenant`.
void all_acknowledged_present(const store::Tenant& tenant, const WriteLoop& loop) {
  auto rows = tenant.begin(store::Mode::snapshot);
  REQUIRE(rows.ok());
  auto range = rows->get_range(store::Tuple{"w"}, store::RangeOptions{.limit = 1'000'000});
  REQUIRE(range.ok());
  std::set<std::int64_t> present;
  for (const auto& row : range->rows) present.insert(std::get<std::int64_t>(row.key.back().value));
  int missing = 0;
  for (const std::int64_t key : loop.acked_keys()) missing += present.contains(key) ? 0 : 1;
  CHECK(missing == 0);
  CHECK(loop.acked_keys().size() > 0);
}

std::string application_name(const DatastoreOptions& options, const ContextOptions& context) {
  return "plexus/" + options.name + "/" + context.name;
}

TEST_CASE("every session of a context ended: not_ready, then ready, and no acknowledged write is lost") {
  // Proves pg_terminate_backend on all of a context's connections is noticed, repaired, and loses no acked write.
  TestDatastore datastore;
  auto started = Datastore::start(datastore.options());
  REQUIRE(started.ok());
  auto rw = *started->datastore->context(datastore.rw().name);
  auto tenant = open_or_create(*rw, "loop");
  REQUIRE(tenant.ok());
  WriteLoop loop(*tenant);
  REQUIRE(eventually([&] { return loop.acknowledged() >= 20; }, 10s));
  const auto not_ready_before = rw->metrics().supervisor.not_ready;
  const auto ended_at = Clock::now();
  CHECK(store::postgres::test::terminate_sessions(application_name(datastore.options(), datastore.rw())) > 0);
  REQUIRE(eventually([&] { return rw->metrics().supervisor.not_ready > not_ready_before && rw->state() == State::ready; },
                     10s));
  const auto transitions = rw->transitions();
  REQUIRE_FALSE(transitions.empty());
  CHECK(transitions.back().to == State::ready);
  const auto to_ready = std::chrono::duration_cast<std::chrono::milliseconds>(transitions.back().at - ended_at);
  MESSAGE("pg_terminate_backend to ready: ", to_ready.count(), " ms");
  CHECK(to_ready < 5s);
  const int acked_at_ready = loop.acknowledged();
  CHECK(eventually([&] { return loop.acknowledged() >= acked_at_ready + 20; }, 10s));
  loop.stop();
  for (const auto& [code, count] : loop.failures()) MESSAGE("write failures: ", code, " x", count);
  CHECK(rw->metrics().supervisor.connections_lost > 0);
  all_acknowledged_present(*tenant, loop);
}

TEST_CASE("one context stops and starts again while another keeps serving") {
  // Proves stop_context refuses only that context's calls, and its handles work again after start_context.
  TestDatastore datastore;
  auto started = Datastore::start(datastore.options());
  REQUIRE(started.ok());
  Datastore& running = *started->datastore;
  auto rw = *running.context(datastore.rw().name);
  auto ro = *running.context(datastore.ro().name);
  auto writer = open_or_create(*rw, "shared");
  REQUIRE(writer.ok());
  auto reader = open(*ro, "shared");
  REQUIRE(reader.ok());
  WriteLoop loop(*writer);
  REQUIRE(eventually([&] { return loop.acknowledged() >= 10; }, 10s));

  REQUIRE(running.stop_context(datastore.ro().name).ok());
  CHECK(ro->state() == State::not_started);
  CHECK(is(running.stop_context(datastore.ro().name).error(), errc::not_started));
  const auto before = Clock::now();
  auto refused = reader->begin(store::Mode::snapshot);
  REQUIRE_FALSE(refused.ok());
  CHECK(store::is(refused.error(), store::errc::unavailable));
  CHECK(Clock::now() - before < 500ms);  // a stopped context refuses at once, it does not wait
  const int acked_while_stopped = loop.acknowledged();
  CHECK(eventually([&] { return loop.acknowledged() >= acked_while_stopped + 20; }, 10s));
  CHECK(rw->state() == State::ready);

  REQUIRE(running.start_context(datastore.ro().name).ok());
  CHECK(ro->state() == State::ready);
  CHECK(is(running.start_context(datastore.ro().name).error(), errc::already_started));
  loop.stop();
  all_acknowledged_present(*reader, loop);  // the handle opened before the stop reads again
}

TEST_CASE("a refused login: calls wait up to call_wait_max then fail unavailable, the context parks, and restarts") {
  // Proves bounded waits while not_ready, parking after park_failures_max failures, and recovery by start_context.
  TestDatastore datastore;
  auto& o = datastore.options();
  o.supervision.call_wait_max = 400ms;
  o.supervision.backoff_initial = 20ms;
  o.supervision.backoff_max = 80ms;
  o.supervision.park_failures_max = 15;
  auto started = Datastore::start(o);
  REQUIRE(started.ok());
  Datastore& running = *started->datastore;
  auto rw = *running.context(datastore.rw().name);
  auto tenant = open_or_create(*rw, "t");
  REQUIRE(tenant.ok());

  test::query("", "ALTER ROLE \"" + datastore.rw().role + "\" NOLOGIN");
  CHECK(store::postgres::test::terminate_sessions(application_name(o, datastore.rw())) > 0);
  REQUIRE(eventually([&] { return rw->state() == State::not_ready; }, 10s));
  {
    // About 15 probes of 10..80 ms each go by before the context parks: this
    // call waits its full call_wait_max unless parking cuts the wait short.
    const auto before = Clock::now();
    auto waited = tenant->begin(store::Mode::snapshot);
    const auto elapsed = Clock::now() - before;
    REQUIRE_FALSE(waited.ok());
    INFO("waited ", std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), " ms: ",
         waited.error().message());
    CHECK(store::is(waited.error(), store::errc::unavailable));
    CHECK((elapsed >= 390ms || waited.error().detail.find("parked") != std::string::npos));
    CHECK(elapsed < 400ms + 1s);
  }
  REQUIRE(eventually([&] { return rw->state() == State::parked; }, 10s));
  INFO("parked: ", rw->reason());
  CHECK(rw->reason().find("15 failed probes") != std::string::npos);
  CHECK(rw->reason().find("not permitted to log in") != std::string::npos);
  const auto before = Clock::now();
  auto refused = tenant->begin(store::Mode::snapshot);
  REQUIRE_FALSE(refused.ok());
  CHECK(store::is(refused.error(), store::errc::unavailable));
  CHECK(refused.error().detail.find("parked") != std::string::npos);
  CHECK(Clock::now() - before < 300ms);
  CHECK(rw->metrics().wait_failures > 0);

  test::query("", "ALTER ROLE \"" + datastore.rw().role + "\" LOGIN");
  REQUIRE(running.start_context(datastore.rw().name).ok());
  CHECK(rw->state() == State::ready);
  CHECK(tenant->run([](store::TenantTransaction& t) { return t.set(store::Tuple{"after"}, "1"); }).ok());
}

TEST_CASE("a server restart under a write loop: both contexts not_ready, then ready, no acknowledged write lost") {
  // Proves supervision across a real server restart (pg_ctl restart -m immediate), when the tests own the server.
  const std::string restart = store::postgres::test::restart_command();
  if (restart.empty()) {
    MESSAGE("PLEXUS_TEST_POSTGRES_RESTART not set: the server is not ours to restart; skipped");
    return;
  }
  TestDatastore datastore;
  auto started = Datastore::start(datastore.options());
  REQUIRE(started.ok());
  auto rw = *started->datastore->context(datastore.rw().name);
  auto ro = *started->datastore->context(datastore.ro().name);
  auto tenant = open_or_create(*rw, "restart");
  REQUIRE(tenant.ok());
  WriteLoop loop(*tenant);
  REQUIRE(eventually([&] { return loop.acknowledged() >= 20; }, 10s));
  const auto rw_before = rw->metrics().supervisor.not_ready;
  const auto ro_before = ro->metrics().supervisor.not_ready;
  REQUIRE(std::system(restart.c_str()) == 0);  // back up when it returns
  REQUIRE(eventually([&] {
    return rw->metrics().supervisor.not_ready > rw_before && rw->state() == State::ready &&
           ro->metrics().supervisor.not_ready > ro_before && ro->state() == State::ready;
  }, 20s));
  const int acked_at_ready = loop.acknowledged();
  CHECK(eventually([&] { return loop.acknowledged() >= acked_at_ready + 20; }, 10s));
  loop.stop();
  for (const auto& [code, count] : loop.failures()) MESSAGE("write failures across the restart: ", code, " x", count);
  all_acknowledged_present(*tenant, loop);
}

TEST_CASE("a datastore whose server is down starts some_started, retries with backoff, and parks with the reason") {
  // Proves a server that is down at start is supervised like a dropped connection: not_ready with the
  // reason at once, probes retried with backoff, parked after park_failures_max failures, calls never hang.
  DatastoreOptions o = test::fresh_options();
  o.location = "host=127.0.0.1 port=1 connect_timeout=2";
  o.supervision.backoff_initial = 20ms;
  o.supervision.backoff_max = 80ms;
  o.supervision.park_failures_max = 6;
  const auto before = Clock::now();
  auto started = Datastore::start(o);
  REQUIRE(started.ok());
  CHECK(started->outcome == StartOutcome::some_started);
  CHECK(Clock::now() - before < 30s);
  auto rw = *started->datastore->context(o.contexts[1].name);
  for (const auto& status : started->contexts) {
    if (status.kind != Kind::login) continue;
    INFO(status.name, ": ", status.reason);
    CHECK((status.state == State::not_ready || status.state == State::parked));
    CHECK(status.reason.find("cannot connect") != std::string::npos);
    CHECK(status.reason.find(test::password_of(o.contexts[1])) == std::string::npos);
  }
  REQUIRE(eventually([&] { return rw->state() == State::parked; }, 20s));
  INFO("parked: ", rw->reason());
  CHECK(rw->reason().find("6 failed probes") != std::string::npos);
  CHECK(rw->reason().find("cannot connect") != std::string::npos);
  CHECK(rw->metrics().supervisor.probe_failures == 6);
  // The probes were spread by the backoff: the first and the sixth failure are >= 4 x 10 ms apart.
  const auto history = rw->transitions();
  REQUIRE(!history.empty());
  CHECK(history.back().to == State::parked);
  CHECK(history.back().at - history.front().at >= 40ms);
  // A call through a parked context fails at once.
  auto opened = open(*rw, "t");
  REQUIRE_FALSE(opened.ok());
  CHECK(store::is(opened.error(), store::errc::unavailable));
}

TEST_CASE("a context whose server starts after it: not_ready, retried, ready by itself, then serves") {
  // Proves a context started while its PostgreSQL server is down reconnects on its own once the server
  // comes up (a real server of the test's own, stopped and started with pg_ctl), with no start_context.
  test::PrivateServer server;
  if (!server.available()) {
    MESSAGE("no PostgreSQL server binaries (PLEXUS_PG_BIN): skipped");
    return;
  }
  server.start();
  DatastoreOptions o = test::fresh_options();
  o.location = server.conninfo();
  o.admin_credential = {CredentialSource::From::env, test::PrivateServer::password_env};
  o.supervision.backoff_max = 200ms;
  o.supervision.park_failures_max = 10'000;  // it must not park while the server is down on purpose
  REQUIRE(create_datastore(o).ok());
  server.stop();

  auto started = Datastore::start(o);
  REQUIRE(started.ok());
  CHECK(started->outcome == StartOutcome::some_started);
  auto rw = *started->datastore->context(o.contexts[1].name);
  auto ro = *started->datastore->context(o.contexts[2].name);
  CHECK(rw->state() == State::not_ready);
  CHECK(rw->reason().find("cannot connect") != std::string::npos);
  // Still down: a call waits call_wait_max (1 s), then fails unavailable.
  const auto call_at = Clock::now();
  auto down = open_or_create(*rw, "t");
  REQUIRE_FALSE(down.ok());
  CHECK(store::is(down.error(), store::errc::unavailable));
  CHECK(Clock::now() - call_at < 3s);
  REQUIRE(eventually([&] { return rw->metrics().supervisor.probe_failures >= 3; }, 10s));
  CHECK(rw->state() == State::not_ready);

  server.start();
  REQUIRE(eventually([&] { return rw->state() == State::ready && ro->state() == State::ready; }, 20s));
  CHECK(rw->transitions().back().to == State::ready);
  auto tenant = open_or_create(*rw, "t");
  REQUIRE(tenant.ok());
  REQUIRE(tenant->run([](store::TenantTransaction& t) { return t.set(store::Tuple{"k"}, "v"); }).ok());
  auto through_ro = open(*ro, "t");
  REQUIRE(through_ro.ok());
  auto read = through_ro->begin(store::Mode::snapshot);
  REQUIRE(read.ok());
  auto value = read->get(store::Tuple{"k"});
  REQUIRE(value.ok());
  CHECK(value->value_or("") == "v");
  started->datastore->stop();
  CHECK(drop_datastore(o).ok());
}

}  // namespace
}  // namespace plexus::context
