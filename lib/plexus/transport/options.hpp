// Transport options: every limit and timer of a connection, with defaults.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "plexus/transport/admission.hpp"

namespace plexus::transport {

using Millis = std::chrono::milliseconds;

struct Options {
  /// Largest frame body accepted or sent.
  std::size_t max_frame_bytes = 16 * 1024 * 1024;
  /// Largest plaintext per encrypted record.
  std::size_t record_max_bytes = 256 * 1024;
  /// Outbox bounds: a send that would pass either fails with outbox_full.
  /// 8 MiB measured +22% at 64 KiB frames over 64 MiB (bench/transport): a
  /// smaller backlog is sealed while still in cache.
  std::size_t outbox_max_bytes = 8 * 1024 * 1024;
  std::size_t outbox_max_frames = 4 * 1024 * 1024;
  /// Frames are appended into chunks of this size (a larger frame gets its own).
  std::size_t outbox_chunk_bytes = 256 * 1024;
  /// Most bytes of queued frames taken into one write.
  std::size_t write_batch_max_bytes = 1024 * 1024;
  /// A frame sent while the writer is idle is sealed and written from the
  /// send call itself (what the socket does not take at once goes through
  /// the writer). Saves a wakeup and a post per message on request/response
  /// traffic; frames sent in a burst still batch, as only the first send after
  /// each socket read (or idle writer) writes through.
  bool write_through = true;
  /// A connection whose I/O runs on another executor (Connection::move_io)
  /// stops reading while this many bytes of frames read wait to be handled
  /// at home.
  std::size_t handoff_max_bytes = 512 * 1024;
  /// Split: at most this many bytes of those frames are handled at home per
  /// turn (one frame at least); the rest is posted again, so a stream's
  /// batch cannot hold up the other connections' reads on the executor.
  std::size_t home_slice_bytes = 64 * 1024;
  /// The same for frames made ready on the I/O side (Connection::set_preparer),
  /// which cost home little whatever their size: at most this many per turn.
  std::size_t home_slice_prepared = 32;
  /// Outgoing connections are bound to this source IP before they connect
  /// ("" lets the kernel choose). A dial to a peer of the other address
  /// family ignores it. The peer service defaults it to its listen address
  /// when that is one specific address (default_source_address()).
  std::string source_address;
  /// Size of each socket read.
  std::size_t read_buffer_bytes = 256 * 1024;
  /// A tick is sent when nothing else was written for this long.
  Millis heartbeat_interval{1000};
  /// The peer is declared dead when nothing arrived for this long. (The
  /// peer service watches nodes with its own, faster heartbeats; this reaps
  /// connections that went silent.)
  Millis dead_peer_timeout{5000};
  /// Whole handshake must finish within this.
  Millis handshake_timeout{5000};
  /// Admission of incoming handshakes on one listener (admission.hpp):
  /// table size, the share reserved for members' addresses, the per-address
  /// limit of strangers, the first-bytes deadline.
  AdmissionLimits admission;
  /// A graceful close that the peer does not finish within this is aborted.
  Millis close_timeout{2000};
};

/// The source address outgoing connections default to for a node listening
/// on `listen_ip`: the address itself, or "" (the kernel chooses) for a
/// wildcard (0.0.0.0, ::) or text that is not an IP address.
[[nodiscard]] std::string default_source_address(std::string_view listen_ip);

}  // namespace plexus::transport
