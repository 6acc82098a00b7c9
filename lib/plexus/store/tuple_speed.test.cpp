// A timing loop, skipped by default: pack+unpack of a typical 4-element key,
// timed in process CPU time so that other load on the machine counts less.
// Run it with (in the build directory):
//   lib/plexus/store/store_tuple_test -tc='tuple pack+unpack throughput' --no-skip
#include <time.h>

#include <cstdio>

#include "plexus/store/tuple_test_support.hpp"

using namespace plexus::store;

namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

TEST_CASE("tuple pack+unpack throughput" * doctest::skip()) {
  // Proves nothing; prints how many pack+unpack pairs of (bytes prefix, "users", 12345, "email") run per CPU second.
  const Tuple key{Bytes{std::string("\x01tenant", 7)}, "users", 12345, "email"};
  constexpr int rounds = 5'000'000;
  std::string packed;
  std::size_t sink = 0;
  const double start = cpu_seconds();
  for (int i = 0; i < rounds; ++i) {
    packed.clear();
    auto done = pack_append(packed, key);
    auto back = unpack(packed);
    sink += back->size() + (done.ok() ? 1 : 0);
  }
  const double reused = cpu_seconds() - start;
  const double start_fresh = cpu_seconds();
  for (int i = 0; i < rounds; ++i) {
    auto p = pack(key);
    auto back = unpack(*p);
    sink += back->size();
  }
  const double fresh = cpu_seconds() - start_fresh;
  std::printf("pack_append (reused buffer) + unpack: %.1f M/s (%.0f ns); pack + unpack: %.1f M/s (%.0f ns)\n",
              rounds / reused / 1e6, reused / rounds * 1e9, rounds / fresh / 1e6, fresh / rounds * 1e9);
  CHECK(sink == std::size_t{rounds} * 9);
}
