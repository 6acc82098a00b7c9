// The admin API's bearer token, derived from the cluster key. Its own small
// library (plexus_admin_token) so that admin clients (the plexus CLI,
// plexus-cluster, plexus-harness) derive the token without linking the node
// runtime; the node links it too, so both sides derive it the same way.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "plexus/core/result.hpp"
#include "plexus/secure/cluster_key.hpp"

namespace plexus::admin {

/// Purpose string of the admin token subkey.
inline constexpr std::string_view token_purpose = "plexus admin token";

/// The admin API bearer token: hex(derive_subkey(key, token_purpose)), 64 lowercase hex digits.
std::string admin_token(const secure::ClusterKey& key);
/// A token file: the 64 hex digits and an optional newline.
Result<std::string> read_token_file(const std::filesystem::path& file);

}  // namespace plexus::admin
