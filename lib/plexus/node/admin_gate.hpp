// The admin API's front door (internal to plexus::node): it accepts the
// connections, reads each request on one event-loop thread until the request
// is whole, and only then hands it to an admin thread. So a client that
// opens connections and sends half a request (a slowloris) costs a socket and
// a buffer, never a thread: the threads only ever see complete requests.
//
// Limits, each an option of the node (docs/operations.md):
//  - connections_max open at once; a newcomer past it closes the oldest
//    connection still reading its request (counted "evicted"), so the newest
//    client, the one most likely to be a person or a probe, always gets in;
//  - read_timeout: the whole request (header, and the body the gate
//    buffers) must arrive within it from the accept ("read_timeout");
//  - queue_max whole requests waiting for a thread; past it the request gets
//    503 at once ("queue_full");
//  - a header over 8 KiB gets 431 ("header_too_large").
// One request per connection (the answer says Connection: close): a
// keep-alive connection would pin a thread while idle.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "plexus/core/node_spec.hpp"
#include "plexus/core/result.hpp"
#include "plexus/node/node.hpp"

namespace plexus::node {

/// Counts of the gate, for /metrics.
struct AdminGateCounts {
  std::uint64_t connections = 0;   ///< open, reading their request
  std::uint64_t queued = 0;        ///< whole requests waiting for a thread
  std::uint64_t accepted = 0;      ///< since start
  std::map<std::string, std::uint64_t> closed;  ///< by reason, since start
};

class AdminGate {
 public:
  /// Handles one whole request on an admin thread; the stream reads the
  /// buffered request, then the socket, under the connection's deadline.
  using Serve = std::function<void(httplib::Stream&)>;

  /// Bind and listen now (port 0 picks one), so a bad address fails before anything starts.
  static Result<std::unique_ptr<AdminGate>> bind(const ListenAddr& address);
  ~AdminGate();
  AdminGate(const AdminGate&) = delete;
  AdminGate& operator=(const AdminGate&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// Start the event-loop thread and `threads` admin threads.
  void start(const AdminLimits& limits, std::size_t threads, Serve serve);
  /// Stop accepting, close what waits, join every thread (requests being
  /// served finish first).
  void stop();
  [[nodiscard]] AdminGateCounts counts() const;

 private:
  struct Reading {
    std::uint64_t seq = 0;
    std::chrono::steady_clock::time_point accepted;
    std::string buffer;
  };
  struct Whole {
    int fd = -1;
    std::chrono::steady_clock::time_point deadline;
    std::string buffer;
  };

  AdminGate(int listen_fd, std::uint16_t port);
  void loop();
  void accept_all();
  void on_readable(int fd);
  void close_reading(int fd, const char* reason);
  void expire();
  void enqueue(int fd, Reading reading);
  void work();
  void count_closed(const char* reason);

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::uint16_t port_ = 0;
  AdminLimits limits_;
  Serve serve_;
  std::atomic<bool> stopping_{false};
  std::thread loop_thread_;
  std::vector<std::thread> workers_;

  // Event-loop thread only.
  std::unordered_map<int, Reading> reading_;
  std::map<std::uint64_t, int> by_age_;  // seq -> fd, oldest first
  std::uint64_t next_seq_ = 1;

  mutable std::mutex mutex_;  // guards what follows
  std::condition_variable work_ready_;
  std::deque<Whole> queue_;
  AdminGateCounts counts_;
};

}  // namespace plexus::node
