#include "plexus/node/join_retry.hpp"

#include <doctest/doctest.h>

using plexus::node::join_retry_delay;
using plexus::node::JoinRetryOptions;
using plexus::peer::Millis;

TEST_CASE("join retry delays grow exponentially, stay capped and are jittered") {
  // Proves the backoff schedule: attempt n waits between half and all of min(initial * 2^(n-1), max).
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const JoinRetryOptions options{Millis(100), Millis(3000), Millis(0)};
  for (std::uint32_t attempt = 1; attempt <= 40; ++attempt) {
    std::int64_t base = 100;
    for (std::uint32_t i = 1; i < attempt && base < 3000; ++i) base *= 2;
    base = std::min<std::int64_t>(base, 3000);
    for (int draw = 0; draw < 50; ++draw) {
      const auto delay = join_retry_delay(options, attempt, rng).count();
      REQUIRE(delay >= base - base / 2);
      REQUIRE(delay <= base);
    }
  }
  // Two nodes started together do not retry in step.
  std::mt19937_64 other(seed + 1);
  int same = 0;
  for (int i = 0; i < 20; ++i) same += join_retry_delay(options, 5, rng) == join_retry_delay(options, 5, other) ? 1 : 0;
  CHECK(same < 20);
}
