// Tests of the local tenant host's failure handling on a real pool over real
// LMDB files: a throw in each callback, restart backoff and budget, the last
// snapshot restored on restart and on a second host (handoff), a fenced stale
// owner, and a callback that never returns.
#include <doctest/doctest.h>

#include <asio/post.hpp>

#include <thread>

#include "plexus/tenants/local_test_support.hpp"

namespace plexus::tenants {
namespace {

using namespace local_test;
using store::tenant_test::Fixture;
using store::tenant_test::Store;
using Kind = Reply::Kind;
using S = Status;

TEST_CASE("local: a throw in install, run, update, call, cast or terminate costs only that tenant") {
  // Proves every throwing callback is caught by the host and fed to the core: install fails typed, others restart.
  Fixture f;
  if (!f.database) return;
  Node node(f.database, quick_options("node-a"));
  REQUIRE(node.start("bystander").value() == Kind::ok);
  node.counter->on_install = [](const Tenant&) -> Outcome { throw std::runtime_error("install boom"); };
  auto threw = node.start("t-install");
  CHECK(code_of(threw) == errc::callback_threw);
  CHECK(threw.error().detail.find("install boom") != std::string::npos);
  node.counter->on_install = [](const Tenant&) { return Outcome::ok("0"); };

  REQUIRE(node.start("t1").value() == Kind::ok);
  CHECK(node.call("t1", "inc").value() == "1");
  auto call_threw = node.call("t1", "throw");
  CHECK(code_of(call_threw) == errc::callback_threw);
  CHECK(node.call("t1", "get").value() == "1");  // restarted from its snapshot

  node.counter->on_update = [](const Config&, Bytes) -> Outcome { throw std::runtime_error("update boom"); };
  CHECK(code_of(node.update("t1", 2)) == errc::callback_threw);
  CHECK(node.call("t1", "get").value() == "1");

  node.host->cast("t1", "throw");
  REQUIRE(node.events.wait([](const std::vector<LocalEvent>&) { return true; }));
  CHECK(node.call("t1", "get").value() == "1");  // the cast crash restarted it; the call waited for the restart
  auto status = node.host->status("t1");
  REQUIRE(status.ok());
  CHECK(status->counters.crashes >= 3);
  CHECK(status->counters.restarts >= 3);

  node.counter->terminate_throws = true;
  REQUIRE(node.stop("t1", "handoff").value() == Kind::ok);  // a throwing terminate does not block the stop
  CHECK(node.events.stopped("t1") == "handoff");
  CHECK(node.call("bystander", "get").value() == "0");
}

TEST_CASE("local: restart backoff spaces the restarts and the budget parks the tenant with an event") {
  // Proves the shell's timers drive the core's backoff (jitter 0: at least initial x 2^(n-1)) and parking.
  Fixture f;
  if (!f.database) return;
  auto options = quick_options("node-a");
  options.lifecycle.restart_backoff_initial = 40ms;
  options.lifecycle.restart_backoff_max = 1'000ms;
  options.lifecycle.restart_jitter = 0;
  options.lifecycle.restarts_max = 2;
  Node node(f.database, options);
  std::mutex mutex;
  std::vector<std::chrono::steady_clock::time_point> runs;
  node.counter->on_run = [&](Bytes) -> RunOutcome {
    {
      std::lock_guard lock(mutex);
      runs.push_back(std::chrono::steady_clock::now());
    }
    throw std::runtime_error("run boom");
  };
  REQUIRE(node.start("t1").value() == Kind::ok);
  REQUIRE(node.events.reached("t1", S::error_occurred, 5'000ms));
  auto status = node.host->status("t1");
  REQUIRE(status.ok());
  CHECK(status->parked);
  CHECK(status->last_error.find("run boom") != std::string::npos);
  CHECK(code_of(node.call("t1", "get")) == errc::unavailable);
  std::lock_guard lock(mutex);
  REQUIRE(runs.size() == 3);  // the first run, then restarts_max restarts
  CHECK(runs[1] - runs[0] >= 40ms);
  CHECK(runs[2] - runs[1] >= 80ms);
  bool parked_event = false;
  for (const auto& e : node.events.all()) {
    parked_event = parked_event || (e.kind == LocalEvent::Kind::lifecycle && e.event.kind == EventKind::error_occurred);
  }
  CHECK(parked_event);
}

TEST_CASE("local: a restart runs with the last snapshot, not nothing") {
  // Proves state survives a crash: run gets the state the last snapshotting result persisted.
  Fixture f;
  if (!f.database) return;
  Node node(f.database, quick_options("node-a"));
  REQUIRE(node.start("t1").value() == Kind::ok);
  for (int i = 1; i <= 3; ++i) CHECK(node.call("t1", "inc").value() == std::to_string(i));
  CHECK(code_of(node.call("t1", "stop")) == errc::ok);  // stop with a reply: terminate, then restart
  CHECK(node.call("t1", "get").value() == "3");
  auto runs = node.counter->runs();
  REQUIRE(runs.size() == 2);
  CHECK(runs[0] == "0");
  CHECK(runs[1] == "3");
}

TEST_CASE("local: stop hands off: a second host over the same LMDB files resumes with the state") {
  // Proves a graceful stop snapshots and releases the lease, and resume on another host continues the state.
  Fixture f;
  if (!f.database) return;
  {
    Node a(f.database, quick_options("node-a"));
    REQUIRE(a.start("t1").value() == Kind::ok);
    CHECK(a.call("t1", "inc").value() == "1");
    CHECK(a.call("t1", "inc").value() == "2");
    REQUIRE(a.stop("t1", "handoff").value() == Kind::ok);
    CHECK(a.events.stopped("t1") == "handoff");
    CHECK(a.counter->terminated() == std::vector<std::string>{"handoff"});
    CHECK(code_of(a.call("t1", "get")) == errc::tenant_not_found);
  }
  Node b(Store::open(), quick_options("node-b"));
  CHECK(code_of(b.start("never-installed", StartMode::resume)) == errc::tenant_not_found);
  REQUIRE(b.start("t1", StartMode::resume).value() == Kind::ok);
  CHECK(b.call("t1", "get").value() == "2");
  CHECK(b.counter->runs() == std::vector<std::string>{"2"});
  CHECK(b.host->status("t1")->epoch == 2);
  CHECK(b.call("t1", "inc").value() == "3");
}

TEST_CASE("local: a stale owner cannot write: the new owner takes over after lease expiry, the old one is fenced") {
  // Proves the SIGSTOP scenario in process: a paused host's snapshot write is refused and it stops with `fenced`.
  Fixture f;
  if (!f.database) return;
  auto options = quick_options("node-a");
  options.lease_ttl = 300ms;
  options.lease_renew_interval = 100ms;
  Node a(f.database, options, 1);
  REQUIRE(a.start("t1").value() == Kind::ok);
  CHECK(a.call("t1", "inc").value() == "1");
  Gate paused;
  asio::post(a.pool, [&] { paused.pass(); });  // A's only pool thread: no renewal, no callback runs
  REQUIRE(paused.wait_blocked());
  auto stale = a.call_later("t1", "inc", 10'000ms);

  Node b(Store::open(), quick_options("node-b"));
  Result<Reply::Kind> taken = make_error(errc::lease_held);
  for (int attempt = 0; attempt < 250 && !taken.ok(); ++attempt) {
    taken = b.start("t1", StartMode::resume);
    if (!taken.ok()) {
      REQUIRE(code_of(taken) == errc::lease_held);
      std::this_thread::sleep_for(20ms);  // polling the lease's expiry (300 ms), not a synchronisation
    }
  }
  REQUIRE(taken.ok());
  CHECK(b.call("t1", "inc").value() == "2");

  paused.open();
  auto refused = await(stale);
  CHECK(code_of(refused) == errc::stopped);
  CHECK(a.events.stopped("t1").rfind("fenced", 0) == 0);
  CHECK(a.host->counters().fenced == 1);
  CHECK(b.call("t1", "get").value() == "2");  // nothing of A's after the takeover
  REQUIRE(b.stop("t1").value() == Kind::ok);
  Node c(Store::open(), quick_options("node-c"));
  REQUIRE(c.start("t1", StartMode::resume).value() == Kind::ok);
  CHECK(c.call("t1", "get").value() == "2");
}

TEST_CASE("local: a callback that never returns blocks only its tenant; the host's timer answers timeout") {
  // Proves deadlines hold while a strand is stuck: calls and stop get `timeout`; other tenants answer.
  Fixture f;
  if (!f.database) return;
  Node node(f.database, quick_options("node-a"), 2);
  REQUIRE(node.start("t1").value() == Kind::ok);
  REQUIRE(node.start("t2").value() == Kind::ok);
  auto hung = node.call_later("t1", "hang", 10'000ms);
  REQUIRE(node.counter->hang.wait_blocked());
  const auto before = std::chrono::steady_clock::now();
  CHECK(code_of(node.call("t1", "get", 100ms)) == errc::timeout);
  CHECK(std::chrono::steady_clock::now() - before < 2'000ms);
  CHECK(node.call("t2", "inc").value() == "1");
  CHECK(code_of(node.stop("t1", "shutdown", 100ms)) == errc::timeout);
  CHECK(code_of(node.call("t1", "get")) == errc::stopped);  // intake closed by stop
  node.counter->hang.open();
  CHECK(await(hung).value() == "?");
  CHECK(node.events.stopped("t1") == "shutdown");  // the stop goes on once the callback returns
  CHECK(node.host->counters().calls_timed_out == 1);
}

}  // namespace
}  // namespace plexus::tenants
