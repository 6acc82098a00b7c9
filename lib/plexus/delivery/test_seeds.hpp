// Seeds for the delivery simulation tests: core/test_seed.hpp (PLEXUS_SEED
// replays one; every failure prints the command) with this executable's name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plexus/core/test_seed.hpp"

namespace plexus::delivery::test {

/// Seeds 1..count, or what $PLEXUS_SEED names.
inline std::vector<std::uint64_t> seeds(std::uint64_t count) { return test_seed::seeds(count); }

/// The command that replays one seed of one test case.
inline std::string replay(std::uint64_t seed, const char* test_case) {
  return test_seed::replay(seed, "lib/plexus/delivery/delivery_test", test_case);
}

}  // namespace plexus::delivery::test
