// The node's datastore contexts as the contexts service shares them with its
// admin routes (internal to plexus::node): context::Contexts behind one
// operation lock, so that admin calls (which block: a PostgreSQL start
// connects, a registration waits for the io thread) run one at a time on
// admin threads, while /metrics, on the io thread, never waits for them: it
// renders when the lock is free and otherwise repeats its last rendering.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "plexus/context/contexts.hpp"

namespace plexus::node {

class ContextsHost {
 public:
  explicit ContextsHost(std::unique_ptr<context::Contexts> contexts) : contexts_(std::move(contexts)) {}

  /// Runs `fn(Contexts&)` under the operation lock (any thread but the io thread).
  template <class F>
  auto with(F&& fn) {
    std::lock_guard lock(ops_);
    return std::forward<F>(fn)(*contexts_);
  }

  /// Contexts::metrics_text() when no operation runs, else the last rendering. Never blocks.
  std::string metrics_text() {
    std::unique_lock lock(ops_, std::try_to_lock);
    std::lock_guard cache(cache_mutex_);
    if (lock.owns_lock()) cached_metrics_ = contexts_->metrics_text();
    return cached_metrics_;
  }

 private:
  std::mutex ops_;
  std::mutex cache_mutex_;
  std::string cached_metrics_;
  std::unique_ptr<context::Contexts> contexts_;
};

}  // namespace plexus::node
