// The bounded connection pool with reconnect backoff (pool.hpp).
#include "plexus/store/postgres/pool.hpp"

#include <algorithm>
#include <utility>

#include "plexus/store/errors.hpp"

namespace plexus::store::postgres {
namespace {

/// Passes of acquire()'s wait loop: each one sleeps on the condition variable
/// until a change or the deadline, so this only guards against a spin.
constexpr int acquire_passes_max = 100'000;

}  // namespace

Pool::Pool(PoolOptions options, Connect connect)
    : options_(options), connect_(std::move(connect)), random_(std::random_device{}()) {}

Pool::~Pool() = default;

std::size_t Pool::open_count() const {
  std::lock_guard lock(mutex_);
  return open_;
}

PoolCounters Pool::counters() const {
  std::lock_guard lock(mutex_);
  return PoolCounters{open_, idle_.size(), connects_, connect_failures_, dropped_, last_failure_};
}

Result<std::unique_ptr<Connection>> Pool::acquire() {
  std::unique_lock lock(mutex_);
  const auto deadline = Clock::now() + options_.wait_timeout;
  bool waiting = false;  // counted in waiters_
  struct Leave {
    std::size_t& waiters;
    bool& waiting;
    ~Leave() {
      if (waiting) --waiters;
    }
  } leave{waiters_, waiting};
  for (int pass = 0; pass < acquire_passes_max; ++pass) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      if (connection->probe()) return connection;
      --open_;  // closed by the server while idle (a restart): drop it, try the next
      ++dropped_;
    }
    const auto now = Clock::now();
    if (open_ < options_.size_max) {
      if (now >= next_attempt_) return open_new(lock);
      if (next_attempt_ > deadline) {
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now);
        return make_error(errc::unavailable, "PostgreSQL unreachable; next connection attempt in " +
                                                 std::to_string(wait.count()) + " ms; last failure: " +
                                                 last_failure_);
      }
    } else if (now >= deadline) {
      return make_error(errc::unavailable, "connection pool: all " + std::to_string(options_.size_max) +
                                               " connections busy for pool_wait_timeout (" +
                                               std::to_string(options_.wait_timeout.count()) + " ms)");
    }
    if (!waiting) {
      if (waiters_ >= options_.waiters_max) {
        return make_error(errc::unavailable, "connection pool: all " + std::to_string(options_.size_max) +
                                                 " connections busy and " + std::to_string(waiters_) +
                                                 " threads already waiting (pool_waiters_max)");
      }
      ++waiters_;
      waiting = true;
    }
    changed_.wait_until(lock, open_ < options_.size_max ? next_attempt_ : deadline);
  }
  return make_error(errc::unavailable, "connection pool: no connection after waiting");
}

Result<std::unique_ptr<Connection>> Pool::open_new(std::unique_lock<std::mutex>& lock) {
  ++open_;  // the slot is taken while connecting, outside the lock
  lock.unlock();
  auto connection = connect_();
  lock.lock();
  if (connection.ok()) {
    ++connects_;
    backoff_ = std::chrono::milliseconds{0};
    return connection;
  }
  --open_;
  ++connect_failures_;
  // Doubling backoff, drawn in [backoff/2, backoff] so that many nodes
  // reconnecting after a server restart do not arrive in step.
  backoff_ = backoff_.count() == 0 ? options_.backoff_initial : std::min(backoff_ * 2, options_.backoff_max);
  std::uniform_int_distribution<long long> draw(backoff_.count() / 2, backoff_.count());
  next_attempt_ = Clock::now() + std::chrono::milliseconds{draw(random_)};
  last_failure_ = connection.error().detail;
  changed_.notify_all();
  return connection.error();
}

void Pool::release(std::unique_ptr<Connection> connection) noexcept {
  if (!connection) return;
  std::unique_lock lock(mutex_);
  if (connection->broken() || !connection->idle()) {
    --open_;
    if (connection->broken()) ++dropped_;
    lock.unlock();
    connection.reset();  // PQfinish outside the lock
  } else {
    idle_.push_back(std::move(connection));
    lock.unlock();
  }
  changed_.notify_one();
}

}  // namespace plexus::store::postgres
