#include "plexus/peer/bulk_io.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>

#include <spdlog/spdlog.h>

namespace plexus::peer {

namespace {

// Lower this thread's priority as configured; a failure is logged, not fatal.
void lower_priority(int nice, bool idle) {
  if (idle) {
    const sched_param param{};
    if (const int error = ::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param); error != 0) {
      spdlog::warn("bulk I/O thread: cannot use SCHED_IDLE ({}): it runs at the process's priority",
                   std::strerror(error));
    }
    return;
  }
  if (nice != 0 && ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) != 0) {
    spdlog::warn("bulk I/O thread: cannot set nice {}", nice);
  }
}

}  // namespace

BulkIo::BulkIo(int nice, bool idle) : guard_(io_.get_executor()) {
  std::promise<void> prioritized;
  auto ready = prioritized.get_future();
  thread_ = std::thread([this, nice, idle, &prioritized] {
    lower_priority(nice, idle);
    prioritized.set_value();  // no connection runs on it before this
    io_.run();
    {
      const std::lock_guard lock(mutex_);
      ran_out_ = true;
    }
    ran_out_changed_.notify_all();
  });
  pthread_setname_np(thread_.native_handle(), "plexus-bulk");
  ready.wait();
}

BulkIo::~BulkIo() { stop(); }

void BulkIo::stop() {
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {  // cannot join itself (not expected)
    io_.stop();
    thread_.detach();
    return;
  }
  guard_.reset();
  // Bounded: waits for the run loop to run out of work, then stops it.
  {
    std::unique_lock lock(mutex_);
    ran_out_changed_.wait_for(lock, stop_wait_max, [this] { return ran_out_; });
  }
  io_.stop();
  thread_.join();
}

}  // namespace plexus::peer
