// The connection handshake, sans-IO: feed it the bytes that arrive, send the
// bytes it returns. Both sides send a hello at once, then an auth tag; when
// both tags verify, each side holds one key per direction for records.
//
// Hello (little-endian; offsets 0..5 never change between versions):
//   0   4   magic "PLXS"
//   4   2   protocol version (this code: 1; must equal ours)
//   6   4   feature bits: 1 = insecure (plaintext records), 2 = AES-256-GCM,
//           4 = ChaCha20-Poly1305; other bits reserved, sent as zero, ignored
//   10  8   instance id
//   18  32  ephemeral X25519 public key
//   50  1   name length N (1..255)
//   51  N   node name
// Auth (32 bytes): BLAKE2b-256 keyed with the sender's confirm key over the
// transcript hash.
//
// Key schedule: transcript = BLAKE2b-512(initiator hello || responder hello);
// dh = X25519(own ephemeral secret, peer ephemeral public);
// prk = BLAKE2b-512 keyed with the cluster key over (dh || transcript);
// each subkey = BLAKE2b-256 keyed with prk over its label: "plexus i2r key",
// "plexus r2i key", "plexus i confirm", "plexus r confirm". A peer without
// the cluster key cannot produce the auth tag, and nothing it sends after its
// hello is read until the tag verifies.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/secure/aead.hpp"
#include "plexus/secure/cluster_key.hpp"

namespace plexus::secure {

inline constexpr std::uint16_t protocol_version = 1;
inline constexpr std::size_t hello_fixed_bytes = 51;
inline constexpr std::size_t hello_max_bytes = hello_fixed_bytes + 255;
inline constexpr std::size_t auth_bytes = 32;

namespace feature {
inline constexpr std::uint32_t insecure = 1u << 0;
inline constexpr std::uint32_t aes256gcm = 1u << 1;
inline constexpr std::uint32_t chacha20poly1305 = 1u << 2;
}  // namespace feature

enum class Role : std::uint8_t { initiator, responder };

struct HandshakeConfig {
  ClusterKey key;
  std::string node_name;
  std::uint64_t instance_id = 0;
  /// Plaintext records, for benchmarks and debugging; both sides must agree.
  bool insecure = false;
  /// Ciphers offered (feature bits); by default AES-256-GCM when the CPU has
  /// AES instructions, and ChaCha20-Poly1305 always.
  std::uint32_t ciphers = 0;
};

/// What a parsed hello says.
struct Hello {
  std::uint16_t version = 0;
  std::uint32_t features = 0;
  std::uint64_t instance_id = 0;
  std::array<std::uint8_t, 32> ephemeral_public{};
  std::string name;
};

/// Encode a hello.
std::vector<std::uint8_t> encode_hello(const Hello& hello);
/// Parse a hello at the start of `bytes`. Returns bytes used, 0 when more are
/// needed; errors: bad_magic, version_mismatch, malformed_hello.
Result<std::size_t> parse_hello(std::span<const std::uint8_t> bytes, Hello& out);

/// Session outcome: who the peer is and the record keys.
struct Session {
  Hello peer;
  bool insecure = false;
  Cipher cipher = Cipher::chacha20poly1305;
  std::array<std::uint8_t, 32> send_key{};
  std::array<std::uint8_t, 32> receive_key{};
};

class Handshake {
 public:
  Handshake(Role role, const HandshakeConfig& config);
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  /// Bytes to send first (our hello).
  [[nodiscard]] const std::vector<std::uint8_t>& hello_bytes() const noexcept { return own_hello_; }
  /// Feed received bytes; appends what to send to `out`. Returns bytes of
  /// `in` consumed: bytes after the peer's auth tag belong to the record
  /// stream and are not consumed. An error is final.
  Result<std::size_t> feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out);
  [[nodiscard]] bool done() const noexcept { return stage_ == Stage::done; }
  /// The peer's hello arrived and was accepted (its claims are not proven
  /// until done()); peer_hello() is valid from then on.
  [[nodiscard]] bool hello_received() const noexcept { return stage_ == Stage::want_auth || stage_ == Stage::done; }
  [[nodiscard]] const Hello& peer_hello() const noexcept { return session_.peer; }
  /// Valid once done().
  [[nodiscard]] const Session& session() const noexcept { return session_; }

 private:
  enum class Stage { want_hello, want_auth, done, failed };
  Result<void> on_peer_hello(std::vector<std::uint8_t>& out);
  Result<void> on_peer_auth();

  Role role_;
  HandshakeConfig config_;
  std::array<std::uint8_t, 32> ephemeral_secret_{};
  std::vector<std::uint8_t> own_hello_;
  std::vector<std::uint8_t> buffer_;  // peer bytes not yet parsed
  std::array<std::uint8_t, 32> peer_confirm_key_{};
  std::array<std::uint8_t, 64> transcript_{};
  Stage stage_ = Stage::want_hello;
  Error failed_{};
  Session session_;
};

/// The cipher both sides take given their feature bits (AES-256-GCM when both
/// offer it, then ChaCha20-Poly1305); error no_common_cipher.
Result<Cipher> choose_cipher(std::uint32_t own_features, std::uint32_t peer_features);

}  // namespace plexus::secure
