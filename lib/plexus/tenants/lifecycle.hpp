// Lifecycle: the sans-IO life cycle of one tenant (JetPluginSDK.TenantMan's
// tenant process without the process), in the presence::Shard shape. It is
// fed commands (install, update, uninstall, call, cast, info, stop), the
// outcomes of the callbacks it asked for (or that one threw), async work
// completions, event acknowledgements and the time; take() returns what to
// do: at most one callback to invoke on the tenant's strand, async work to
// start on the pool, replies, events, snapshots to persist, and whether the
// tenant stopped. No clock, thread or module call inside.
//
// Status (the seed's, with the in-flight ones recorded):
//   pending -> installing -> running (run ok) | error_occurred (run error)
//   running / error_occurred -> updating -> back (ok, error) | async: stays
//     updating while calls go on, until the work completes
//   -> uninstalling -> uninstalled (ok) | back (error)
//   a crash (a callback threw, or returned stop) -> restart after a jittered
//     exponential backoff with run(last snapshot); more than restarts_max
//     crashes in restart_window -> error_occurred, parked, with an event.
// A synchronous install error removes the tenant (uninstalled): nothing was
// installed. An async install error parks it in error_occurred, so the
// failure stays visible until it is uninstalled.
//
// Every command has an explicit deadline. A call not answered by then gets
// `timeout`; an install/update/uninstall whose callback has not returned by
// then is answered `async` (the work goes on and ends with an event), never
// left to time out while it completes behind the caller's back.
//
// Events (install, update, uninstall, error_occurred) carry an idempotency
// key "<tenant>:<incarnation>:<seq>" and stay in the outbox, re-emitted with
// backoff, until on_event_acked(seq): delivery is at least once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/core/time.hpp"
#include "plexus/tenants/module.hpp"

