// Seeded property test of Lifecycle: random commands, random callback
// results of every shape the seed allows (throws and async work included),
// random async completions, acknowledgements, answer()s, a rare stop() and
// clock steps. Invariants:
// every call is answered exactly once; run always receives the last
// snapshot; event keys are unique per event; statuses agree with the flags;
// the driver never feeds an outcome the core did not ask for; and once
// everything is acknowledged the outbox drains. A failure prints the replay.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>

#include "plexus/core/test_seed.hpp"
#include "plexus/tenants/test_driver.hpp"

namespace plexus::tenants {
namespace {

using namespace std::chrono_literals;

std::uint32_t below(std::mt19937_64& rng, std::uint32_t bound) { return static_cast<std::uint32_t>(rng() % bound); }

/// A module whose every result is drawn from the seed's shapes at random.
class RandomModule final : public Module {
 public:
  explicit RandomModule(std::mt19937_64& rng) : rng_(rng) {}
  std::string name() const override { return "random"; }

  Outcome install(const Tenant&) override { return lifecycle_result(); }
  RunOutcome run(const Tenant&, Bytes) override {
    maybe_throw();
    auto out = below(rng_, 5) == 0 ? RunOutcome::failure("run failed", fresh()) : RunOutcome::success(fresh());
    decorate(out);
    return out;
  }
  Outcome update(const Config&, const Tenant&, Bytes) override { return lifecycle_result(); }
  Outcome uninstall(const Tenant&, Bytes) override { return lifecycle_result(); }
  CallOutcome call(const Bytes&, From from, const Tenant&, Bytes) override {
    maybe_throw();
    CallOutcome out;
    switch (below(rng_, 6)) {
      case 0: out = CallOutcome::noreply(fresh()); open_.push_back(from); break;
      case 1: out = CallOutcome::stop("stop", "r", fresh()); return out;
      default: out = CallOutcome::reply_with("r", fresh());
    }
    decorate(out);
    return out;
  }
  MessageOutcome cast(const Bytes&, const Tenant&, Bytes) override { return message_result(); }
  MessageOutcome info(const Info&, const Tenant&, Bytes) override { return message_result(); }
  MessageOutcome on_continue(const Bytes&, const Tenant&, Bytes) override { return message_result(); }

 private:
  Bytes fresh() { return "s" + std::to_string(++states_); }
  void maybe_throw() {
    if (below(rng_, 12) == 0) throw std::runtime_error("random crash");
  }
  void decorate(Effects& effects) {
    effects.snapshot = below(rng_, 3) == 0;
    switch (below(rng_, 8)) {
      case 0: effects.extra = Extra::continue_with("c"); break;
      case 1: effects.extra = Extra::timeout(std::chrono::milliseconds(below(rng_, 300))); break;
      case 2: effects.extra = Extra::hibernate(); break;
      default: break;
    }
    if (!open_.empty() && below(rng_, 2) == 0) {
      effects.replies.push_back(LateReply{open_.front(), "late"});
      open_.erase(open_.begin());
    }
  }
  Outcome lifecycle_result() {
    maybe_throw();
    Outcome out;
    switch (below(rng_, 5)) {
      case 0: out = Outcome::error("refused"); break;
      case 1: {
        const bool ok = below(rng_, 4) != 0;
        Bytes state = fresh();
        out = Outcome::async([ok, state] { return ok ? AsyncResult::success(state) : AsyncResult::failure("async failed"); });
        break;
      }
      default: out = Outcome::ok(fresh());
    }
    decorate(out);
    return out;
  }
  MessageOutcome message_result() {
    maybe_throw();
    if (below(rng_, 10) == 0) return MessageOutcome::stopping("stop", fresh());
    auto out = MessageOutcome::noreply(fresh());
    decorate(out);
    return out;
  }

  std::mt19937_64& rng_;
  std::uint64_t states_ = 0;
  std::vector<From> open_;
};

struct Checker {
  std::set<std::uint64_t> issued;
  std::size_t replies_seen = 0;
  std::size_t invokes_seen = 0;
  std::size_t snapshots_seen = 0;
  std::map<std::uint64_t, std::string> keys;

