// Baseline: a plain TCP stream over 127.0.0.1 in the same two-thread shape
// as a transport cell (one thread writes large buffers with blocking write(),
// the other reads), so transport figures can be read as a ratio of what the
// kernel's loopback path gives for free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

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

}  // namespace plexus::bench
