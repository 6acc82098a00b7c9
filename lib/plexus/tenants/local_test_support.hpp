// Test support for the local tenant host (test-only, not installed): a
// scriptable counter module whose callbacks a test replaces, a Gate a
// callback or async work can block on, and a Node — a LocalTenants on a real
// worker pool over an LMDB datastore — with blocking helpers that wait for
// each answer with a deadline (never a sleep).
#pragma once

#include <asio/thread_pool.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>

#include "plexus/store/tenant_test_support.hpp"
#include "plexus/tenants/fence.hpp"
#include "plexus/tenants/local.hpp"

namespace plexus::tenants::local_test {

using namespace std::chrono_literals;

/// A latch a callback blocks on until the test opens it (at most 10 s).
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  /// Blocks until open (false after 10 s); tells waiting() first.
  bool pass() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    return changed_.wait_for(lock, 10s, [&] { return open_; });
  }
  /// Waits until someone blocks in pass() (false after `limit`).
  bool wait_blocked(std::chrono::milliseconds limit = 5'000ms) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return waiting_ > 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int waiting_ = 0;
};

/// A counter (the state is a decimal number). Calls: "get", "inc" (snapshots),
/// "throw", "stop", "hang" (blocks on `hang`), anything else -> "?".
class Counter final : public Module {
 public:
  std::function<Outcome(const Tenant&)> on_install = [](const Tenant&) { return Outcome::ok("0"); };
  std::function<RunOutcome(Bytes)> on_run = [](Bytes state) { return RunOutcome::success(std::move(state)); };
  std::function<Outcome(const Config&, Bytes)> on_update = [](const Config&, Bytes state) {
    return Outcome::ok(std::to_string(std::stoll(state) + 100));
  };
  std::function<Outcome(Bytes)> on_uninstall = [](Bytes state) { return Outcome::ok(std::move(state)); };
  bool terminate_throws = false;
  Gate hang;

  std::string name() const override { return "counter"; }
  Outcome install(const Tenant& tenant) override { return on_install(tenant); }
  RunOutcome run(const Tenant&, Bytes state) override {
    {
      std::lock_guard lock(mutex_);
      runs_.push_back(state);
    }
    return on_run(std::move(state));
  }
  Outcome update(const Config& next, const Tenant&, Bytes state) override { return on_update(next, std::move(state)); }
  Outcome uninstall(const Tenant&, Bytes state) override { return on_uninstall(std::move(state)); }
  CallOutcome call(const Bytes& request, From, const Tenant&, Bytes state) override {
    if (request == "get") return CallOutcome::reply_with(state, state);
    if (request == "inc") {
      auto next = std::to_string(std::stoll(state) + 1);
      auto out = CallOutcome::reply_with(next, next);
      out.snapshot = true;
      return out;
    }
    if (request == "throw") throw std::runtime_error("call boom");
    if (request == "stop") return CallOutcome::stop("asked to stop", "bye", std::move(state));
    if (request == "hang") hang.pass();
    return CallOutcome::reply_with("?", std::move(state));
  }
  MessageOutcome cast(const Bytes& request, const Tenant&, Bytes state) override {
    if (request == "throw") throw std::runtime_error("cast boom");
    return MessageOutcome::noreply(std::move(state));
  }
  void terminate(std::string_view reason, const Tenant&, const Bytes&) override {
    {
      std::lock_guard lock(mutex_);
      terminated_.emplace_back(reason);
    }
    if (terminate_throws) throw std::runtime_error("terminate boom");
  }
  /// The states run was called with, in order.
  std::vector<std::string> runs() {
    std::lock_guard lock(mutex_);
    return runs_;
  }
  std::vector<std::string> terminated() {
    std::lock_guard lock(mutex_);
    return terminated_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> runs_;
  std::vector<std::string> terminated_;
};

/// Collects a host's events; waits for one with a deadline.
class Events {
 public:
  void add(const LocalEvent& event) {
    std::lock_guard lock(mutex_);
    all_.push_back(event);
    changed_.notify_all();
  }
  /// Waits (at most `limit`) until `pred(all events)` holds.
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds limit = 5'000ms) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return pred(all_); });
  }
  /// The statuses `tenant` went through, in order.
  std::vector<Status> statuses(const std::string& tenant) {
    std::lock_guard lock(mutex_);
    std::vector<Status> out;
    for (const auto& e : all_) {
      if (e.kind == LocalEvent::Kind::status && e.tenant == tenant) out.push_back(e.status);
    }
    return out;
  }
  /// Waits until `tenant` reached `status` (its latest status event).
  bool reached(const std::string& tenant, Status status, std::chrono::milliseconds limit = 5'000ms) {
    return wait([&](const std::vector<LocalEvent>& all) {
      for (auto it = all.rbegin(); it != all.rend(); ++it) {
        if (it->kind == LocalEvent::Kind::status && it->tenant == tenant) return it->status == status;
      }
      return false;
    }, limit);
  }
  /// Waits for a `stopped` event of `tenant`; its reason ("" after the limit).
  std::string stopped(const std::string& tenant, std::chrono::milliseconds limit = 5'000ms) {
    std::string reason;
    wait([&](const std::vector<LocalEvent>& all) {
      for (const auto& e : all) {
        if (e.kind == LocalEvent::Kind::stopped && e.tenant == tenant) {
          reason = e.reason;
          return true;
        }
      }
      return false;
    }, limit);
    return reason;
  }
  std::vector<LocalEvent> all() {
    std::lock_guard lock(mutex_);
    return all_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<LocalEvent> all_;
};

/// Waits for a done callback's answer (at most 10 s; the test fails after).
template <class T>
T await(std::future<T>& answer) {
  REQUIRE_MESSAGE(answer.wait_for(10s) == std::future_status::ready, "no answer within 10 s");
  return answer.get();
}

inline LocalOptions quick_options(std::string node) {
  LocalOptions options;
  options.node = std::move(node);
  options.lifecycle.restart_backoff_initial = 1ms;
  options.lifecycle.restart_backoff_max = 10ms;
  options.lifecycle.restarts_max = 3;
  return options;
}

/// One node: a LocalTenants on `threads` pool threads over `database`, with a Counter module.
struct Node {
  std::shared_ptr<Counter> counter = std::make_shared<Counter>();
  ModuleRegistry modules;
  asio::thread_pool pool;
  Events events;
  std::unique_ptr<LocalTenants> host;

