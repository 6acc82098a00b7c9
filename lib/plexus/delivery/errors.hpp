// Error codes of the delivery layer (ack/retransmit, dedupe, causal order),
// in their own std::error_category ("plexus.delivery") so that this folder
// does not grow the runtime-wide plexus::errc. Each code names one defined
// behaviour at a limit or one reason a message was given up, so the shell
// can fire the sender's error callback with it and count it in metrics.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include "plexus/core/result.hpp"

namespace plexus::delivery {

enum class errc : int {
  ok = 0,
  // AckTable (sender side of `ack: true`).
  ack_table_full = 1,  ///< max_entries, max_bytes or max_targets reached
  target_left,         ///< fail_target(): the target left the cluster
  gave_up,             ///< max_attempts transmissions without an ack
  too_old,             ///< unacknowledged for longer than max_age
  // Causal delivery.
  causal_buffer_full = 20,  ///< max_buffered messages already wait
  stale_clock,              ///< the message was already delivered (or is buffered)
  malformed_stamp,          ///< stamp without the sender's own entry, or oversized
  too_many_processes,       ///< max_processes distinct process ids reached
  too_many_labels,          ///< CausalRegistry: max_labels reached
  self_destination,         ///< a process cannot send a causal message to itself
};

/// The category of delivery::errc; name() is "plexus.delivery".
const std::error_category& delivery_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), delivery_category()};
}

/// Stable short name of a code ("gave_up"), used as a metric label.
std::string_view errc_name(errc e) noexcept;

/// Build an Error from a delivery code and a detail string.
inline Error make_error(errc e, std::string detail = {}) {
  return Error{make_error_code(e), std::move(detail)};
}

}  // namespace plexus::delivery

template <>
struct std::is_error_code_enum<plexus::delivery::errc> : std::true_type {};
