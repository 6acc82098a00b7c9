// A benchmark worker: one io_context run by one thread, optionally pinned to
// a core, and `run_on` to execute a function on that thread and wait for its
// result (the way the main thread reads or drives state it does not own).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

namespace plexus::bench {

/// Name `thread` (shown by perf and top) and keep it on one core (`core` < 0:
/// leave it to the scheduler).
inline void place_thread(std::thread& thread, const char* name, int core) {
  pthread_setname_np(thread.native_handle(), name);  // at most 15 characters
  if (core < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(core) % std::max(1u, std::thread::hardware_concurrency()), &set);
  pthread_setaffinity_np(thread.native_handle(), sizeof set, &set);
}

class Worker {
 public:
  /// Start the thread; `core` < 0 leaves it unpinned.
  Worker(const char* name, int core)
      : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {
    place_thread(thread_, name, core);
  }
  ~Worker() { stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Stop running handlers and join; pending handlers stay queued until the
  /// io_context is destroyed.
  void stop() {
    if (!thread_.joinable()) return;
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  asio::io_context& io() noexcept { return io_; }
  asio::any_io_executor executor() { return io_.get_executor(); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

/// Run `f` on the worker's thread and return its result; throws when it has
/// not run within `limit` (the worker is stuck or stopped: a benchmark bug).
template <class F>
std::invoke_result_t<F&> run_on(Worker& worker, F f,
                                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  using R = std::invoke_result_t<F&>;
  auto task = std::make_shared<std::packaged_task<R()>>(std::move(f));
  auto result = task->get_future();
  asio::post(worker.io(), [task] { (*task)(); });
  if (result.wait_for(limit) != std::future_status::ready) {
    throw std::runtime_error("worker did not answer within " + std::to_string(limit.count()) + " ms");
  }
  return result.get();
}

/// Wait for a future with a bound; false when it did not become ready.
template <class T>
bool wait_bounded(std::future<T>& future, std::chrono::duration<double> limit) {
  return future.wait_for(limit) == std::future_status::ready;
}

}  // namespace plexus::bench