  Node(std::shared_ptr<store::Database> database, LocalOptions options, std::size_t threads = 2) : pool(threads) {
    REQUIRE(modules.add(counter).ok());
    auto made = LocalTenants::create(pool.get_executor(), std::move(database), modules, std::move(options));
    REQUIRE_MESSAGE(made.ok(), (made.ok() ? std::string() : made.error().message()));
    host = std::move(made).value();
    host->subscribe([this](const LocalEvent& e) { events.add(e); });
  }
  ~Node() {
    host.reset();
    pool.join();
  }
  static Time in(std::chrono::milliseconds after) { return RealClock::instance().now() + after; }

  Result<Reply::Kind> start(const std::string& id, StartMode mode = StartMode::install, std::chrono::milliseconds timeout = 5'000ms) {
    std::promise<Result<Reply::Kind>> p;
    auto f = p.get_future();
    host->start(Tenant{id, "counter", {}, 1}, mode, in(timeout), [&p](Result<Reply::Kind> r) { p.set_value(std::move(r)); });
    return await(f);
  }
  Result<Bytes> call(const std::string& id, Bytes request, std::chrono::milliseconds timeout = 5'000ms) {
    std::promise<Result<Bytes>> p;
    auto f = p.get_future();
    host->call(id, std::move(request), in(timeout), [&p](Result<Bytes> r) { p.set_value(std::move(r)); });
    return await(f);
  }
  /// A call whose answer is waited for later.
  std::future<Result<Bytes>> call_later(const std::string& id, Bytes request, std::chrono::milliseconds timeout = 5'000ms) {
    auto p = std::make_shared<std::promise<Result<Bytes>>>();
    auto f = p->get_future();
    host->call(id, std::move(request), in(timeout), [p](Result<Bytes> r) { p->set_value(std::move(r)); });
    return f;
  }
  template <class Send>
  Result<Reply::Kind> command(Send send) {
    std::promise<Result<Reply::Kind>> p;
    auto f = p.get_future();
    send([&p](Result<Reply::Kind> r) { p.set_value(std::move(r)); });
    return await(f);
  }
  Result<Reply::Kind> update(const std::string& id, std::uint64_t generation, std::chrono::milliseconds timeout = 5'000ms) {
    return command([&](CommandDone d) { host->update(id, Config{}, generation, in(timeout), std::move(d)); });
  }
  Result<Reply::Kind> uninstall(const std::string& id, std::chrono::milliseconds timeout = 5'000ms) {
    return command([&](CommandDone d) { host->uninstall(id, in(timeout), std::move(d)); });
  }
  Result<Reply::Kind> stop(const std::string& id, std::string reason = "handoff", std::chrono::milliseconds timeout = 5'000ms) {
    return command([&](CommandDone d) { host->stop(id, std::move(reason), in(timeout), std::move(d)); });
  }
};

/// The errc of a failed result (ok when it did not fail).
template <class R>
errc code_of(const R& result) {
  if (result.ok()) return errc::ok;
  for (int c = 1; c <= static_cast<int>(errc::conflict); ++c) {
    if (is(result.error(), static_cast<errc>(c))) return static_cast<errc>(c);
  }
  return errc::ok;
}

}  // namespace plexus::tenants::local_test
