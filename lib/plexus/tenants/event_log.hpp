// EventLog: the node's durable outbox of tenant lifecycle events (install,
// update, uninstall, error_occurred: the seed's send_event payloads). The
// runner appends each event the LocalTenants host emits and acknowledges it
// to the host only once the append committed, so a crash re-emits an event
// rather than loses it; subscribers (the admin API's long poll, embedders'
// callbacks) read it by sequence number and get every event at least once,
// deduplicating by the event's idempotency key.
//
// Layout, in the datastore's system subspace (store's `ff` prefix), one log
// per node so nodes sharing a datastore keep their own:
//   ff + pack(("plexus_tenants", "events", node, seq))
//        -> pack((tenant, kind, ok, reason, key, generation, unix_ms))
// seq starts at 1 and only grows (the next one is read back at open); only
// the last keep_max events are kept (older ones are cleared by the append).
//
// append() and read() block (store calls): run them on a worker. Every
// method is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plexus/store/kv.hpp"
#include "plexus/tenants/lifecycle.hpp"

namespace plexus::tenants {

struct EventLogOptions {
  /// Events kept; an append clears those older than the last keep_max.
  std::uint64_t keep_max = 10'000;
  /// Most events one read() returns.
  std::size_t read_max = 1'000;
};

/// One event as logged.
struct LoggedEvent {
  std::uint64_t seq = 0;  ///< node-local, increasing
  std::string tenant;
  EventKind kind = EventKind::install;
  bool ok = true;
  std::string reason;
  std::string key;  ///< the lifecycle's idempotency key "<tenant>:<incarnation>:<seq>"
  std::uint64_t generation = 0;
  std::int64_t unix_ms = 0;  ///< when it was logged (wall clock)
  friend bool operator==(const LoggedEvent&, const LoggedEvent&) = default;
};

/// A page of read(): events after the asked sequence, and where to resume.
struct EventPage {
  std::vector<LoggedEvent> events;
  std::uint64_t next = 0;  ///< the last seq returned (or the asked one when none)
  std::uint64_t first_kept = 0;  ///< the oldest seq still kept (0: empty log); older ones were dropped
};

class EventLog {
 public:
  using Subscriber = std::function<void(const LoggedEvent&)>;

  /// Opens `node`'s log in `database`, reading back its last sequence;
  /// invalid_argument for zero limits or a malformed stored key.
  static Result<std::shared_ptr<EventLog>> open(std::shared_ptr<store::Database> database, std::string node,
                                                EventLogOptions options = {});

  /// Appends `event` in one transaction (with the retention clear); returns its seq once committed.
  Result<std::uint64_t> append(const Event& event);
  /// Events with seq > after, at most min(limit, read_max) (0: read_max).
  Result<EventPage> read(std::uint64_t after, std::size_t limit) const;
  /// Blocks until an event after `after` is logged, `deadline` passes, or
  /// close(); true when one is there.
  bool wait(std::uint64_t after, std::chrono::steady_clock::time_point deadline) const;
  /// The last seq appended (0: none).
  [[nodiscard]] std::uint64_t last() const;
  /// Wakes every wait() for good (shutdown).
  void close();

  /// Calls `fn` after each committed append, on the appending thread (must
  /// not block); returns an id for unsubscribe().
  std::uint64_t subscribe(Subscriber fn);
  void unsubscribe(std::uint64_t id);

 private:
  EventLog(std::shared_ptr<store::Database> database, std::string node, EventLogOptions options, std::uint64_t last);
  Result<std::string> key_of(std::uint64_t seq) const;

  std::shared_ptr<store::Database> database_;
  std::string node_;
  EventLogOptions options_;
  std::string prefix_;  ///< ff + pack(("plexus_tenants", "events", node))
  std::mutex append_mutex_;  ///< one append at a time: seqs commit in order
  mutable std::mutex mutex_;
  mutable std::condition_variable appended_;
  std::uint64_t last_ = 0;
  bool closed_ = false;
  std::map<std::uint64_t, Subscriber> subscribers_;
  std::uint64_t next_subscriber_ = 1;
};

}  // namespace plexus::tenants