namespace plexus::tenants {

enum class Status : std::uint8_t { pending, installing, running, updating, uninstalling, error_occurred, uninstalled };
/// The seed's spelling ("error_occurred").
std::string_view status_name(Status status) noexcept;

/// The limits and timings of one tenant's life cycle.
struct LifecycleOptions {
  /// Messages (calls, casts, infos, updates, uninstalls) waiting for the tenant;
  /// also the most calls waiting for a reply (queued, or taken with noreply).
  std::size_t mailbox_max = 1'024;
  /// Unacknowledged events; update/uninstall are refused (outbox_full) at it.
  std::size_t outbox_max = 256;
  std::chrono::milliseconds restart_backoff_initial{100};
  std::chrono::milliseconds restart_backoff_max{10'000};
  /// Each backoff is shortened by a random fraction in [0, restart_jitter).
  double restart_jitter = 0.5;
  /// More crashes than this within restart_window park the tenant.
  std::uint32_t restarts_max = 5;
  std::chrono::milliseconds restart_window{60'000};
  /// Async work still running after this fails as an error of its callback.
  std::chrono::milliseconds async_timeout{300'000};
  std::chrono::milliseconds event_retry_initial{200};
  std::chrono::milliseconds event_retry_max{10'000};
};

enum class Callback : std::uint8_t { install, run, update, uninstall, call, cast, info, on_continue, terminate };
std::string_view callback_name(Callback callback) noexcept;

/// Call the module's `callback` with these arguments (and the tenant()).
struct Invoke {
  Invoke() = default;
  explicit Invoke(Callback callback_, Bytes state_ = {}, Bytes arg_ = {})
      : callback(callback_), state(std::move(state_)), arg(std::move(arg_)) {}
  Callback callback = Callback::run;
  Bytes state;         ///< every callback but install
  Bytes arg;           ///< call/cast request, info message, continue arg
  From from;           ///< call
  bool timeout = false;  ///< info: the Extra::timeout fired
  /// update only (optional, so other callbacks allocate no JSON objects)
  std::optional<Config> next;
  std::string reason;  ///< terminate
};

/// Start `work` on the pool; report with on_async_done(id, result).
struct StartAsync {
  std::uint64_t id = 0;
  AsyncWork work;
};

/// The answer to one command.
struct Reply {
  enum class Kind : std::uint8_t { ok, async, error };
  std::uint64_t call = 0;
  Kind kind = Kind::ok;
  Bytes value;  ///< a call's reply
  Error error;
};

enum class EventKind : std::uint8_t { install, update, uninstall, error_occurred };
std::string_view event_kind_name(EventKind kind) noexcept;

/// A life cycle event (the seed's send_event payloads), at least once.
struct Event {
  std::string key;  ///< idempotency key: "<tenant>:<incarnation>:<seq>"
  std::uint64_t seq = 0;
  std::string tenant;
  std::uint64_t generation = 0;
  EventKind kind = EventKind::install;
  bool ok = true;
  std::string reason;
};

/// What one batch of inputs produced (take()).
struct LifecycleOutput {
  std::optional<Invoke> invoke;  ///< at most one callback in flight
  std::vector<StartAsync> async;
  std::vector<Reply> replies;
  std::vector<Event> events;    ///< first deliveries and retries
  std::vector<Bytes> snapshots;  ///< persist in order, before delivering replies
  bool hibernate = false;
  bool stopped = false;  ///< the actor is gone (uninstalled, or stop())
  std::vector<Error> errors;  ///< misuse by the driver, to log
};

/// Counters of one tenant, for /metrics.
struct LifecycleCounters {
  std::uint64_t restarts = 0;
  std::uint64_t crashes = 0;
  std::uint64_t calls_timed_out = 0;
  std::uint64_t event_retries = 0;
};

class Lifecycle {
 public:
  /// `options` may be shared by every tenant of a module (null: defaults).
  /// `incarnation` tells this life's event keys apart from a previous one's
  /// (the lease epoch, or a random id); `seed` drives the backoff jitter.
  Lifecycle(Tenant tenant, std::shared_ptr<const LifecycleOptions> options, std::uint64_t incarnation,
            std::uint64_t seed);

  // ---- commands ----
  /// A fresh install: invokes install. Only from pending.
  void install(std::uint64_t call, Time deadline, Time now);
  /// A handoff or failover: run(snapshot) without install. Only from pending.
  void resume(Bytes snapshot, Time now);
  void update(Config next, std::uint64_t generation, std::uint64_t call, Time deadline, Time now);
  void uninstall(std::uint64_t call, Time deadline, Time now);
  void call(Bytes request, std::uint64_t call, Time deadline, Time now);
  void cast(Bytes request, Time now);
  void info(Bytes message, Time now);
  /// GenServer.reply(from, reply) from outside a callback (e.g. when async work
  /// the module started ends): answers a `noreply` call that still waits; a
  /// call already answered or timed out is left alone. The shell posts it to
  /// the tenant's strand.
  void answer(From to, Bytes reply, Time now);
  /// Graceful stop (handoff, shutdown): terminate(reason), a final snapshot,
  /// then stopped; no restart. Later commands get `unavailable` (the tenant
  /// runs elsewhere now); the outbox keeps delivering until acknowledged.
  void stop(std::string reason, Time now);

  // ---- callback outcomes, for the callback last invoked ----
  void on_outcome(Outcome outcome, Time now);  ///< install, update, uninstall
  void on_run(RunOutcome outcome, Time now);
  void on_call(CallOutcome outcome, Time now);
  void on_message(MessageOutcome outcome, Time now);  ///< cast, info, on_continue
  void on_terminated(Time now);
  /// The callback in flight threw (terminate included).
  void on_threw(std::string what, Time now);
  void on_async_done(std::uint64_t id, AsyncResult result, Time now);
  void on_event_acked(std::uint64_t seq, Time now);
  void on_tick(Time now);

  LifecycleOutput take();
  /// When on_tick next has work; Time::max() when none.
  [[nodiscard]] Time next_deadline() const;

  [[nodiscard]] Status status() const { return status_; }
  [[nodiscard]] bool parked() const { return parked_; }
  /// The actor ended here for good (stopped was reported); events may remain.
  [[nodiscard]] bool gone() const { return gone_; }
  [[nodiscard]] const Tenant& tenant() const { return tenant_; }
  [[nodiscard]] const std::optional<Bytes>& last_snapshot() const { return last_snapshot_; }
  [[nodiscard]] const std::string& last_error() const { return last_error_; }
  [[nodiscard]] std::size_t outbox_size() const { return outbox_.size(); }
  [[nodiscard]] const LifecycleCounters& counters() const { return counters_; }

 private:
  enum class Kind : std::uint8_t { update, uninstall, call, cast, info };
  struct Message {
    Message(Kind kind_, std::uint64_t call_, Time deadline_, Bytes bytes_ = {})
        : kind(kind_), call(call_), deadline(deadline_), bytes(std::move(bytes_)) {}
    Kind kind = Kind::call;
    std::uint64_t call = 0;
    Time deadline{};
    Bytes bytes;
    std::optional<Config> next;  ///< update
    std::uint64_t generation = 0;
  };
  struct InFlight {
    explicit InFlight(Callback callback_ = Callback::run, std::uint64_t call_ = 0, bool has_caller_ = false)
        : callback(callback_), call(call_), has_caller(has_caller_) {}
    Callback callback = Callback::run;
    std::uint64_t call = 0;  ///< the command's caller (call, install, update, uninstall)
    bool has_caller = false;
    std::optional<Config> next;  ///< update
    std::uint64_t generation = 0;
    Status before = Status::running;  ///< update/uninstall: the status to return to
    /// terminate: what follows it.
    enum class After : std::uint8_t { restart, uninstall, stop } after = After::restart;
  };
  struct Async {
    std::uint64_t id = 0;
    InFlight command;
    Time deadline{};
    Effects effects;  ///< the extra of `async(work, extra)`, applied on completion
  };
  struct Outgoing {
    Event event;
    Time next_try{};
    std::chrono::milliseconds backoff{};
  };

  // lifecycle.cpp
  bool admit(Message message, Time now);
  void pump(Time now);
  bool step(Time now);
  bool processable(const Message& message) const;
  void dispatch(Message message, Time now);
  void invoke(Invoke what, InFlight in_flight);
  void begin_update(Message message);
  void begin_uninstall(Message message, Time now);
  void terminate_then(std::string reason, InFlight::After after, const InFlight& command);
  void refuse(std::uint64_t call, errc code, std::string detail);
  /// Refuses `call` when the actor stopped on this node (stop()); true if it did.
  bool refuse_if_moved(std::uint64_t call, std::string_view what);
  /// Pending and neither installing nor resuming: nothing to update or uninstall yet.
  [[nodiscard]] bool never_installed() const { return status_ == Status::pending && !alive_ && !in_flight_; }
  /// The actor ends here for good: nothing more runs, only the outbox is kept.
  void end_actor();
  // lifecycle_outcomes.cpp
  void installed(const InFlight& command, Bytes state, Effects effects, Time now);
  void install_failed(const InFlight& command, std::string reason, errc code, Time now);
  void updated(const InFlight& command, Bytes state, Effects effects, Time now);
  void uninstall_done(const InFlight& command, std::optional<Bytes> state, Time now);
  void finish_uninstall(const InFlight& command, Time now);
  void stop_result(std::string reason, Time now);
  void command_failed(const InFlight& command, std::string reason, errc code, Time now);
  void start_async(InFlight command, Outcome outcome, Time now);
  void apply_async(Async async, AsyncResult result, Time now);
  void apply_effects(Effects effects, Time now);
  void set_state(Bytes state, bool snapshot);
  // lifecycle_timers.cpp
  void crash(std::string reason, Time now);
  void schedule_restart(Time now);
  /// A uniform double in [0, 1) from jitter_state_.
  double next_unit();
  void park(std::string reason, Time now);
  void finish_stop(Time now);
  void expire(Time now);
  void retry_events(Time now);
  void emit(EventKind kind, bool ok, std::string reason, Time now);
  void reply(std::uint64_t call, Reply::Kind kind, Bytes value = {}, Error error = {});
  void answer_command(const InFlight& command, Reply::Kind kind, Error error = {});
  void fail_waiting_calls(errc code, const std::string& why, bool queued_too);
  bool expect(Callback callback, std::string_view fed);

  Tenant tenant_;
  std::shared_ptr<const LifecycleOptions> options_;
  std::uint64_t incarnation_;
  std::uint64_t jitter_state_;  ///< splitmix64: 8 bytes per tenant, not an mt19937's 2.5 KB
  Status status_ = Status::pending;
  bool alive_ = false;   ///< the actor holds a state and takes messages
  bool parked_ = false;  ///< error_occurred with no actor (restart budget spent, or async install failed)
  bool gone_ = false;    ///< stopped for good here (uninstalled, failed install, stop()); only events remain
  std::optional<std::string> stop_requested_;  ///< stop(reason): terminate, then stopped
  Bytes state_;
  std::optional<Bytes> last_snapshot_;
  std::string last_error_;
  std::optional<InFlight> in_flight_;
  // Vectors, not deques: an empty libstdc++ deque still allocates ~600 bytes,
  // and a node holds 100,000 idle tenants.
  std::vector<Message> mailbox_;
  std::map<std::uint64_t, Time> waiting_calls_;  ///< call id -> deadline, until replied
  // Held only while async work runs: idle tenants stay small.
  std::unique_ptr<Async> async_;
  std::unique_ptr<std::pair<std::uint64_t, AsyncResult>> async_done_;  ///< arrived while a callback ran
  std::uint64_t next_async_id_ = 1;
  std::optional<Bytes> continue_;
  std::optional<Time> timeout_at_;
  std::optional<Time> restart_at_;
  std::vector<Time> crashes_;
  std::vector<Outgoing> outbox_;
  std::uint64_t next_seq_ = 1;
  /// What take() returns next; allocated only while there is some (an idle
  /// tenant keeps none: LifecycleOutput is ~300 bytes).
  std::unique_ptr<LifecycleOutput> out_;
  LifecycleOutput& out() {
    if (!out_) out_ = std::make_unique<LifecycleOutput>();
    return *out_;
  }
  LifecycleCounters counters_;
};

}  // namespace plexus::tenants
