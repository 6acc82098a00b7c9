// Runtime: what the services of a node run on. It owns the io_context (the
// node's one service thread), the worker pool that runs server handlers
// (shared by every service; the peer service no longer makes its own), the
// services, and a shutdown Gate: stop() stops the services in reverse order
// and completes when the last of them reported it stopped, with no polling.
#pragma once

#include <asio/io_context.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "plexus/core/gate.hpp"
#include "plexus/core/result.hpp"
#include "plexus/node/service.hpp"

namespace plexus::node {

class Runtime {
 public:
  /// `worker_threads` (at least 1) run server handlers; the io loop polls up
  /// to `busy_poll` after work before it blocks (transport::run_loop).
  Runtime(std::size_t worker_threads, std::chrono::microseconds busy_poll);
  /// Destroys the services (newest first), then joins the worker pool.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  [[nodiscard]] asio::io_context& io() noexcept { return io_; }
  [[nodiscard]] const std::shared_ptr<asio::thread_pool>& workers() const noexcept { return workers_; }
  /// Background work on the io thread holds this; stop() completes only
  /// once it is empty. Use on the io thread only.
  [[nodiscard]] Gate& gate() noexcept { return gate_; }

  /// Register a service; before start().
  void add(std::unique_ptr<Service> service);
  [[nodiscard]] const std::vector<std::unique_ptr<Service>>& services() const noexcept { return services_; }
  /// The registered service of type S, or null.
  template <class S>
  [[nodiscard]] S* find() const {
    for (const auto& service : services_) {
      if (auto* found = dynamic_cast<S*>(service.get())) return found;
    }
    return nullptr;
  }

  /// Start every service in order, then tell each that all started. On an
  /// error the services started so far are stopped (at once) and the error
  /// (which names what failed) is returned.
  Result<void> start();
  /// Stop every started service (newest first) on the io thread; `done` runs
  /// there once each has reported it stopped and the gate is empty. Once.
  void stop(std::function<void()> done);
  /// Run the io loop on this thread until the io_context is stopped.
  void run();

 private:
  asio::io_context io_{1};
  std::shared_ptr<asio::thread_pool> workers_;
  std::chrono::microseconds busy_poll_;
  Gate gate_;
  std::size_t started_ = 0;  // services_[0, started_) are running
  std::vector<std::unique_ptr<Service>> services_;  // last: destroyed first
};

}  // namespace plexus::node
