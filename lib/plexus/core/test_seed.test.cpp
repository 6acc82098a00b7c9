// core/test_seed.hpp: the one PLEXUS_SEED helper of every seeded test.
#include <doctest/doctest.h>

#include <cstdlib>
#include <vector>

#include "plexus/core/test_seed.hpp"

namespace plexus::test_seed {
namespace {

// Restores PLEXUS_SEED as the test found it (the suite may run under a replay).
struct EnvGuard {
  std::string saved;
  bool had = false;
  EnvGuard() {
    if (const char* v = std::getenv(variable)) saved = v, had = true;
  }
  ~EnvGuard() { had ? (void)setenv(variable, saved.c_str(), 1) : (void)unsetenv(variable); }
};

TEST_CASE("PLEXUS_SEED picks one seed, a range, or leaves the test its own range") {
  // Proves the three forms every seeded test accepts, and the printed replay command.
  EnvGuard guard;
  unsetenv(variable);
  CHECK_FALSE(from_env());
  CHECK(seeds(3) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(seeds(2, 0) == std::vector<std::uint64_t>{0, 1});
  setenv(variable, "", 1);
  CHECK(seeds(2) == std::vector<std::uint64_t>{1, 2});
  setenv(variable, "17", 1);
  CHECK(from_env());
  CHECK(seeds(500) == std::vector<std::uint64_t>{17});
  CHECK(seeds(40, 0) == std::vector<std::uint64_t>{17});
  setenv(variable, "5..8", 1);
  CHECK(seeds(500) == std::vector<std::uint64_t>{5, 6, 7, 8});
  setenv(variable, "8..5", 1);
  CHECK(seeds(500).empty());
  CHECK(replay(17, "lib/plexus/x/x_test", "a case*") ==
        "(in the build directory) PLEXUS_SEED=17 lib/plexus/x/x_test -tc='a case*'");
}

}  // namespace
}  // namespace plexus::test_seed
