// Helpers of the LMDB backend's own tests: a temporary environment directory
// removed afterwards, and a Database over open_lmdb() that keeps a pointer to
// its backend for lmdb_counters().
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "plexus/store/kv.hpp"
#include "plexus/store/lmdb/lmdb_backend.hpp"

namespace plexus::store::testing {

/// A new directory under $TMPDIR (or /tmp), removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/plexus-lmdb-test-XXXXXX";
    if (::mkdtemp(path.data()) == nullptr) path.clear();
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

/// A datastore on LMDB and its backend (owned by the Database).
struct LmdbDatabase {
  std::unique_ptr<Database> db;
  Backend* backend = nullptr;

  [[nodiscard]] LmdbCounters counters() const { return *lmdb_counters(*backend); }
};

/// Opens `options` as a Database; db is null when opening failed.
inline LmdbDatabase open_database(const LmdbOptions& options, Limits limits = {}) {
  auto backend = open_lmdb(options);
  if (!backend) return {};
  LmdbDatabase opened;
  opened.backend = backend->get();
  opened.db = std::make_unique<Database>("lmdb-test", std::move(*backend), limits);
  return opened;
}

inline LmdbOptions options_at(const std::string& path, bool durable = false) {
  LmdbOptions options;
  options.path = path;
  options.durable = durable;
  options.map_size_bytes = std::size_t{1} << 30;
  return options;
}

}  // namespace plexus::store::testing
