// LocalTenants: the local tenant host — the shell that runs tenants as actors
// on one node. Each tenant is one `Lifecycle` (the sans-IO core) driven on its
// own asio::strand of the node's worker pool: one callback at a time, async
// work (StartAsync) posted to the pool (never the strand), its outcome applied
// back on the strand. Wake-ups (the core's next_deadline, call deadlines) go
// through one shared timer for the whole host, not a timer per tenant.
//
// Ownership is fenced in the node's datastore (fence.hpp): a tenant started
// here takes its lease first, renewals are batched (one sweep every
// lease_renew_interval), snapshots are written with the epoch checked in the
// same transaction, and a stop releases the lease. A refused (fenced) write
// stops the tenant with reason "fenced" and a `stopped` event. Every blocking
// store call runs on the pool, never on a strand's callback path or the io thread.
//
// Crashes: a callback that throws feeds Lifecycle::on_threw (restart with
// backoff, budget, then parked in error_occurred). A callback that never
// returns blocks its strand; the shell's timer still fails that tenant's calls
// with `timeout` at their deadlines, and stop() answers `timeout` at its
// deadline (the tenant cannot terminate while the callback runs).
//
// Every public method is thread-safe; callbacks (done functions, the event
// subscriber) run on a pool thread and must not block. See docs/tenants.md,
// "Local host".
#pragma once

#include <asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/core/time.hpp"
#include "plexus/store/kv.hpp"
#include "plexus/tenants/keyspace.hpp"
#include "plexus/tenants/lifecycle.hpp"
#include "plexus/tenants/module.hpp"

