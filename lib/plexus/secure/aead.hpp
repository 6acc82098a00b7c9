// Record ciphers: one key, one direction, 96-bit nonces, 16-byte tags.
// Internal to plexus::secure (records use it; nothing else should).
//
// AES-256-GCM runs on OpenSSL's libcrypto (records over 1 KiB; libsodium's
// precomputed-key AES-GCM below that, where OpenSSL's per-record set-up
// dominates) and ChaCha20-Poly1305 (IETF) on libsodium (its streaming open on OpenSSL). libsodium 1.0.18 seals 64 KiB at 1.67 GB/s (AES-GCM) and
// 1.04 GB/s (ChaCha20) on this class of machine, OpenSSL 3.0 at 2.8 GB/s:
// the bulk cipher is the one place where that difference decides whether a
// connection keeps up with loopback TCP. Key exchange and authentication
// stay on libsodium (handshake.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace plexus::secure {

enum class Cipher : std::uint8_t { aes256gcm = 1, chacha20poly1305 = 2 };

inline constexpr std::size_t aead_key_bytes = 32;
inline constexpr std::size_t aead_nonce_bytes = 12;
inline constexpr std::size_t aead_tag_bytes = 16;

class Aead {
 public:
  virtual ~Aead() = default;
  /// Encrypt `plain` into `out` (plain.size() + tag bytes; out may equal plain).
  void seal(std::uint8_t* out, std::span<const std::uint8_t> plain, const std::uint8_t* nonce,
            std::span<const std::uint8_t> ad) {
    seal_detached(out, out + plain.size(), plain, nonce, ad);
  }
  /// Encrypt `plain` into `out` (plain.size() bytes; out may equal plain), the tag into `tag`.
  virtual void seal_detached(std::uint8_t* out, std::uint8_t* tag, std::span<const std::uint8_t> plain,
                             const std::uint8_t* nonce, std::span<const std::uint8_t> ad) = 0;
  /// Decrypt `sealed` (ciphertext + tag) into `out`; false if it does not authenticate.
  [[nodiscard]] virtual bool open(std::uint8_t* out, std::span<const std::uint8_t> sealed,
                                  const std::uint8_t* nonce, std::span<const std::uint8_t> ad) = 0;

  // Streaming open, for a record whose ciphertext arrives in pieces: begin
  // with its nonce and additional data, decrypt each piece in order (`out` may
  // equal `in`; pieces of any size), then check the tag. What open_update
  // writes is unauthenticated until open_finish returns true: the caller must
  // not hand it out before. OpenSSL runs these for both ciphers.
  virtual void open_begin(const std::uint8_t* nonce, std::span<const std::uint8_t> ad) = 0;
  virtual void open_update(std::uint8_t* out, std::span<const std::uint8_t> in) = 0;
  [[nodiscard]] virtual bool open_finish(const std::uint8_t* tag) = 0;
};

/// A cipher instance keyed with `key` (aead_key_bytes).
std::unique_ptr<Aead> make_aead(Cipher cipher, const std::uint8_t* key);

/// Whether this machine runs AES-256-GCM in hardware (AES-NI + PCLMUL).
bool aes_hardware_available();

const char* cipher_name(Cipher cipher);

}  // namespace plexus::secure
