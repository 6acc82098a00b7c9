// AES-256-GCM: the small-record path (libsodium) and the large one (OpenSSL)
// compute the same standard cipher: each record, whichever path sealed it,
// equals what plain OpenSSL produces and opens with either.
#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <vector>

#include "plexus/secure/aead.hpp"

using namespace plexus::secure;

namespace {

// Reference: AES-256-GCM straight from OpenSSL, ciphertext then tag.
std::vector<std::uint8_t> reference_seal(const std::uint8_t* key, const std::uint8_t* nonce,
                                         const std::vector<std::uint8_t>& ad, const std::vector<std::uint8_t>& plain) {
  std::vector<std::uint8_t> out(plain.size() + aead_tag_bytes);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  REQUIRE(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, nonce) == 1);
  REQUIRE(EVP_EncryptUpdate(ctx, nullptr, &len, ad.data(), int(ad.size())) == 1);
  REQUIRE(EVP_EncryptUpdate(ctx, out.data(), &len, plain.data(), int(plain.size())) == 1);
  REQUIRE(EVP_EncryptFinal_ex(ctx, out.data() + len, &len) == 1);
  REQUIRE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, int(aead_tag_bytes), out.data() + plain.size()) == 1);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

}  // namespace

TEST_CASE("AES-256-GCM records of every size match the reference cipher and open") {
  std::uint8_t key[aead_key_bytes];
  for (std::size_t i = 0; i < sizeof key; ++i) key[i] = std::uint8_t(i * 7 + 1);
  auto sealer = make_aead(Cipher::aes256gcm, key);
  auto opener = make_aead(Cipher::aes256gcm, key);
  const std::vector<std::uint8_t> ad(16, 0xad);
  // Both sides of the 1 KiB switch between the two implementations.
  for (const std::size_t size : {0, 1, 100, 1023, 1024, 1025, 4096, 70000}) {
    CAPTURE(size);
    std::vector<std::uint8_t> plain(size);
    for (std::size_t i = 0; i < size; ++i) plain[i] = std::uint8_t(i * 13 + size);
    std::uint8_t nonce[aead_nonce_bytes] = {};
    nonce[4] = std::uint8_t(size);
    std::vector<std::uint8_t> sealed(size + aead_tag_bytes);
    sealer->seal(sealed.data(), plain, nonce, ad);
    CHECK(sealed == reference_seal(key, nonce, ad, plain));

    std::vector<std::uint8_t> opened(size);
    CHECK(opener->open(opened.data(), reference_seal(key, nonce, ad, plain), nonce, ad));
    CHECK(opened == plain);

    sealed[size / 2] ^= 1;  // a flipped bit (in the tag when size is 0) fails
    CHECK_FALSE(opener->open(opened.data(), sealed, nonce, ad));
  }
}
