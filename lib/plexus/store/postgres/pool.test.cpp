// The connection pool without a server: a failing server costs one connection
// attempt per backoff, not one per caller, and a caller's wait stays bounded.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "plexus/store/errors.hpp"
#include "plexus/store/postgres/pool.hpp"

using namespace plexus;
using namespace plexus::store;
using namespace plexus::store::postgres;
using namespace std::chrono_literals;

namespace {

/// A Connect that always fails, counting its attempts.
Pool::Connect refusing(int& attempts) {
  return [&attempts]() -> Result<std::unique_ptr<Connection>> {
    ++attempts;
    return make_error(errc::unavailable, "connection refused (attempt " + std::to_string(attempts) + ")");
  };
}

}  // namespace

TEST_CASE("while the reconnect backoff outlasts the wait, acquire() fails at once without a new attempt") {
  // Proves a down server costs one connection attempt per backoff, not one per caller, and callers fail fast.
  int attempts = 0;
  Pool pool(PoolOptions{.size_max = 2, .waiters_max = 4, .wait_timeout = 20ms, .backoff_initial = 2s,
                        .backoff_max = 4s},
            refusing(attempts));
  auto first = pool.acquire();
  REQUIRE_FALSE(first.ok());
  CHECK(is(first.error(), errc::unavailable));
  CHECK(attempts == 1);
  const auto started = Clock::now();
  for (int i = 0; i < 10; ++i) {
    auto again = pool.acquire();
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().detail.find("next connection attempt in") != std::string::npos);
    CHECK(again.error().detail.find("attempt 1") != std::string::npos);  // the last failure, kept
  }
  CHECK(attempts == 1);
  CHECK(Clock::now() - started < 1s);
  CHECK(pool.open_count() == 0);
}

TEST_CASE("a caller whose wait outlasts a short backoff waits for it and tries again") {
  // Proves a caller with time to spare waits out the backoff and attempts again.
  int attempts = 0;
  Pool pool(PoolOptions{.size_max = 1, .waiters_max = 4, .wait_timeout = 5s, .backoff_initial = 40ms,
                        .backoff_max = 80ms},
            refusing(attempts));
  REQUIRE_FALSE(pool.acquire().ok());
  const auto started = Clock::now();
  REQUIRE_FALSE(pool.acquire().ok());
  const auto waited = Clock::now() - started;
  CHECK(attempts == 2);
  CHECK(waited >= 20ms);  // at least half the backoff (the jitter's floor)
  CHECK(waited < 2s);
}

TEST_CASE("a pool that may keep no waiters refuses a caller it cannot serve at once") {
  // Proves pool_waiters_max = 0 refuses any caller that would have to wait.
  int attempts = 0;
  Pool pool(PoolOptions{.size_max = 1, .waiters_max = 0, .wait_timeout = 5s, .backoff_initial = 1s,
                        .backoff_max = 1s},
            refusing(attempts));
  REQUIRE_FALSE(pool.acquire().ok());
  auto refused = pool.acquire();
  REQUIRE_FALSE(refused.ok());
  CHECK(attempts == 1);
}
