// Tests of Lifecycle under failure and time: a crash in each callback, the
// restart backoff and budget, state restored from the last snapshot, call
// deadlines, late replies, extra (continue, timeout, hibernate), async work
// that overruns, and the event outbox's at-least-once delivery.
#include <doctest/doctest.h>

#include "plexus/tenants/test_driver.hpp"

namespace plexus::tenants {
namespace {

using test::Driver;
using test::is_error;
using test::ScriptModule;
using Kind = Reply::Kind;
using namespace std::chrono_literals;

TEST_CASE("lifecycle: a throwing install fails only that tenant, with callback_threw") {
  // Proves a crash in install answers the caller with the exception text and removes the tenant.
  ScriptModule module;
  module.on_install = [](const Tenant&) -> Outcome { throw std::runtime_error("no db"); };
  Driver d(module);
  d.install(1);
  CHECK(is_error(d.reply_to(1), errc::callback_threw));
  CHECK(d.reply_to(1).error.detail == "install threw: no db");
  CHECK(d.core.status() == Status::uninstalled);
}

TEST_CASE("lifecycle: a crash in call restarts the tenant from its last snapshot after a backoff") {
  // Proves the caller gets callback_threw, noreply callers get stopped, and run receives the snapshot, not nothing.
  ScriptModule module;
  LifecycleOptions options;
  options.restart_jitter = 0;
  Driver d(module, options);
  d.install(1);
  d.call(2, "inc");  // 1, snapshotted
  d.call(3, "noreply");
  d.call(4, "throw");
  CHECK(is_error(d.reply_to(4), errc::callback_threw));
  CHECK(is_error(d.reply_to(3), errc::stopped));
  d.call(5, "get");
  CHECK_FALSE(d.replied(5));  // waits for the restart
  CHECK(d.core.next_deadline() == d.now + 100ms);
  d.advance(100ms);
  CHECK(d.invoked.back().callback != Callback::install);
  CHECK(d.reply_to(5).value == "1");
  CHECK(d.core.counters().restarts == 1);
  CHECK(d.core.status() == Status::running);
}

TEST_CASE("lifecycle: a crash in run, cast, info, continue or update restarts the tenant") {
  // Proves every callback's throw is a crash of the tenant alone, followed by a restart.
  for (const std::string where : {"run", "cast", "info", "continue", "update"}) {
    INFO("crash in ", where);
    ScriptModule module;
    LifecycleOptions options;
    options.restart_jitter = 0;
    Driver d(module, options);
    bool once = true;
    auto crash_once = [&]() { if (std::exchange(once, false)) throw std::runtime_error(where + " failed"); };
    if (where == "run") module.on_run = [&](Bytes s) { crash_once(); return RunOutcome::success(s); };
    if (where == "info") module.on_info = [&](const Info&, Bytes s) { crash_once(); return MessageOutcome::noreply(s); };
    if (where == "continue") module.on_continue_fn = [&](const Bytes&, Bytes s) { crash_once(); return MessageOutcome::noreply(s); };
    if (where == "update") module.on_update = [&](const Config&, Bytes s) { crash_once(); return Outcome::ok(s); };
    d.install(1);
    if (where == "cast") d.core.cast("throw", d.now);
    if (where == "info") d.core.info("hello", d.now);
    if (where == "continue") {
      module.on_info = [](const Info&, Bytes s) { return MessageOutcome::noreply(s, Extra::continue_with("c")); };
      d.core.info("go", d.now);
    }
    if (where == "update") {
      d.update(2, "x", 2);
      CHECK(is_error(d.reply_to(2), errc::callback_threw));
      CHECK((d.events.back().kind == EventKind::update && !d.events.back().ok));
    }
    d.drain();
    CHECK(d.core.counters().crashes == 1);
    CHECK(d.core.last_error().find(where == "continue" ? "continue threw" : where) != std::string::npos);
    d.advance(100ms);
    CHECK(d.core.counters().restarts == 1);
    CHECK(d.invoked.back().callback == Callback::run);
    CHECK(d.invoked.back().state == "0");
    CHECK(d.core.status() == Status::running);
  }
}

TEST_CASE("lifecycle: stop from call answers, terminates with the reason, then restarts; a throwing terminate is ignored") {
  // Proves stop(reason, reply, state): the reply first, terminate(reason), then a counted restart.
  ScriptModule module;
  module.terminate_throws = true;
  Driver d(module);
  d.install(1);
  d.call(2, "stop");
  CHECK(d.reply_to(2).value == "bye");
  CHECK(module.terminated == std::vector<std::string>{"asked to stop"});
  CHECK(d.core.counters().crashes == 1);
  d.advance_to_next();
  CHECK(d.core.counters().restarts == 1);
  CHECK(d.core.status() == Status::running);
}

TEST_CASE("lifecycle: restart backoff doubles with jitter below restart_jitter, then the budget parks the tenant") {
  // Proves the backoff schedule and the restart budget: more than restarts_max crashes in the window park it.
  ScriptModule module;
  module.on_run = [](Bytes) -> RunOutcome { throw std::runtime_error("always"); };
  LifecycleOptions options;
  options.restarts_max = 4;
  options.restart_window = 60s;
  Driver d(module, options, 99);
  d.install(1);
  std::vector<Time> delays;
  for (int i = 0; i < 4; ++i) {
    const Time crashed = d.now;
    d.advance_to_next();
    delays.push_back(d.now - crashed);
  }
  for (std::size_t i = 0; i < delays.size(); ++i) {
    const Time full = std::chrono::duration_cast<Time>(100ms * (1 << i));
    INFO("restart ", i, " after ", delays[i].count(), " ns");
    CHECK(delays[i] <= full);
    CHECK(delays[i] > full / 2);
  }
  CHECK(d.core.parked());
  CHECK(d.core.status() == Status::error_occurred);
  CHECK((d.events.back().kind == EventKind::error_occurred && d.events.back().reason.rfind("restart budget spent: 5 crashes", 0) == 0));
  d.call(2, "get");
  CHECK(is_error(d.reply_to(2), errc::unavailable));
  // An update repairs it: a fresh budget and a run with the new state.
  module.on_run = [](Bytes s) { return RunOutcome::success(s); };
  d.update(3, "fixed", 2);
  CHECK(d.reply_to(3).kind == Kind::ok);
  CHECK(d.core.status() == Status::running);
  CHECK_FALSE(d.core.parked());
  d.call(4, "get");
  CHECK(d.reply_to(4).value == "0+fixed");
}

TEST_CASE("lifecycle: crashes spread wider than the window never park the tenant") {
  // Proves the budget counts crashes within restart_window only.
  ScriptModule module;
  LifecycleOptions options;
  options.restarts_max = 2;
  options.restart_window = 10s;
  Driver d(module, options);
  d.install(1);
  for (std::uint64_t i = 0; i < 6; ++i) {
    d.call(10 + i, "throw");
    d.advance(11s);
    CHECK_FALSE(d.core.parked());
    CHECK(d.core.status() == Status::running);
  }
  CHECK(d.core.counters().restarts == 6);
}

TEST_CASE("lifecycle: a call waiting behind a slow callback times out and is never run") {
  // Proves deadlines: timeout at the deadline, the stale call dropped, one reply per call.
  ScriptModule module;
  Driver d(module);
  d.install(1);
  d.hold = Callback::call;
  d.call(2, "get", 10s);
  d.call(3, "inc", 1s);
  d.advance(1s);
  CHECK(is_error(d.reply_to(3), errc::timeout));
  d.release();
  CHECK(d.reply_to(2).value == "0");
  d.call(4, "get");
  CHECK(d.reply_to(4).value == "0");  // "inc" never ran
  CHECK(d.core.counters().calls_timed_out == 1);
  d.call(5, "get", 0s);
  CHECK(is_error(d.reply_to(5), errc::timeout));
}

TEST_CASE("lifecycle: a slow update or uninstall is answered async at its deadline; a slow call times out") {
  // Proves the deadline rule for each kind of command whose callback is still running.
  ScriptModule module;
  Driver d(module);
  d.install(1);
  d.hold = Callback::update;
  d.update(2, "slow", 2, 1s);
  d.advance(1s);
  CHECK(d.reply_to(2).kind == Kind::async);
  CHECK(d.core.status() == Status::updating);
  d.release();
  CHECK(d.reply_to(2).kind == Kind::async);  // still the one reply
  CHECK((d.events.back().kind == EventKind::update && d.events.back().ok));
  CHECK(d.core.status() == Status::running);
  d.hold = Callback::call;
  d.call(3, "get", 1s);
  d.advance(1s);
  CHECK(is_error(d.reply_to(3), errc::timeout));
  d.release();
  CHECK(d.replies.size() == 3);  // the late result of call 3 is not sent
  d.hold = Callback::uninstall;
  d.uninstall(4, 1s);
  d.advance(1s);
  CHECK(d.reply_to(4).kind == Kind::async);
  d.release();
  CHECK(d.core.status() == Status::uninstalled);
  CHECK((d.events.back().kind == EventKind::uninstall && d.events.back().ok));
}

TEST_CASE("lifecycle: noreply calls are answered later through their from, once") {
  // Proves the seed's noreply + GenServer.reply, here a LateReply in a later result.
  ScriptModule module;
  Driver d(module);
  d.install(1);
  d.call(2, "noreply");
  CHECK_FALSE(d.replied(2));
  d.call(3, "answer:2");
  CHECK(d.reply_to(3).value == "answered");
  CHECK(d.reply_to(2).value == "late:0");
  d.call(4, "answer:2");
  CHECK(d.reply_to(2).value == "late:0");  // still exactly one reply
}

TEST_CASE("lifecycle: answer() replies to a noreply call from outside a callback, once, and never to a queued one") {
  // Proves GenServer.reply(from, ...) from anywhere: only a call the actor took and left unanswered is answered.
  ScriptModule module;
  Driver d(module);
  d.install(1);
  d.call(2, "noreply");
  d.core.answer(From{2}, "from the pool", d.now);
  d.drain();
  CHECK(d.reply_to(2).value == "from the pool");
  d.core.answer(From{2}, "again", d.now);
  d.drain();
  CHECK(d.reply_to(2).value == "from the pool");
  d.hold = Callback::call;
  d.call(3, "get");
  d.call(4, "get");
  d.core.answer(From{3}, "early", d.now);  // still in its callback
  d.core.answer(From{4}, "early", d.now);  // still queued
  d.drain();
  d.release();
  CHECK(d.reply_to(3).value == "0");
  CHECK(d.reply_to(4).value == "0");
}

TEST_CASE("lifecycle: extra continue runs before queued messages; timeout fires info unless a message comes; hibernate is reported") {
  // Proves each extra of the seed: continue(arg), timeout(ms), hibernate.
  ScriptModule module;
  module.on_run = [](Bytes s) { return RunOutcome::success(s, Extra::continue_with("boot")); };
  Driver d(module);
  d.install(1);
  CHECK(d.callbacks() == std::vector<Callback>{Callback::install, Callback::run, Callback::on_continue});
  d.call(2, "get");
  CHECK(d.reply_to(2).value == "0|boot");

  int timeouts = 0;
  module.on_info = [&](const Info& info, Bytes s) {
    timeouts += info.timeout ? 1 : 0;
    return MessageOutcome::noreply(s, Extra::hibernate());
  };
  module.on_continue_fn = [](const Bytes&, Bytes s) { return MessageOutcome::noreply(s, Extra::timeout(50ms)); };
  d.core.cast("x", d.now);
  d.drain();
  d.core.info("arm", d.now);
  d.drain();
  d.core.cast("y", d.now);  // cast results carry no extra: nothing armed
  d.drain();
  CHECK(d.core.next_deadline() == Time::max());
  module.on_info = [&](const Info& info, Bytes s) {
    timeouts += info.timeout ? 1 : 0;
    return MessageOutcome::noreply(s, info.timeout ? Extra::hibernate() : Extra::timeout(50ms));
  };
  d.core.info("arm", d.now);
  d.drain();
  d.advance(30ms);
  d.core.cast("z", d.now);  // a message within the timeout cancels it
  d.drain();
  d.advance(100ms);
  CHECK(timeouts == 0);
  d.core.info("arm", d.now);
  d.drain();
  d.advance(50ms);
  CHECK(timeouts == 1);
  CHECK(d.hibernated >= 1);
}

TEST_CASE("lifecycle: async work that overruns async_timeout fails its command, and a late completion is ignored") {
  // Proves async work is bounded in time: the update fails with an event, the stale completion changes nothing.
  ScriptModule module;
  module.on_update = [](const Config&, Bytes) { return Outcome::async([] { return AsyncResult::success("late"); }); };
  LifecycleOptions options;
  options.async_timeout = 2s;
  Driver d(module, options);
  d.install(1);
  d.update(2, "x", 2);
  d.advance(2s);
  CHECK(d.core.status() == Status::running);
  CHECK((d.events.back().kind == EventKind::update && d.events.back().reason == "async work timed out after 2000 ms"));
  d.finish_async();
  CHECK(d.errors.size() == 1);
  d.call(3, "get");
  CHECK(d.reply_to(3).value == "0");
}

TEST_CASE("lifecycle: events are re-emitted with backoff under the same key until acknowledged") {
  // Proves at-least-once delivery: retries keep the idempotency key, backoff doubles, an ack stops them.
  ScriptModule module;
  LifecycleOptions options;
  options.event_retry_initial = 200ms;
  options.event_retry_max = 800ms;
  Driver d(module, options);
  d.auto_ack = false;
  d.install(1);
  REQUIRE(d.events.size() == 1);
  const std::string key = d.events[0].key;
  std::vector<Time> at;
  for (int i = 0; i < 4; ++i) {
    d.advance_to_next();
    at.push_back(d.now);
  }
  CHECK(d.events.size() == 5);
  for (const auto& event : d.events) CHECK(event.key == key);
  CHECK(at == std::vector<Time>{200ms, 600ms, 1400ms, 2200ms});
  d.core.on_event_acked(d.events[0].seq, d.now);
  CHECK(d.core.outbox_size() == 0);
  CHECK(d.core.next_deadline() == Time::max());
}

TEST_CASE("lifecycle: full mailbox and full outbox refuse only the new command") {
  // Proves the named limits: mailbox_max -> mailbox_full, outbox_max -> outbox_full; the tenant goes on.
  ScriptModule module;
  LifecycleOptions options;
  options.mailbox_max = 2;
  options.outbox_max = 1;
  Driver d(module, options);
  d.auto_ack = false;
  d.install(1);
  d.update(2, "x", 2);
  CHECK(is_error(d.reply_to(2), errc::outbox_full));
  d.hold = Callback::call;
  d.call(3, "get");  // in its callback
  d.call(4, "get");  // queued
  d.call(5, "get");
  CHECK(is_error(d.reply_to(5), errc::mailbox_full));
  d.core.cast("a", d.now);
  d.core.cast("b", d.now);  // the mailbox holds 4 and a: b is dropped and reported
  d.drain();
  REQUIRE(d.errors.size() == 1);
  CHECK(is(d.errors[0], errc::mailbox_full));
  d.release();
  CHECK(d.reply_to(3).value == "0");
  CHECK(d.reply_to(4).value == "0");
  d.core.on_event_acked(1, d.now);
  d.update(7, "x", 2);
  CHECK(d.reply_to(7).kind == Kind::ok);
  d.call(8, "noreply");
  d.call(9, "noreply");
  d.call(10, "noreply");  // two calls already wait for a reply
  CHECK(is_error(d.reply_to(10), errc::mailbox_full));
  CHECK(d.reply_to(10).error.detail == "2 calls waiting for a reply");
}

}  // namespace
}  // namespace plexus::tenants
