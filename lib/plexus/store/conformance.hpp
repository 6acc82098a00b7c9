// The backend conformance suite's one seam: each backend defines
// conformance_target() in its own source (lmdb/conformance_lmdb.cpp,
// postgres/conformance_postgres.cpp) and links it with the shared test
// sources (conformance*.test.cpp) into its own executable
// (store_conformance_lmdb, store_conformance_postgres). The tests see only
// Database and Transaction, so whatever passes here keeps kv.hpp's promises.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "plexus/core/result.hpp"
#include "plexus/store/backend.hpp"

namespace plexus::store {

/// How the suite reaches one backend.
struct ConformanceTarget {
  /// Shown in test names and skip messages ("lmdb", "postgres").
  std::string name;
  /// A new, empty datastore; it becomes the "current" one.
  std::function<Result<std::unique_ptr<Backend>>()> open_fresh;
  /// Another handle on the current datastore (the same data, opened again).
  /// Must work in a child process after fork(), which the multi-process tests do.
  std::function<Result<std::unique_ptr<Backend>>()> reopen_same;
  /// Removes every datastore open_fresh made (called at the end of each test,
  /// after every handle is closed). May be empty.
  std::function<void()> cleanup;
  /// False when the backend cannot run here (no server); the tests then pass
  /// without checking anything and print skip_reason once.
  bool available = true;
  std::string skip_reason;
};

/// Defined once per conformance executable, by the backend under test.
ConformanceTarget conformance_target();

}  // namespace plexus::store
