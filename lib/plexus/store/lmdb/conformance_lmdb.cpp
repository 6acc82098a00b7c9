// The conformance suite's LMDB target (conformance.hpp): every open_fresh()
// is a new environment in a new temporary directory, removed by cleanup().
// Commits skip fsync (durable = false): the suite kills processes, not the
// machine, and page-cache writes survive a killed process; the fsync path is
// covered by lmdb_backend.test.cpp.
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "plexus/store/conformance.hpp"
#include "plexus/store/lmdb/lmdb_backend.hpp"

namespace plexus::store {
namespace {

struct Directories {
  std::string current;
  std::vector<std::string> made;
};

Directories& directories() {
  static Directories dirs;
  return dirs;
}

LmdbOptions options_for(const std::string& path) {
  LmdbOptions options;
  options.path = path;
  options.durable = false;
  options.map_size_bytes = std::size_t{1} << 30;
  return options;
}

Result<std::unique_ptr<Backend>> open_fresh() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/plexus-lmdb-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return make_error(errc::backend_error, "mkdtemp " + pattern);
  directories().current = pattern;
  directories().made.push_back(pattern);
  return open_lmdb(options_for(pattern));
}

}  // namespace

ConformanceTarget conformance_target() {
  ConformanceTarget target;
  target.name = "lmdb";
  target.open_fresh = open_fresh;
  target.reopen_same = [] { return open_lmdb(options_for(directories().current)); };
  target.cleanup = [] {
    std::error_code ignored;
    for (const auto& dir : directories().made) std::filesystem::remove_all(dir, ignored);
    directories().made.clear();
  };
  return target;
}

}  // namespace plexus::store
