// Message payloads as JSON text: UTF-8 when they are valid UTF-8, base64
// (RFC 4648, with padding) otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace plexus::node {

/// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::span<const std::uint8_t> bytes);
std::string to_base64(std::span<const std::uint8_t> bytes);
/// Decode base64 (whitespace ignored); nullopt when it is not base64.
std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text);

}  // namespace plexus::node
