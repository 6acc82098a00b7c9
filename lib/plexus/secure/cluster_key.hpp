// The cluster key: 32 random bytes shared by every node of a cluster. Holding
// it is what makes a peer a member; every connection proves it in the
// handshake (handshake.hpp) and mixes it into the session keys.
//
// Key file format: 64 hex digits and an optional trailing newline, mode 0600
// (a key readable by group or others is refused, as ssh refuses such keys).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

#include "plexus/core/result.hpp"

namespace plexus::secure {

inline constexpr std::size_t cluster_key_bytes = 32;

/// The cluster key; wiped from memory when destroyed.
struct ClusterKey {
  std::array<std::uint8_t, cluster_key_bytes> bytes{};
  ClusterKey() = default;
  ClusterKey(const ClusterKey&) = default;
  ClusterKey& operator=(const ClusterKey&) = default;
  ~ClusterKey();
};

/// A fresh random key.
ClusterKey generate_cluster_key();
/// Write a fresh key to `path` (created with mode 0600; an existing file is
/// never overwritten). Returns the key written.
Result<ClusterKey> write_new_cluster_key(const std::filesystem::path& path);
/// Read and check a key file: errc::bad_key_file naming the path and the problem.
Result<ClusterKey> read_cluster_key(const std::filesystem::path& path);
/// Parse the 64-hex-digit text form.
Result<ClusterKey> cluster_key_from_hex(std::string_view text);
std::string to_hex(const ClusterKey& key);

/// A 32-byte value derived from the key for another purpose (e.g. the admin
/// API token), so the key itself never leaves the process.
std::array<std::uint8_t, 32> derive_subkey(const ClusterKey& key, std::string_view purpose);

/// Initialise libsodium once (safe to call from any thread, any number of times).
void ensure_sodium();

}  // namespace plexus::secure
