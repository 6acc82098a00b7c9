// A synchronous driver of one Lifecycle for the tests (test-only, not
// installed): it plays the node shell's part — runs each Invoke against a real
// Module on the spot (catching what it throws), keeps async work until a test
// finishes it, and collects replies, events and snapshots — on a virtual
// clock. A ScriptModule's callbacks are std::functions a test replaces.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <stdexcept>

#include "plexus/tenants/lifecycle.hpp"
#include "plexus/tenants/test_modules.hpp"

namespace plexus::tenants::test {

using namespace std::chrono_literals;

/// A counter: the state is a decimal number. Calls: "get", "inc" (snapshots),
/// "noreply", "answer:<call>" (answers an earlier noreply with the count),
/// "stop", "throw". Every callback can be replaced.
class ScriptModule final : public Module {
 public:
  std::function<Outcome(const Tenant&)> on_install = [](const Tenant&) { return Outcome::ok("0"); };
  std::function<RunOutcome(Bytes)> on_run = [](Bytes state) { return RunOutcome::success(std::move(state)); };
  std::function<Outcome(const Config&, Bytes)> on_update = [](const Config& next, Bytes state) {
    return Outcome::ok(state + "+" + next.config.value("tag", ""));
  };
  std::function<Outcome(Bytes)> on_uninstall = [](Bytes state) { return Outcome::ok(std::move(state)); };
  std::function<MessageOutcome(const Info&, Bytes)> on_info = [](const Info&, Bytes state) {
    return MessageOutcome::noreply(std::move(state));
  };
  std::function<MessageOutcome(const Bytes&, Bytes)> on_continue_fn = [](const Bytes& arg, Bytes state) {
    return MessageOutcome::noreply(state + "|" + arg);
  };
  std::vector<std::string> terminated;  ///< reasons terminate was called with
  bool terminate_throws = false;

  std::string name() const override { return "script"; }
  Outcome install(const Tenant& tenant) override { return on_install(tenant); }
  RunOutcome run(const Tenant&, Bytes state) override { return on_run(std::move(state)); }
  Outcome update(const Config& next, const Tenant&, Bytes state) override { return on_update(next, std::move(state)); }
  Outcome uninstall(const Tenant&, Bytes state) override { return on_uninstall(std::move(state)); }
  CallOutcome call(const Bytes& request, From, const Tenant&, Bytes state) override;
  MessageOutcome cast(const Bytes& request, const Tenant&, Bytes state) override;
  MessageOutcome info(const Info& message, const Tenant&, Bytes state) override { return on_info(message, std::move(state)); }
  MessageOutcome on_continue(const Bytes& arg, const Tenant&, Bytes state) override {
    return on_continue_fn(arg, std::move(state));
  }
  void terminate(std::string_view reason, const Tenant&, const Bytes&) override {
    terminated.emplace_back(reason);
    if (terminate_throws) throw std::runtime_error("terminate failed");
  }
};

inline CallOutcome ScriptModule::call(const Bytes& request, From, const Tenant&, Bytes state) {
  if (request == "get") {
    Bytes copy = state;
    return CallOutcome::reply_with(std::move(copy), std::move(state));
  }
  if (request == "inc") {
    auto out = CallOutcome::reply_with(std::to_string(std::stoll(state) + 1), std::to_string(std::stoll(state) + 1));
    out.snapshot = true;
    return out;
  }
  if (request == "noreply") return CallOutcome::noreply(std::move(state));
  if (request.rfind("answer:", 0) == 0) {
    auto out = CallOutcome::reply_with("answered", state);
    out.replies.push_back(LateReply{From{std::stoull(request.substr(7))}, "late:" + state});
    return out;
  }
  if (request == "stop") return CallOutcome::stop("asked to stop", "bye", std::move(state));
  if (request == "throw") throw std::runtime_error("boom");
  return CallOutcome::reply_with("?", std::move(state));
}

inline MessageOutcome ScriptModule::cast(const Bytes& request, const Tenant&, Bytes state) {
  if (request == "throw") throw std::runtime_error("cast boom");
  if (request == "stop") return MessageOutcome::stopping("cast stop", std::move(state));
  return MessageOutcome::noreply(state + request);
}

/// Runs a Lifecycle against a Module on a virtual clock (see the file comment).
struct Driver {
  Module& module;
  Lifecycle core;
  Time now{0};
  std::vector<Reply> replies;
  std::vector<Event> events;
  std::vector<Bytes> snapshots;
  std::vector<StartAsync> pending_async;
  std::vector<Invoke> invoked;
  /// The last snapshot emitted before each invoked callback (empty: none yet).
  std::vector<Bytes> snapshot_before;
  std::vector<Error> errors;
  bool stopped = false;
  int hibernated = 0;
  /// Acknowledge each event as it is delivered (off: the outbox keeps retrying).
  bool auto_ack = true;
  /// When set, the next Invoke of this callback is held (a slow callback) until release().
  std::optional<Callback> hold;
  std::optional<Invoke> held;