namespace plexus::tenants {

/// The limits and timings of one node's tenant host. Restart backoff and
/// budget, mailbox and outbox limits are `lifecycle`'s (shared by every tenant).
struct LocalOptions {
  /// The lease owner's name (the node id); must not be empty.
  std::string node;
  /// Most tenants (live or stopping) on this node; beyond it start() gets `unavailable`.
  std::size_t tenants_max = 200'000;
  /// Per tenant: mailbox_max (calls waiting), outbox_max, restart backoff and budget, async_timeout.
  LifecycleOptions lifecycle;
  /// How long a lease lasts without renewal; another node may take it after that.
  std::chrono::milliseconds lease_ttl{10'000};
  /// One renewal sweep of every lease held here this often (well under lease_ttl).
  std::chrono::milliseconds lease_renew_interval{3'000};
  /// Leases renewed (or snapshots written) per datastore transaction.
  std::size_t store_batch_max = 256;
  /// Store jobs (snapshot writes, renewals, releases) waiting for the pool;
  /// beyond it a snapshot write fails as the datastore being unavailable.
  std::size_t store_queue_max = 100'000;
  /// Calls (and commands) waiting for an answer per tenant in the shell
  /// (beyond it `mailbox_full`); normally lifecycle.mailbox_max.
  std::size_t pending_max = 1'024;
  /// The key spaces modules reach their tenants' data through (the
  /// ModuleHost given to Module::attach). A tenant whose capabilities hold
  /// `keyspace: {datastore}` naming `datastore` is bound once its lease is
  /// taken (every run fenced by it) and unbound when it ends. Null: none offered.
  std::shared_ptr<KeySpaces> keyspaces;
  /// The name of the datastore the host runs on (a `keyspace` capability must name it).
  std::string datastore;
};

/// How start() brings a tenant up on this node.
enum class StartMode : std::uint8_t {
  install,  ///< a fresh install: the module's install callback, then run
  resume,   ///< a restart, handoff or failover: run(last snapshot from the key space); never nil
};

/// Where a tenant is on this node.
struct LocalStatus {
  std::string id;
  std::string module;
  Status status = Status::pending;
  bool parked = false;    ///< error_occurred with the restart budget spent (calls get `unavailable`)
  bool stopping = false;  ///< stop() was asked; intake is closed
  std::uint64_t generation = 0;
  std::int64_t epoch = 0;  ///< the fencing epoch of the lease held here (0: none yet)
  std::string last_error;
  LifecycleCounters counters;
};

/// What the host reports to its subscriber (the cluster side's outbox).
struct LocalEvent {
  enum class Kind : std::uint8_t {
    lifecycle,  ///< `event` is a Lifecycle event: acknowledge it with ack_event(tenant, event.seq)
    stopped,    ///< the tenant ended on this node: `reason` ("fenced: ...", a stop() reason, "uninstalled")
    status,     ///< the tenant's status here changed to `status` (every transition, in order)
  };
  Kind kind = Kind::lifecycle;
  std::string tenant;
  Event event;
  std::string reason;
  Status status = Status::pending;
};

/// Counters of the host, for /metrics.
struct LocalCounters {
  /// Tenants here by module and status name (status_name()).
  std::map<std::string, std::map<std::string, std::uint64_t>> by_module_status;
  std::uint64_t restarts = 0;        ///< sum over live tenants
  std::uint64_t crashes = 0;
  std::uint64_t calls = 0;           ///< calls answered (any outcome)
  std::uint64_t calls_timed_out = 0; ///< answered `timeout` by the host or the core
  std::uint64_t fenced = 0;          ///< tenants stopped because a write was fenced
  std::uint64_t snapshots_written = 0;
  std::uint64_t store_batches = 0;
  /// Call latency (submit to answer), cumulative counts of calls at or under
  /// each bound in microseconds (Prometheus histogram style), and their sum.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> call_latency_le_us;
  std::uint64_t call_latency_sum_us = 0;
};

/// Bounds of the call latency histogram, in microseconds.
inline constexpr std::uint64_t call_latency_bounds_us[] = {10, 50, 100, 500, 1'000, 5'000, 10'000, 50'000, 100'000,
                                                           1'000'000};

/// A command's answer: ok or async (an Error otherwise, with the errc).
using CommandDone = std::function<void(Result<Reply::Kind>)>;
/// A call's answer: the reply bytes, or tenant_not_found / timeout / stopped / unavailable / mailbox_full ...
using CallDone = std::function<void(Result<Bytes>)>;
/// Receives every LocalEvent, on a pool thread.
using EventSink = std::function<void(const LocalEvent&)>;

class LocalTenants {
 public:
  /// `pool` (an executor of an asio::thread_pool, e.g. node::Runtime::workers();
  /// invalid_argument otherwise) runs the tenants' strands, async work, store
  /// calls and the shared timer; `database` is the node's datastore (tenant key spaces, leases,
  /// snapshots); `modules` must outlive the host; `clock` gives the cores'
  /// Time (steady); lease expiry uses the system clock. invalid options
  /// (empty node, zero limits) are rejected by create().
  static Result<std::unique_ptr<LocalTenants>> create(asio::any_io_executor pool,
                                                       std::shared_ptr<store::Database> database,
                                                       const ModuleRegistry& modules, LocalOptions options,
                                                       const Clock& clock = RealClock::instance());
  /// Stops nothing gracefully: call shutdown() first. Waits for no handler; the
  /// pool must be joined (or stopped) before the host is destroyed.
  ~LocalTenants();
  LocalTenants(const LocalTenants&) = delete;
  LocalTenants& operator=(const LocalTenants&) = delete;

  /// Brings `tenant` up here: opens its key space, takes its lease, then
  /// install (answered ok | async | error: already_exists, unknown_module,
  /// invalid_argument, module_error, callback_threw, lease_held) or resume
  /// (ok once run(snapshot) is under way; tenant_not_found when the key space
  /// holds no snapshot). `deadline` is on `clock`. An install still running at
  /// its deadline is answered `async` (so are update and uninstall): it goes
  /// on and ends with its lifecycle event, or a `stopped` event if the start
  /// itself failed; a resume not under way by then gets `timeout`.
  void start(Tenant tenant, StartMode mode, Time deadline, CommandDone done);
  /// The seed's update with the registry's new generation: ok | async | error.
  void update(const std::string& id, Config next, std::uint64_t generation, Time deadline, CommandDone done);
  /// The seed's uninstall; on ok the tenant's key space is cleared, its lease
  /// released and it leaves the host (a `stopped` event, reason "uninstalled").
  void uninstall(const std::string& id, Time deadline, CommandDone done);
  /// A call: the reply, or tenant_not_found, timeout, stopped, unavailable, mailbox_full, callback_threw.
  void call(const std::string& id, Bytes request, Time deadline, CallDone done);
  /// A cast (no answer; dropped when the tenant is not here).
  void cast(const std::string& id, Bytes request);
  /// A user message to info().
  void info(const std::string& id, Bytes message);
  /// GenServer.reply from outside a callback: answers a `noreply` call.
  void answer(const std::string& id, From to, Bytes reply);
  /// Graceful handoff: closes intake (new calls get `stopped`, so a router
  /// retries elsewhere), lets queued calls finish by their deadlines, then
  /// terminate(reason), a final snapshot, the lease released; ok once done.
  /// `timeout` if a callback is still running at `deadline` (the stop goes on);
  /// `fenced` when the final snapshot was refused (another owner took over).
  void stop(const std::string& id, std::string reason, Time deadline, CommandDone done);
  /// Acknowledges a lifecycle event (its outbox stops re-emitting it).
  void ack_event(const std::string& id, std::uint64_t seq);
  /// Receives every event from now on (one sink; a later call replaces it).
  void subscribe(EventSink sink);

  /// The tenant's status here; tenant_not_found when it is not on this node.
  [[nodiscard]] Result<LocalStatus> status(const std::string& id) const;
  /// Every tenant on this node (a snapshot; statuses may change meanwhile).
  [[nodiscard]] std::vector<LocalStatus> list() const;
  [[nodiscard]] LocalCounters counters() const;
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] const LocalOptions& options() const;

 private:
  struct State;
  explicit LocalTenants(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace plexus::tenants
