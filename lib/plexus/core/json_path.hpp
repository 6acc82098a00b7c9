// Field paths for JSON validation errors: "listen_addrs[1].port: must be ...".
// Keys come from untrusted input, so they are shown printable and cut short.
#pragma once

#include <string>
#include <string_view>

#include "plexus/core/result.hpp"

namespace plexus::json_path {

/// Path shown for the document itself.
inline constexpr std::string_view root = "(root)";
/// Longest key echoed in a path, so a hostile key cannot flood the log.
inline constexpr std::size_t key_max_bytes = 64;

/// errc::invalid_field with detail "<path>: <what>".
Error field_error(std::string_view path, std::string_view what);
/// Printable ASCII as is, other bytes as \xNN, cut after key_max_bytes.
std::string printable(std::string_view key);
/// "parent.key" (key made printable; "" shown as a quoted empty string).
std::string join(std::string_view parent, std::string_view key);
/// "parent[index]".
std::string index(std::string_view parent, std::size_t index);

}  // namespace plexus::json_path