  explicit Driver(Module& m, LifecycleOptions options = {}, std::uint64_t seed = 1)
      : module(m), core(Tenant{"t1", m.name(), {}, 1}, std::make_shared<const LifecycleOptions>(options), 7, seed) {}

  void drain() {
    for (int i = 0; i < 10'000; ++i) {
      auto out = core.take();
      for (auto& r : out.replies) replies.push_back(std::move(r));
      for (auto& e : out.events) {
        if (auto_ack) core.on_event_acked(e.seq, now);
        events.push_back(std::move(e));
      }
      for (auto& s : out.snapshots) snapshots.push_back(std::move(s));
      for (auto& a : out.async) pending_async.push_back(std::move(a));
      for (auto& e : out.errors) errors.push_back(std::move(e));
      stopped = stopped || out.stopped;
      hibernated += out.hibernate ? 1 : 0;
      if (!out.invoke) return;
      if (hold && out.invoke->callback == *hold) {
        hold.reset();
        held = std::move(out.invoke);
        continue;
      }
      execute(*out.invoke);
    }
    FAIL("the lifecycle kept invoking callbacks");
  }

  void execute(const Invoke& what) {
    invoked.push_back(what);
    snapshot_before.push_back(snapshots.empty() ? Bytes{} : snapshots.back());
    const Tenant& tenant = core.tenant();
    try {
      switch (what.callback) {
        case Callback::install: return core.on_outcome(module.install(tenant), now);
        case Callback::run: return core.on_run(module.run(tenant, what.state), now);
        case Callback::update: return core.on_outcome(module.update(what.next.value(), tenant, what.state), now);
        case Callback::uninstall: return core.on_outcome(module.uninstall(tenant, what.state), now);
        case Callback::call: return core.on_call(module.call(what.arg, what.from, tenant, what.state), now);
        case Callback::cast: return core.on_message(module.cast(what.arg, tenant, what.state), now);
        case Callback::info: return core.on_message(module.info(Info{what.timeout, what.arg}, tenant, what.state), now);
        case Callback::on_continue: return core.on_message(module.on_continue(what.arg, tenant, what.state), now);
        case Callback::terminate:
          module.terminate(what.reason, tenant, what.state);
          return core.on_terminated(now);
      }
    } catch (const std::exception& error) {
      core.on_threw(error.what(), now);
    }
  }

  void release() {
    REQUIRE(held);
    auto what = std::move(*held);
    held.reset();
    execute(what);
    drain();
  }
  void advance(Time step) {
    now += step;
    core.on_tick(now);
    drain();
  }
  /// Moves the clock to the next deadline (at most `limit` ahead) and ticks.
  void advance_to_next(Time limit = 3'600s) {
    const Time next = core.next_deadline();
    REQUIRE(next != Time::max());
    REQUIRE(next - now <= limit);
    advance(std::max(next - now, Time{0}));
  }
  void finish_async(std::size_t index = 0) {
    REQUIRE(index < pending_async.size());
    auto start = std::move(pending_async[index]);
    pending_async.erase(pending_async.begin() + static_cast<std::ptrdiff_t>(index));
    core.on_async_done(start.id, start.work(), now);
    drain();
  }

  void install(std::uint64_t call, Time timeout = 5s) {
    core.install(call, now + timeout, now);
    drain();
  }
  void call(std::uint64_t call, Bytes request, Time timeout = 5s) {
    core.call(std::move(request), call, now + timeout, now);
    drain();
  }
  void update(std::uint64_t call, std::string tag, std::uint64_t generation, Time timeout = 5s) {
    Config next;
    next.config["tag"] = std::move(tag);
    core.update(std::move(next), generation, call, now + timeout, now);
    drain();
  }
  void uninstall(std::uint64_t call, Time timeout = 5s) {
    core.uninstall(call, now + timeout, now);
    drain();
  }

  /// The one reply to `call`; fails the test when there is none or several.
  Reply reply_to(std::uint64_t call) const {
    std::vector<Reply> found;
    for (const auto& r : replies) {
      if (r.call == call) found.push_back(r);
    }
    REQUIRE_MESSAGE(found.size() == 1, "call " << call << " has " << found.size() << " replies");
    return found.front();
  }
  bool replied(std::uint64_t call) const {
    for (const auto& r : replies) {
      if (r.call == call) return true;
    }
    return false;
  }
  std::vector<Callback> callbacks() const {
    std::vector<Callback> out;
    for (const auto& i : invoked) out.push_back(i.callback);
    return out;
  }
};

inline bool is_error(const Reply& reply, errc code) { return reply.kind == Reply::Kind::error && is(reply.error, code); }

}  // namespace plexus::tenants::test
