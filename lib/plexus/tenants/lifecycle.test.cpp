// Tests of Lifecycle's life cycle commands on one node: every install,
// update and uninstall result of the seed, sync and async, with the exact
// replies, status transitions and events.
#include <doctest/doctest.h>

#include "plexus/tenants/test_driver.hpp"

namespace plexus::tenants {
namespace {

using test::Driver;
using test::is_error;
using test::ScriptModule;
using Kind = Reply::Kind;
using namespace std::chrono_literals;

TEST_CASE("lifecycle: the seed's MyTenant installs, runs and answers ping with pong") {
  // Proves install ok -> snapshot, install event, run, running, and a call answered.
  test::PingModule module;
  Driver d(module);
  CHECK(d.core.status() == Status::pending);
  d.install(1);
  CHECK(d.reply_to(1).kind == Kind::ok);
  CHECK(d.core.status() == Status::running);
  CHECK(d.callbacks() == std::vector<Callback>{Callback::install, Callback::run});
  CHECK(d.snapshots == std::vector<Bytes>{"{}"});
  REQUIRE(d.events.size() == 1);
  CHECK((d.events[0].kind == EventKind::install && d.events[0].ok && d.events[0].key == "t1:7:1"));
  d.call(2, "ping");
  CHECK(d.reply_to(2).value == "pong");
}

TEST_CASE("lifecycle: a synchronous install error removes the tenant and reports the reason") {
  // Proves install -> error(reason) replies module_error with the reason, emits the event, and leaves nothing.
  ScriptModule module;
  module.on_install = [](const Tenant&) { return Outcome::error("no quota"); };
  Driver d(module);
  d.install(1);
  const auto reply = d.reply_to(1);
  CHECK(is_error(reply, errc::module_error));
  CHECK(reply.error.detail == "no quota");
  CHECK(d.core.status() == Status::uninstalled);
  CHECK(d.stopped);
  REQUIRE(d.events.size() == 1);
  CHECK((d.events[0].kind == EventKind::install && !d.events[0].ok && d.events[0].reason == "no quota"));
  d.call(2, "get");
  CHECK(is_error(d.reply_to(2), errc::tenant_not_found));
}

TEST_CASE("lifecycle: an async install answers async at once; calls wait for run, then are answered") {
  // Proves async(work) replies `async`, runs the work off the strand, and applies its state on completion.
  ScriptModule module;
  module.on_install = [](const Tenant&) { return Outcome::async([] { return AsyncResult::success("40"); }); };
  Driver d(module);
  d.install(1);
  CHECK(d.reply_to(1).kind == Kind::async);
  CHECK(d.core.status() == Status::installing);
  REQUIRE(d.pending_async.size() == 1);
  d.call(2, "get");
  CHECK_FALSE(d.replied(2));  // no state yet: the call waits in the mailbox
  d.finish_async();
  CHECK(d.core.status() == Status::running);
  CHECK(d.reply_to(2).value == "40");
  CHECK(d.snapshots.front() == "40");
  REQUIRE(d.events.size() == 1);
  CHECK(d.events[0].ok);
}

TEST_CASE("lifecycle: an async install error parks the tenant in error_occurred until uninstalled") {
  // Proves a failed async install stays visible (error_occurred, event), refuses calls, and uninstalls cleanly.
  ScriptModule module;
  module.on_install = [](const Tenant&) { return Outcome::async([] { return AsyncResult::failure("disk full"); }); };
  Driver d(module);
  d.install(1);
  d.finish_async();
  CHECK(d.core.status() == Status::error_occurred);
  CHECK(d.core.parked());
  CHECK(d.core.last_error() == "disk full");
  REQUIRE(d.events.size() == 1);
  CHECK((!d.events[0].ok && d.events[0].reason == "disk full"));
  d.call(2, "get");
  CHECK(is_error(d.reply_to(2), errc::unavailable));
  d.update(3, "x", 2);
  CHECK(is_error(d.reply_to(3), errc::unavailable));
  d.uninstall(4);
  CHECK(d.reply_to(4).kind == Kind::ok);
  CHECK(d.core.status() == Status::uninstalled);
  CHECK(d.stopped);
}

TEST_CASE("lifecycle: install is already_exists while present or being uninstalled; update/uninstall tenant_not_found after") {
  // Proves the seed's command errors in every status they apply to.
  ScriptModule module;
  module.on_uninstall = [](Bytes) { return Outcome::async([] { return AsyncResult::success("gone"); }); };
  Driver d(module);
  d.install(1);
  d.install(2);
  CHECK(is_error(d.reply_to(2), errc::already_exists));
  d.uninstall(3);
  CHECK(d.reply_to(3).kind == Kind::async);
  CHECK(d.core.status() == Status::uninstalling);
  d.install(4);
  CHECK(is_error(d.reply_to(4), errc::already_exists));
  d.update(5, "x", 2);
  CHECK(is_error(d.reply_to(5), errc::tenant_not_found));
  d.uninstall(6);
  CHECK(is_error(d.reply_to(6), errc::tenant_not_found));
  d.finish_async();
  CHECK(d.core.status() == Status::uninstalled);
  d.update(7, "x", 2);
  CHECK(is_error(d.reply_to(7), errc::tenant_not_found));
  CHECK(d.reply_to(7).error.detail == "update: tenant 't1' is uninstalled");
}

TEST_CASE("lifecycle: a slow synchronous install is answered async at its deadline, and ends with an event") {
  // Proves the seed's gap is closed: the caller never times out while the install goes on.
  ScriptModule module;
  Driver d(module);
  d.hold = Callback::install;
  d.install(1, 2s);
  CHECK_FALSE(d.replied(1));
  d.advance(2s);
  CHECK(d.reply_to(1).kind == Kind::async);
  CHECK(d.core.status() == Status::installing);
  d.release();
  CHECK(d.core.status() == Status::running);
  CHECK(d.replies.size() == 1);  // one answer per call
  REQUIRE(d.events.size() == 1);
  CHECK(d.events[0].ok);
}

TEST_CASE("lifecycle: run error keeps the tenant alive in error_occurred with an event") {
  // Proves run -> error(reason, state) records error_occurred, emits it, and calls still see the state.
  ScriptModule module;
  module.on_run = [](Bytes state) { return RunOutcome::failure("degraded", state + "!"); };
  Driver d(module);
  d.install(1);
  CHECK(d.core.status() == Status::error_occurred);
  CHECK_FALSE(d.core.parked());
  REQUIRE(d.events.size() == 2);
  CHECK((d.events[1].kind == EventKind::error_occurred && d.events[1].reason == "degraded"));
  d.call(2, "get");
  CHECK(d.reply_to(2).value == "0!");
}

TEST_CASE("lifecycle: update ok, error and async, with status, generation, snapshot and events") {
  // Proves each update result's reply, status (updating recorded) and event; calls go on during async work.
  ScriptModule module;
  Driver d(module);
  d.install(1);
  d.update(2, "a", 2);
  CHECK(d.reply_to(2).kind == Kind::ok);
  CHECK(d.core.tenant().generation == 2);
  CHECK(d.core.tenant().config.config["tag"] == "a");
  CHECK(d.snapshots.back() == "0+a");
  CHECK((d.events.back().kind == EventKind::update && d.events.back().ok && d.events.back().generation == 2));

  module.on_update = [](const Config&, Bytes) { return Outcome::error("bad tag"); };
  d.update(3, "b", 3);
  CHECK(is_error(d.reply_to(3), errc::module_error));
  CHECK(d.core.status() == Status::running);
  CHECK(d.core.tenant().generation == 2);
  CHECK((!d.events.back().ok && d.events.back().reason == "bad tag"));

  module.on_update = [](const Config& next, Bytes state) {
    return Outcome::async([=] { return AsyncResult::success(state + "~" + next.config.value("tag", "")); });
  };
  d.update(4, "c", 4);
  CHECK(d.reply_to(4).kind == Kind::async);
  CHECK(d.core.status() == Status::updating);
  d.call(5, "get");
  CHECK(d.reply_to(5).value == "0+a");  // the tenant keeps answering with its current state
  d.update(6, "d", 5);
  CHECK_FALSE(d.replied(6));  // a second update waits for the first
  d.finish_async();
  CHECK(d.core.tenant().generation == 4);
  CHECK(d.reply_to(6).kind == Kind::async);
  d.finish_async();
  CHECK(d.core.tenant().generation == 5);
  CHECK(d.core.status() == Status::running);
  d.call(7, "get");
  CHECK(d.reply_to(7).value == "0+a~c~d");
}

TEST_CASE("lifecycle: uninstall ok runs terminate and fails queued calls; error keeps the tenant") {
  // Proves uninstall -> error leaves it running; ok -> terminate("uninstall"), uninstalled, event, stopped.
  ScriptModule module;
  Driver d(module);
  d.install(1);
  module.on_uninstall = [](Bytes) { return Outcome::error("busy"); };
  d.uninstall(2);
  CHECK(is_error(d.reply_to(2), errc::module_error));
  CHECK(d.core.status() == Status::running);
  CHECK((d.events.back().kind == EventKind::uninstall && !d.events.back().ok));
  module.on_uninstall = [](Bytes state) { return Outcome::ok(std::move(state)); };
  d.hold = Callback::uninstall;
  d.uninstall(3);
  d.call(4, "get");  // queued behind the uninstall
  d.release();
  CHECK(d.reply_to(3).kind == Kind::ok);
  CHECK(is_error(d.reply_to(4), errc::tenant_not_found));
  CHECK(module.terminated == std::vector<std::string>{"uninstall"});
  CHECK(d.core.status() == Status::uninstalled);
  CHECK((d.events.back().kind == EventKind::uninstall && d.events.back().ok));
  CHECK(d.stopped);
}

TEST_CASE("lifecycle: resume runs with the snapshot it is given, without install") {
  // Proves a handoff or failover starts from the last snapshot, never from nothing.
  ScriptModule module;
  Driver d(module);
  d.core.resume("41", d.now);
  d.drain();
  CHECK(d.callbacks() == std::vector<Callback>{Callback::run});
  CHECK(d.invoked[0].state == "41");
  CHECK(d.core.status() == Status::running);
  d.call(1, "inc");
  CHECK(d.reply_to(1).value == "42");
}

TEST_CASE("lifecycle: while resuming, install is already_exists and an update waits for run") {
  // Proves a resumed tenant counts as present from the moment resume() is called.
  ScriptModule module;
  Driver d(module);
  d.hold = Callback::run;
  d.core.resume("5", d.now);
  d.drain();
  CHECK(d.core.status() == Status::pending);
  d.install(1);
  CHECK(is_error(d.reply_to(1), errc::already_exists));
  d.update(2, "u", 9);
  CHECK_FALSE(d.replied(2));
  d.release();
  CHECK(d.reply_to(2).kind == Kind::ok);
  d.call(3, "get");
  CHECK(d.reply_to(3).value == "5+u");
  Driver fresh(module);
  fresh.update(4, "u", 2);
  CHECK(is_error(fresh.reply_to(4), errc::tenant_not_found));
}

TEST_CASE("lifecycle: stop() terminates, snapshots the state for the next owner and fails waiting calls") {
  // Proves the graceful stop of a handoff: terminate(reason), a final snapshot, `stopped` to noreply callers.
  ScriptModule module;
  Driver d(module);
  d.install(1);
  d.call(2, "inc");
  d.call(3, "noreply");
  d.core.stop("handoff", d.now);
  d.drain();
  CHECK(module.terminated == std::vector<std::string>{"handoff"});
  CHECK(d.snapshots.back() == "1");
  CHECK(is_error(d.reply_to(3), errc::stopped));
  CHECK(d.stopped);
  CHECK(d.core.gone());
  d.call(4, "get");  // the tenant runs elsewhere now
  CHECK(is_error(d.reply_to(4), errc::unavailable));
  d.install(5);
  CHECK(is_error(d.reply_to(5), errc::already_exists));
}

TEST_CASE("lifecycle: async work still running at stop() is dropped; its late completion changes nothing") {
  // Proves a handed-off tenant never runs again here, whatever its pool work does afterwards.
  ScriptModule module;
  module.on_update = [](const Config&, Bytes) { return Outcome::async([] { return AsyncResult::success("late"); }); };
  Driver d(module);
  d.install(1);
  d.update(2, "x", 2);
  CHECK(d.reply_to(2).kind == Kind::async);
  d.core.stop("handoff", d.now);
  d.drain();
  const auto invoked = d.invoked.size();
  d.finish_async();
  CHECK(d.invoked.size() == invoked);
  CHECK(d.errors.size() == 1);
  CHECK(d.snapshots.back() == "0");
}

}  // namespace
}  // namespace plexus::tenants
