#include "plexus/secure/aead.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "plexus/secure/cluster_key.hpp"

namespace plexus::secure {
namespace {

// The streaming open of Aead on an OpenSSL context keyed for decryption.
// A failing call is a bug (or a piece over INT_MAX bytes), not input, except
// the tag check, whose failure is the answer.
class EvpOpenStream {
 public:
  explicit EvpOpenStream(EVP_CIPHER_CTX* ctx) : ctx_(ctx) {}

  void begin(const std::uint8_t* nonce, std::span<const std::uint8_t> ad) {
    int len = 0;
    if (EVP_DecryptInit_ex(ctx_, nullptr, nullptr, nullptr, nonce) != 1 ||
        EVP_DecryptUpdate(ctx_, nullptr, &len, ad.data(), int(ad.size())) != 1) {
      throw std::runtime_error("OpenSSL AEAD open_begin failed");
    }
  }
  void update(std::uint8_t* out, std::span<const std::uint8_t> in) {
    int len = 0;
    if (in.empty()) return;
    if (EVP_DecryptUpdate(ctx_, out, &len, in.data(), int(in.size())) != 1 || std::size_t(len) != in.size()) {
      throw std::runtime_error("OpenSSL AEAD open_update failed");
    }
  }
  bool finish(const std::uint8_t* tag) {
    int len = 0;
    std::uint8_t copy[aead_tag_bytes];
    std::copy(tag, tag + aead_tag_bytes, copy);  // OpenSSL's API is not const
    std::uint8_t none[1];
    return EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, int(aead_tag_bytes), copy) == 1 &&
           EVP_DecryptFinal_ex(ctx_, none, &len) == 1;
  }

 private:
  EVP_CIPHER_CTX* ctx_;
};

// AES-256-GCM: OpenSSL for large records, libsodium's precomputed-key
// AES-GCM for small ones. The context is keyed once; each record only sets
// its nonce. OpenSSL's per-record set-up (EVP_CipherInit_ex walks its
// provider parameters) costs more than the cipher itself on a 100-byte
// record and is half of a request/response's crypto time; libsodium's is a
// few loads, but its bulk rate is lower. Both compute the same standard
// AES-256-GCM, so which one sealed a record does not matter to the opener.
class AesGcm final : public Aead {
 public:
  /// Records with at most this many plaintext bytes take the libsodium path.
  static constexpr std::size_t small_record_bytes = 1024;

  explicit AesGcm(const std::uint8_t* key)
      : encrypt_(EVP_CIPHER_CTX_new()), decrypt_(EVP_CIPHER_CTX_new()) {
    if (crypto_aead_aes256gcm_is_available()) {
      small_ = std::make_unique<crypto_aead_aes256gcm_state>();
      crypto_aead_aes256gcm_beforenm(small_.get(), key);
    }
    if (!encrypt_ || !decrypt_ ||
        EVP_EncryptInit_ex(encrypt_, EVP_aes_256_gcm(), nullptr, key, nullptr) != 1 ||
        EVP_DecryptInit_ex(decrypt_, EVP_aes_256_gcm(), nullptr, key, nullptr) != 1) {
      throw std::runtime_error("OpenSSL AES-256-GCM initialisation failed");
    }
  }
  ~AesGcm() override {
    if (small_) sodium_memzero(small_.get(), sizeof *small_);
    EVP_CIPHER_CTX_free(encrypt_);
    EVP_CIPHER_CTX_free(decrypt_);
  }
  AesGcm(const AesGcm&) = delete;
  AesGcm& operator=(const AesGcm&) = delete;

  void seal_detached(std::uint8_t* out, std::uint8_t* tag, std::span<const std::uint8_t> plain,
                     const std::uint8_t* nonce, std::span<const std::uint8_t> ad) override {
    if (small_ && plain.size() <= small_record_bytes) {
      crypto_aead_aes256gcm_encrypt_detached_afternm(out, tag, nullptr, plain.data(), plain.size(),
                                                     ad.data(), ad.size(), nullptr, nonce, small_.get());
      return;
    }
    int len = 0;
    bool ok = EVP_EncryptInit_ex(encrypt_, nullptr, nullptr, nullptr, nonce) == 1 &&
              EVP_EncryptUpdate(encrypt_, nullptr, &len, ad.data(), int(ad.size())) == 1 &&
              EVP_EncryptUpdate(encrypt_, out, &len, plain.data(), int(plain.size())) == 1 &&
              EVP_EncryptFinal_ex(encrypt_, out + len, &len) == 1 &&
              EVP_CIPHER_CTX_ctrl(encrypt_, EVP_CTRL_GCM_GET_TAG, int(aead_tag_bytes), tag) == 1;
    if (!ok) throw std::runtime_error("OpenSSL AES-256-GCM seal failed");  // a bug, not input
  }

