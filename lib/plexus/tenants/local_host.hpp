// LocalTenants' internals (not installed): the host state shared by every
// tenant actor, the actor itself, the shared timer and the store queue.
// Threads: an Actor's `core` and strand-only fields are touched only on its
// strand; its `Waiting` list (answers the caller still waits for) under the
// host's striped lock for that actor, so the shared timer can answer a call
// with `timeout` while the strand is stuck in a callback.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <unordered_map>

#include "plexus/tenants/local.hpp"
#include "plexus/tenants/local_store.hpp"

namespace plexus::tenants::local_detail {

struct Host;

/// A caller waiting for an answer: a call (call_done) or a command (command_done).
struct Waiting {
  std::uint64_t id = 0;
  Time deadline{};
  Time submitted{};
  CallDone call_done;
  CommandDone command_done;
};

/// Held only while a snapshot write is in flight: replies wait for it.
struct Persist {
  bool writing = false;
  std::optional<Bytes> queued;        ///< the next snapshot to write (later ones replace it)
  std::vector<Reply> held_now;        ///< delivered when the write in flight commits
  std::vector<Reply> held_next;       ///< delivered when `queued` commits
};

/// Published for status() and list() (read off the strand).
struct Published {
  std::string last_error;
  LifecycleCounters counters;
};

/// One tenant on this node.
struct Actor {
  Actor(std::shared_ptr<Host> host_, Tenant tenant_, std::shared_ptr<Module> module_);

  // Kept small: a node holds 100,000 idle actors (docs/tenants.md, "Local host").
  std::shared_ptr<Host> host;
  asio::strand<asio::thread_pool::executor_type> strand;
  std::shared_ptr<Module> module;
  const std::string id;
  std::unique_ptr<Tenant> tenant;     ///< until the core takes it
  // ---- strand only ----
  std::optional<Lifecycle> core;      ///< once the lease is taken
  std::string prefix;                 ///< the key space's prefix (1..8 bytes: no allocation)
  std::unique_ptr<Persist> persist;
  std::unique_ptr<std::string> stop_reason;  ///< set by stop(), a fenced write, or a failed start
  std::uint64_t stop_call = 0;        ///< the waiting stop() to answer when the core stops
  bool ended = false;                 ///< the core stopped (or never started)
  bool finished = false;              ///< finish_end ran
  bool refused = false;               ///< a write was refused (fenced, store failure): nothing more is written
  // ---- read anywhere ----
  std::atomic<std::uint8_t> status{static_cast<std::uint8_t>(Status::pending)};
  std::atomic<bool> parked{false};
  std::atomic<bool> stopping{false};  ///< intake closed (stop, fenced, ended)
  std::atomic<bool> leased{false};    ///< the lease (owner options.node, `epoch`) is held: renewals run
  std::atomic<std::int64_t> epoch{0};  ///< the lease's fencing epoch (0 before it is taken)
  std::atomic<std::uint64_t> generation{0};
  // ---- under host->lock_of(this) ----
  std::vector<Waiting> waiting;
  Time wake_at = Time::max();         ///< the earliest timer entry pending for this actor
  std::unique_ptr<Published> published;
};

/// The host: everything LocalTenants' methods and the actors share.
struct Host : std::enable_shared_from_this<Host> {
  Host(asio::thread_pool::executor_type pool_, std::shared_ptr<store::Database> database_, const ModuleRegistry& modules_,
       LocalOptions options_, const Clock& clock_);

  asio::thread_pool::executor_type pool;
  std::shared_ptr<store::Database> database;
  store::Tenants directory;
  const ModuleRegistry& modules;
  LocalOptions options;
  std::shared_ptr<const LifecycleOptions> lifecycle;
  const Clock& clock;
  std::atomic<bool> closing{false};
  std::atomic<std::uint64_t> next_id{1};

  mutable std::shared_mutex map_mutex;
  /// Keyed by a view of the actor's own id (one copy of each id).
  std::unordered_map<std::string_view, std::shared_ptr<Actor>> actors;

  std::array<std::mutex, 256> stripes;
  std::mutex& lock_of(const Actor* actor) { return stripes[(reinterpret_cast<std::uintptr_t>(actor) >> 6) % 256]; }

  std::mutex sink_mutex;
  EventSink sink;

  // ---- the shared timer (local_timer.cpp) ----
  struct Entry {
    Time at;
    std::weak_ptr<Actor> actor;
    bool operator>(const Entry& other) const { return at > other.at; }
  };
  std::mutex timer_mutex;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> entries;
  asio::steady_timer timer;
  Time armed_at = Time::max();
  asio::steady_timer renew_timer;

  // ---- the store queue (local_timer.cpp) ----
  std::mutex store_mutex;
  std::vector<FencedWrite> store_queue;
  bool store_draining = false;

  // ---- counters ----
  std::atomic<std::uint64_t> calls{0}, calls_timed_out{0}, fenced{0}, snapshots_written{0}, store_batches{0};
  std::array<std::atomic<std::uint64_t>, std::size(call_latency_bounds_us) + 1> latency{};
  std::atomic<std::uint64_t> latency_sum_us{0};

  // local_timer.cpp
  /// Makes sure `actor` is woken at `at` (or earlier).
  void wake(const std::shared_ptr<Actor>& actor, Time at);
  void on_timer();
  void arm_locked(Time at);
  void start_renewals();
  /// Queues a fenced write; batches run on the pool.
  void enqueue(FencedWrite write);
  void drain_store();

  // local_actor.cpp
  /// Answers the waiting caller `id` of `actor` (once: later answers are dropped).
  void answer(Actor& actor, std::uint64_t id, const Reply& reply);
  void answer_error(Actor& actor, std::uint64_t id, Error error);
  /// Answers a caller already taken out of its actor's list with `error`.
  void fail(Waiting& waiting, Error error);
  /// The actor left: `stop_call` hears ok, every other caller still waiting `stopped`.
  void finish_waiting(Actor& actor, std::uint64_t stop_call);
  /// Registers a waiting caller; mailbox_full beyond pending_max.
  Result<void> wait_for(const std::shared_ptr<Actor>& actor, Waiting& waiting);
  void emit(const LocalEvent& event);
  void remove(const std::shared_ptr<Actor>& actor);
};

/// The lease this node holds for `actor` (its owner is options.node).
inline Lease lease_of(const Actor& actor) {
  return Lease{actor.host->options.node, actor.epoch.load(std::memory_order_relaxed), 0};
}
/// Why the actor stopped ("" when no reason was set).
inline const std::string& reason_of(const Actor& actor) {
  static const std::string none;
  return actor.stop_reason ? *actor.stop_reason : none;
}

/// Strand side of an actor (local_actor.cpp).
void pump(const std::shared_ptr<Actor>& actor);
/// On the timer: answers overdue callers with `timeout`, ticks the core if due.
void on_wake(const std::shared_ptr<Actor>& actor, Time now);
/// On the strand: the tenant ends here with `reason` (fenced, store failure).
void fail_stop(const std::shared_ptr<Actor>& actor, const std::string& reason);
/// On the strand: the key space and lease are in (or failed); install or resume.
void begin(const std::shared_ptr<Actor>& actor, Result<Opened> opened, StartMode mode, std::uint64_t call,
           Time deadline);
/// On the strand: a graceful stop (stop()).
void begin_stop(const std::shared_ptr<Actor>& actor, std::uint64_t call, std::string reason);

}  // namespace plexus::tenants::local_detail
