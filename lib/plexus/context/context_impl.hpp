// The running half of one context: its store backend (opened with the
// context's role), the gated Database calls go through, and the supervisor
// thread that probes it and publishes its state. Internal to plexus::context.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "plexus/context/context.hpp"
#include "plexus/context/gated_backend.hpp"

namespace plexus::context {

struct Context::Impl : std::enable_shared_from_this<Context::Impl> {
  Impl(const DatastoreOptions& datastore, ContextOptions context);
  ~Impl();

  /// Opens the backend and starts the supervisor thread, which probes it. A
  /// PostgreSQL backend that cannot connect (`unavailable`: the server is
  /// down, the login refused) still starts: not_ready with the reason, the
  /// thread retrying the open with backoff until it works or the context parks.
  Result<void> start();
  /// Stops the thread, closes the gate, lets the backend go.
  void stop();
  [[nodiscard]] bool running() const;

  const std::string datastore_name;
  const ContextOptions options;
  const DatastoreOptions datastore;
  std::shared_ptr<detail::Gate> gate;
  /// Owned by `database` (created at the first start, kept across restarts).
  detail::GatedBackend* gated = nullptr;
  std::shared_ptr<store::Database> database;

  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool suspect = false;
  std::unique_ptr<Supervisor> supervisor;
  SupervisorCounters counters;
  std::deque<Transition> history;
  std::uint64_t dropped_seen = 0;
  std::thread thread;

 private:
  Result<std::shared_ptr<store::Backend>> open_backend() const;
  /// Creates `database` and `gated` around `inner` (null: not opened yet). Under `mutex`.
  void make_database(const std::shared_ptr<store::Backend>& inner);
  Probe probe();
  /// Publishes the supervisor's state to the gate, its transitions to the log. Under `mutex`.
  void publish();
  void run();
};

}  // namespace plexus::context
