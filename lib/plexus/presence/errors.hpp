// The "plexus.presence" error category: every rejection the tracker reports
// (API misuse, option validation, replication refusals) has its own code, so a
// test or an operator can tell them apart. Generic decoding errors use
// plexus::errc::malformed_message.
#pragma once

#include <string_view>
#include <system_error>

#include "plexus/core/result.hpp"

namespace plexus::presence {

enum class errc : int {
  ok = 0,
  already_tracked = 1,   ///< track() of an (owner, topic, key) already tracked
  not_tracked,           ///< untrack()/update() of something not tracked
  invalid_option,        ///< an Options field out of range; the detail names it
  pool_size_mismatch,    ///< a remote shard runs with another pool_size
  delta_gap,             ///< a delta starts after our knowledge of its replica
  stopped,               ///< the shard was permanently stopped (graceful_permdown)
  unknown_replica,       ///< a message from a replica we dropped (permdown / old instance)
  closed_owner,          ///< the Owner was closed
};

const std::error_category& presence_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
/// Stable short name ("delta_gap"), for metric labels and logs.
std::string_view errc_name(errc e) noexcept;

inline Error make_error(errc e, std::string detail = {}) {
  return Error{make_error_code(e), std::move(detail)};
}

}  // namespace plexus::presence

template <>
struct std::is_error_code_enum<plexus::presence::errc> : std::true_type {};
