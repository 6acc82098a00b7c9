// The PostgreSQL backend's bounded connection pool: at most size_max
// connections open, at most waiters_max threads waiting for one, each for at
// most wait_timeout. A broken connection is dropped on release and its slot
// reopened on demand; after a failed connection attempt the next one waits a
// jittered, doubling backoff, so a down server costs one attempt per backoff,
// not one per caller. Internal to lib/plexus/store/postgres.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/store/postgres/connection.hpp"

namespace plexus::store::postgres {

struct PoolOptions {
  std::size_t size_max = 8;
  std::size_t waiters_max = 64;
  std::chrono::milliseconds wait_timeout{2'000};
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{5'000};
};

/// What the pool has seen so far, for a context's supervisor and /metrics.
struct PoolCounters {
  std::size_t open = 0;                 ///< connections open now (idle, leased, being opened)
  std::size_t idle = 0;                 ///< of those, idle in the pool
  std::uint64_t connects = 0;           ///< connections opened
  std::uint64_t connect_failures = 0;   ///< connection attempts that failed
  std::uint64_t dropped = 0;            ///< connections found broken (on release or while idle) and closed
  std::string last_failure;             ///< the last failed attempt's reason (no secrets: masked)
};

class Pool {
 public:
  /// Opens one new connection (prepared and ready), or says why not.
  using Connect = std::function<Result<std::unique_ptr<Connection>>()>;

  Pool(PoolOptions options, Connect connect);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// A usable connection outside any transaction: an idle one, else a new one
  /// while fewer than size_max are open, else the first one released within
  /// wait_timeout. Errors: unavailable (pool exhausted, too many waiters, the
  /// server unreachable or in its reconnect backoff).
  Result<std::unique_ptr<Connection>> acquire();
  /// Returns a connection. A broken one, or one still inside a transaction, is
  /// closed and its slot freed for a new connection.
  void release(std::unique_ptr<Connection> connection) noexcept;

  /// Connections open now (idle, leased, or being opened).
  [[nodiscard]] std::size_t open_count() const;
  [[nodiscard]] PoolCounters counters() const;

 private:
  Result<std::unique_ptr<Connection>> open_new(std::unique_lock<std::mutex>& lock);

  const PoolOptions options_;
  const Connect connect_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
  std::size_t waiters_ = 0;
  std::chrono::milliseconds backoff_{0};
  Clock::time_point next_attempt_{};
  std::string last_failure_;
  std::uint64_t connects_ = 0;
  std::uint64_t connect_failures_ = 0;
  std::uint64_t dropped_ = 0;
  std::mt19937_64 random_;
};

}  // namespace plexus::store::postgres
