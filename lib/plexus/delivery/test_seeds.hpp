// Seeds for the simulation tests: 1..count, or only $PLEXUS_SEED when set so
// that a failing seed can be replayed alone (every failure prints the command).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace plexus::delivery::test {

inline std::vector<std::uint64_t> seeds(std::uint64_t count) {
  if (const char* one = std::getenv("PLEXUS_SEED"); one != nullptr && *one != '\0') {
    return {std::strtoull(one, nullptr, 10)};
  }
  std::vector<std::uint64_t> out;
  for (std::uint64_t seed = 1; seed <= count; ++seed) out.push_back(seed);
  return out;
}

/// The command that replays one seed of one test case.
inline std::string replay(std::uint64_t seed, const char* test_case) {
  return "(in the build directory) PLEXUS_SEED=" + std::to_string(seed) +
         " lib/plexus/delivery/delivery_test -tc='" + test_case + "'";
}

}  // namespace plexus::delivery::test
