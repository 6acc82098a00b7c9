// Plexus error codes, one std::error_category for the whole runtime. Every
// rejection reason that is counted in metrics has its own code here, so a
// test can assert the exact reason and an operator can grep for it.
#pragma once

#include <string_view>
#include <system_error>

#include "plexus/core/result.hpp"

namespace plexus {

enum class errc : int {
  ok = 0,
  // Configuration and JSON input.
  invalid_json = 1,
  invalid_field,
  io_error,
  // Frames and messages (wire).
  frame_too_large = 20,
  frame_truncated,
  malformed_message,
  // Handshake (secure).
  bad_magic = 40,
  version_mismatch,
  malformed_hello,
  insecure_mismatch,
  no_common_cipher,
  auth_failed,
  handshake_timeout,
  // Records (secure).
  record_tampered = 60,
  record_replayed,
  record_out_of_order,
  record_too_large,
  truncated_stream,
  // Connections (transport).
  dead_peer = 80,
  outbox_full,
  connection_closed,
  peer_closed,
  shutting_down,
  bad_key_file,
  too_many_handshakes,
  dial_failed,
  first_bytes_timeout,   ///< an accepted connection sent nothing in time (admission)
  evicted_table_full,    ///< a pending handshake evicted: the table was full
  evicted_source_limit,  ///< a pending handshake evicted: its address had too many
  // Peer service.
  unknown_node = 100,
  unknown_server,
  unknown_channel,
  not_connected,
  partitioned,
  ack_table_full,
  delivery_failed,
  timed_out,
};

const std::error_category& plexus_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), plexus_category()};
}

/// Stable short name of a code ("auth_failed"), used as a metric label.
std::string_view errc_name(errc e) noexcept;

/// Build an Error from a code and a detail string.
inline Error make_error(errc e, std::string detail = {}) {
  return Error{make_error_code(e), std::move(detail)};
}

}  // namespace plexus

template <>
struct std::is_error_code_enum<plexus::errc> : std::true_type {};
