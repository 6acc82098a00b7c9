// The "plexus.replica" error category: the rejections of a replica::Map
// (a batch, a digest or a write beyond its limits).
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "plexus/core/result.hpp"

namespace plexus::replica {

enum class errc : int {
  ok = 0,
  too_many_entries = 1,  ///< more than Limits::entries_max entries or digest entries
  version_exhausted,     ///< a write on an entry already at Limits::version_max
  invalid_version,       ///< a merged entry's version outside 1..Limits::version_max
};

/// The "plexus.replica" error category.
const std::error_category& replica_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
/// Stable short name of a code ("too_many_entries"), for metric labels.
std::string_view errc_name(errc e) noexcept;
/// Error{make_error_code(code), detail}.
Error make_error(errc code, std::string detail);

}  // namespace plexus::replica

template <>
struct std::is_error_code_enum<plexus::replica::errc> : std::true_type {};
