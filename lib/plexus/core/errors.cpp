#include "plexus/core/error_category.hpp"
#include "plexus/core/errors.hpp"

#include <string>

namespace plexus {
namespace {

ErrorText describe(errc e) noexcept {
  switch (e) {
    case errc::ok: return {"ok", "success"};
    case errc::invalid_json: return {"invalid_json", "invalid JSON"};
    case errc::invalid_field: return {"invalid_field", "invalid field"};
    case errc::io_error: return {"io_error", "I/O error"};
    case errc::frame_too_large: return {"frame_too_large", "frame larger than the limit"};
    case errc::frame_truncated: return {"frame_truncated", "frame truncated"};
    case errc::malformed_message: return {"malformed_message", "malformed message"};
    case errc::bad_magic: return {"bad_magic", "not a Plexus peer (bad magic)"};
    case errc::version_mismatch: return {"version_mismatch", "protocol version mismatch"};
    case errc::malformed_hello: return {"malformed_hello", "malformed hello"};
    case errc::insecure_mismatch: return {"insecure_mismatch", "insecure mode not agreed by both sides"};
    case errc::no_common_cipher: return {"no_common_cipher", "no common record cipher"};
    case errc::auth_failed: return {"auth_failed", "peer authentication failed (wrong cluster key?)"};
    case errc::handshake_timeout: return {"handshake_timeout", "handshake timed out"};
    case errc::record_tampered: return {"record_tampered", "record failed authentication (tampered)"};
    case errc::record_replayed: return {"record_replayed", "replayed record"};
    case errc::record_out_of_order: return {"record_out_of_order", "record out of order"};
    case errc::record_too_large: return {"record_too_large", "record larger than the limit"};
    case errc::truncated_stream: return {"truncated_stream", "stream truncated (closed without close record)"};
    case errc::dead_peer: return {"dead_peer", "peer silent past the dead-peer timeout"};
    case errc::outbox_full: return {"outbox_full", "outbox full"};
    case errc::connection_closed: return {"connection_closed", "connection closed"};
    case errc::peer_closed: return {"peer_closed", "peer closed the connection"};
    case errc::shutting_down: return {"shutting_down", "shutting down"};
    case errc::bad_key_file: return {"bad_key_file", "bad cluster key file"};
    case errc::too_many_handshakes: return {"too_many_handshakes", "too many handshakes in progress"};
    case errc::dial_failed: return {"dial_failed", "could not connect"};
    case errc::first_bytes_timeout: return {"first_bytes_timeout", "sent nothing within the first-bytes deadline"};
    case errc::evicted_table_full: return {"evicted_table_full", "pending handshake evicted: handshake table full"};
    case errc::evicted_source_limit:
      return {"evicted_source_limit", "pending handshake evicted: too many from its address"};
    case errc::unknown_node: return {"unknown_node", "unknown node"};
    case errc::unknown_server: return {"unknown_server", "unknown server"};
    case errc::unknown_channel: return {"unknown_channel", "unknown channel"};
    case errc::not_connected: return {"not_connected", "not connected"};
    case errc::partitioned: return {"partitioned", "partitioned"};
    case errc::ack_table_full: return {"ack_table_full", "acknowledgement table full"};
    case errc::delivery_failed: return {"delivery_failed", "delivery failed"};
    case errc::timed_out: return {"timed_out", "timed out"};
  }
  return {"unknown", "unknown error"};
}

}  // namespace

const std::error_category& plexus_category() noexcept {
  static const DescribedCategory<errc, describe> category("plexus");
  return category;
}

std::string_view errc_name(errc e) noexcept { return describe(e).name; }

}  // namespace plexus
