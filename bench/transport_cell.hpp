// One benchmark cell: one Plexus connection over 127.0.0.1 between two
// endpoints in this process, each on its own io_context thread (sender on
// one core, receiver on the other). A producer on the sender's thread keeps
// the outbox full (send until outbox_full, resume from on_writable); the
// receiver counts what reaches its frame handler and checks the order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "cpu_usage.hpp"
#include "plexus/transport/options.hpp"

namespace plexus::bench {

struct CellSpec {
  bool insecure = false;
  std::size_t frame_bytes = 100;
  double warmup_s = 0.3;
  /// The window ends after this long or after max_bytes of payload, whichever is first.
  double seconds = 2;
  std::uint64_t max_bytes = 1ull << 40;
  transport::Options options;
  bool pin_threads = true;
};

struct CellResult {
  std::string mode;    ///< "encrypted" or "insecure"
  std::string cipher;  ///< what the connection negotiated
  std::size_t frame_bytes = 0;
  std::uint64_t frames = 0;  ///< delivered to the receiver's handler within the window
  std::uint64_t bytes = 0;   ///< payload bytes of those frames
  Window window;
  /// CPU time of each endpoint's thread within the window: the one near
  /// `window.seconds` is the bottleneck.
  double sender_cpu_s = 0;
  double receiver_cpu_s = 0;
  std::uint64_t writes = 0;  ///< sender socket writes within the window
  std::uint64_t wire_bytes = 0;  ///< sender bytes on the wire within the window
  /// Every frame arrived once, in order, whole, and all accepted frames
  /// arrived by the graceful close.
  bool verified = false;
  std::string error;  ///< empty when the cell ran to the end
};

/// Run one cell; never throws for a failed connection (see CellResult::error).
CellResult run_transport_cell(const CellSpec& spec);

}  // namespace plexus::bench
