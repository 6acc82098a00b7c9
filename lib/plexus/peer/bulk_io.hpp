// BulkIo: the thread that runs the I/O of bulk channels' connections
// (Config::bulk_channels): sealing, writing, reading and opening their
// records, off the peer service's executor, at a lower scheduling priority
// (Config::bulk_io_idle, bulk_io_nice) so that a stream cannot hold up latency-sensitive
// channels or handlers. Internal to plexus::peer.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace plexus::peer {

class BulkIo {
 public:
  /// Start the thread; `idle`: under SCHED_IDLE, otherwise at `nice` (0:
  /// unchanged). Either applies to this thread alone.
  BulkIo(int nice, bool idle);
  ~BulkIo();
  BulkIo(const BulkIo&) = delete;
  BulkIo& operator=(const BulkIo&) = delete;

  [[nodiscard]] asio::any_io_executor executor() { return io_.get_executor(); }
  /// Let the connections on it wind down (they were closed or aborted),
  /// then end the thread: after at most about a second it is stopped anyway.
  void stop();

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  /// Longest stop() waits for the connections on the thread to wind down.
  static constexpr std::chrono::seconds stop_wait_max{1};
  std::mutex mutex_;
  std::condition_variable ran_out_changed_;
  bool ran_out_ = false;  ///< the thread's run loop ran out of work (guarded by mutex_)
  std::thread thread_;
};

}  // namespace plexus::peer