  void check(const test::Driver& d) {
    // Every run gets the snapshot taken last before it.
    for (; invokes_seen < d.invoked.size(); ++invokes_seen) {
      const auto& invoke = d.invoked[invokes_seen];
      if (invoke.callback == Callback::run) CHECK(invoke.state == d.snapshot_before[invokes_seen]);
    }
    std::map<std::uint64_t, int> count;
    for (const auto& reply : d.replies) ++count[reply.call];
    for (const auto& [call, n] : count) CHECK_MESSAGE(n == 1, "call ", call, " answered ", n, " times");
    for (const auto& event : d.events) {
      const auto [it, fresh] = keys.try_emplace(event.seq, event.key);
      CHECK(it->second == event.key);
    }
    for (const auto& error : d.errors) CHECK_MESSAGE(error.detail.find("fed while") == std::string::npos, error.detail);
    if (d.core.status() == Status::uninstalled) CHECK(d.core.gone());
    if (d.core.parked()) CHECK(d.core.status() != Status::running);
  }
};

TEST_CASE("lifecycle property: random schedules answer every call once and restart from the last snapshot") {
  // Proves the lifecycle's invariants on hundreds of random schedules of commands, results and time.
  const char* name = "lifecycle property: random schedules answer every call once and restart from the last snapshot";
  std::size_t restarts = 0, parks = 0, uninstalls = 0;
  for (const auto seed : test_seed::seeds(300)) {
    INFO("replay: ", test_seed::replay(seed, "lib/plexus/tenants/tenants_test", name));
    std::mt19937_64 rng(seed);
    RandomModule module(rng);
    LifecycleOptions options;
    options.restarts_max = 3;
    options.restart_window = 5s;
    options.async_timeout = 2s;
    options.mailbox_max = 8;
    test::Driver d(module, options, seed);
    d.auto_ack = false;
    Checker checker;
    std::uint64_t next_call = 1;
    auto issue = [&] { checker.issued.insert(next_call); return next_call++; };
    d.install(issue(), std::chrono::milliseconds(1 + below(rng, 2'000)));
    for (int step = 0; step < 120; ++step) {
      switch (below(rng, 11)) {
        case 0: case 1: case 2: d.call(issue(), "x", std::chrono::milliseconds(below(rng, 3'000))); break;
        case 3: d.core.cast("c", d.now); d.drain(); break;
        case 4: d.core.info("i", d.now); d.drain(); break;
        case 5: if (below(rng, 3) == 0) d.update(issue(), "u", 2 + step); else if (below(rng, 8) == 0) d.uninstall(issue()); break;
        case 6: if (!d.pending_async.empty()) d.finish_async(below(rng, static_cast<std::uint32_t>(d.pending_async.size()))); break;
        case 7: if (!d.events.empty()) d.core.on_event_acked(d.events[below(rng, static_cast<std::uint32_t>(d.events.size()))].seq, d.now); break;
        case 8:
          if (below(rng, 40) == 0) d.core.stop("handoff", d.now);  // rare: the rest of the run is refused
          else d.core.answer(From{1 + below(rng, static_cast<std::uint32_t>(next_call))}, "answered", d.now);
          d.drain();
          break;
        default: d.advance(std::chrono::milliseconds(below(rng, 700)));
      }
      checker.check(d);
    }
    // Settle: finish async work, acknowledge every event, let every deadline pass.
    while (!d.pending_async.empty()) d.finish_async();
    for (int round = 0; round < 20; ++round) {
      for (const auto& event : d.events) d.core.on_event_acked(event.seq, d.now);
      d.advance(1s);
    }
    checker.check(d);
    for (const auto call : checker.issued) CHECK_MESSAGE(d.replied(call), "call ", call, " never answered");
    CHECK(d.core.outbox_size() == 0);
    restarts += d.core.counters().restarts;
    parks += d.core.parked() ? 1 : 0;
    uninstalls += d.core.status() == Status::uninstalled ? 1 : 0;
  }
  // The schedules must reach restarts, parking and removal, not only the happy path.
  if (!test_seed::from_env()) {
    CHECK(restarts > 100);
    CHECK(parks > 10);
    CHECK(uninstalls > 10);
  }
}

}  // namespace
}  // namespace plexus::tenants
