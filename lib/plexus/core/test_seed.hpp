// The seeds of every seeded test (property tests, simulations), from one
// helper and one environment variable, so that a failure anywhere is replayed
// the same way:
//
//   PLEXUS_SEED=17      runs seed 17 alone (the command a failure prints)
//   PLEXUS_SEED=1..5000 runs seeds 1 to 5000 (a soak)
//   unset or empty      runs the test's own range
//
// Test support only: nothing in a library reads it.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace plexus::test_seed {

/// The one environment variable every seeded test reads.
inline constexpr const char* variable = "PLEXUS_SEED";

/// True when $PLEXUS_SEED is set and not empty.
inline bool from_env() {
  const char* text = std::getenv(variable);
  return text != nullptr && *text != '\0';
}

/// `count` seeds from `first`, or the seed or range `A..B` that $PLEXUS_SEED names.
inline std::vector<std::uint64_t> seeds(std::uint64_t count, std::uint64_t first = 1) {
  if (from_env()) {
    const char* text = std::getenv(variable);
    char* end = nullptr;
    first = std::strtoull(text, &end, 10);
    count = 1;
    if (std::strncmp(end, "..", 2) == 0) {
      const std::uint64_t last = std::strtoull(end + 2, nullptr, 10);
      count = last >= first ? last - first + 1 : 0;
    }
  }
  std::vector<std::uint64_t> out;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) out.push_back(first + i);
  return out;
}

/// The command that replays `seed` of `test_case` in the test executable
/// `binary` (a path relative to the build directory).
inline std::string replay(std::uint64_t seed, std::string_view binary, std::string_view test_case) {
  return "(in the build directory) " + std::string(variable) + "=" + std::to_string(seed) + " " +
         std::string(binary) + " -tc='" + std::string(test_case) + "'";
}

}  // namespace plexus::test_seed
