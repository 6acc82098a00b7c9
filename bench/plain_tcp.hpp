// Baselines over 127.0.0.1 with plain blocking sockets, so Plexus figures can
// be read as a ratio of what the kernel's loopback path gives for free:
// a TCP stream in the same two-thread shape as a transport cell (one thread
// writes large buffers with blocking write(), the other reads), and a
// ping-pong of small messages between two threads (TCP_NODELAY).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu_usage.hpp"

namespace plexus::bench {

struct PlainTcpSpec {
  double warmup_s = 0.3;
  double seconds = 2;
  std::size_t write_bytes = 1024 * 1024;  ///< like Options::write_batch_max_bytes
  std::size_t read_bytes = 256 * 1024;    ///< like Options::read_buffer_bytes
  bool pin_threads = true;
};

struct PlainTcpResult {
  std::uint64_t bytes = 0;  ///< read by the receiving thread within the window
  Window window;
  double writer_cpu_s = 0;  ///< CPU time of each thread within the window
  double reader_cpu_s = 0;
  std::string error;  ///< empty when it ran to the end
};

PlainTcpResult run_plain_tcp(const PlainTcpSpec& spec);

struct PingPongSpec {
  std::size_t round_trips = 20'000;  ///< measured
  std::size_t warmup = 1'000;        ///< before them, not measured
  std::size_t bytes = 64;            ///< each way
  double limit_s = 30;               ///< stop early after this long
};

struct PingPongResult {
  std::vector<std::int64_t> rtt_ns;  ///< sorted: send() of the request to recv() of the whole reply
  std::string error;                 ///< empty when it ran to the end
};

/// One thread sends `bytes` and waits for them back; the other echoes.
PingPongResult run_plain_ping_pong(const PingPongSpec& spec);

}  // namespace plexus::bench