  bool open(std::uint8_t* out, std::span<const std::uint8_t> sealed, const std::uint8_t* nonce,
            std::span<const std::uint8_t> ad) override {
    if (sealed.size() < aead_tag_bytes) return false;
    const auto body = sealed.size() - aead_tag_bytes;
    if (small_ && body <= small_record_bytes) {
      return crypto_aead_aes256gcm_decrypt_detached_afternm(out, nullptr, sealed.data(), body, sealed.data() + body,
                                                            ad.data(), ad.size(), nonce, small_.get()) == 0;
    }
    int len = 0;
    auto* tag = const_cast<std::uint8_t*>(sealed.data() + body);  // OpenSSL API is not const
    return EVP_DecryptInit_ex(decrypt_, nullptr, nullptr, nullptr, nonce) == 1 &&
           EVP_DecryptUpdate(decrypt_, nullptr, &len, ad.data(), int(ad.size())) == 1 &&
           EVP_DecryptUpdate(decrypt_, out, &len, sealed.data(), int(body)) == 1 &&
           EVP_CIPHER_CTX_ctrl(decrypt_, EVP_CTRL_GCM_SET_TAG, int(aead_tag_bytes), tag) == 1 &&
           EVP_DecryptFinal_ex(decrypt_, out + len, &len) == 1;
  }

  void open_begin(const std::uint8_t* nonce, std::span<const std::uint8_t> ad) override {
    EvpOpenStream(decrypt_).begin(nonce, ad);
  }
  void open_update(std::uint8_t* out, std::span<const std::uint8_t> in) override {
    EvpOpenStream(decrypt_).update(out, in);
  }
  bool open_finish(const std::uint8_t* tag) override { return EvpOpenStream(decrypt_).finish(tag); }

 private:
  EVP_CIPHER_CTX* encrypt_;
  EVP_CIPHER_CTX* decrypt_;
  std::unique_ptr<crypto_aead_aes256gcm_state> small_;  // null without AES-NI (OpenSSL does all)
};

// libsodium ChaCha20-Poly1305 (IETF), detached tag after the ciphertext;
// OpenSSL's for the streaming open (libsodium has none for this construction).
class ChaCha final : public Aead {
 public:
  explicit ChaCha(const std::uint8_t* key) : stream_(EVP_CIPHER_CTX_new()) {
    std::copy(key, key + aead_key_bytes, key_);
    if (!stream_ || EVP_DecryptInit_ex(stream_, EVP_chacha20_poly1305(), nullptr, key, nullptr) != 1) {
      throw std::runtime_error("OpenSSL ChaCha20-Poly1305 initialisation failed");
    }
  }
  ~ChaCha() override {
    sodium_memzero(key_, sizeof key_);
    EVP_CIPHER_CTX_free(stream_);
  }
  ChaCha(const ChaCha&) = delete;
  ChaCha& operator=(const ChaCha&) = delete;

  void open_begin(const std::uint8_t* nonce, std::span<const std::uint8_t> ad) override {
    EvpOpenStream(stream_).begin(nonce, ad);
  }
  void open_update(std::uint8_t* out, std::span<const std::uint8_t> in) override {
    EvpOpenStream(stream_).update(out, in);
  }
  bool open_finish(const std::uint8_t* tag) override { return EvpOpenStream(stream_).finish(tag); }

  void seal_detached(std::uint8_t* out, std::uint8_t* tag, std::span<const std::uint8_t> plain,
                     const std::uint8_t* nonce, std::span<const std::uint8_t> ad) override {
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, tag, nullptr,
                                                       plain.data(), plain.size(), ad.data(),
                                                       ad.size(), nullptr, nonce, key_);
  }

  bool open(std::uint8_t* out, std::span<const std::uint8_t> sealed, const std::uint8_t* nonce,
            std::span<const std::uint8_t> ad) override {
    if (sealed.size() < aead_tag_bytes) return false;
    const auto body = sealed.size() - aead_tag_bytes;
    return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
               out, nullptr, sealed.data(), body, sealed.data() + body, ad.data(), ad.size(),
               nonce, key_) == 0;
  }

 private:
  std::uint8_t key_[aead_key_bytes]{};
  EVP_CIPHER_CTX* stream_;
};

}  // namespace

std::unique_ptr<Aead> make_aead(Cipher cipher, const std::uint8_t* key) {
  ensure_sodium();
  if (cipher == Cipher::aes256gcm) return std::make_unique<AesGcm>(key);
  return std::make_unique<ChaCha>(key);
}

bool aes_hardware_available() {
  ensure_sodium();
  return crypto_aead_aes256gcm_is_available() != 0;
}

const char* cipher_name(Cipher cipher) {
  return cipher == Cipher::aes256gcm ? "aes-256-gcm" : "chacha20-poly1305";
}

}  // namespace plexus::secure
