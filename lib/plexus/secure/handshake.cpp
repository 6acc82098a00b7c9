#include "plexus/secure/handshake.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "plexus/core/errors.hpp"
#include "plexus/core/little_endian.hpp"
#include "plexus/core/node_spec.hpp"

namespace plexus::secure {
namespace {

constexpr std::uint8_t magic[4] = {'P', 'L', 'X', 'S'};

template <std::size_t N>
void keyed_hash(std::array<std::uint8_t, N>& out, std::span<const std::uint8_t> key,
                std::span<const std::uint8_t> message) {
  crypto_generichash(out.data(), N, message.data(), message.size(), key.data(), key.size());
}

std::span<const std::uint8_t> label(const char* text) {
  return {reinterpret_cast<const std::uint8_t*>(text), std::strlen(text)};
}

}  // namespace

std::vector<std::uint8_t> encode_hello(const Hello& hello) {
  std::vector<std::uint8_t> out(hello_fixed_bytes + hello.name.size());
  std::memcpy(out.data(), magic, 4);
  store_le16(out.data() + 4, hello.version);
  store_le32(out.data() + 6, hello.features);
  store_le64(out.data() + 10, hello.instance_id);
  std::memcpy(out.data() + 18, hello.ephemeral_public.data(), 32);
  out[50] = static_cast<std::uint8_t>(hello.name.size());
  std::memcpy(out.data() + hello_fixed_bytes, hello.name.data(), hello.name.size());
  return out;
}

Result<std::size_t> parse_hello(std::span<const std::uint8_t> bytes, Hello& out) {
  if (bytes.empty()) return std::size_t{0};  // (memcmp on an empty span's null data is undefined)
  const std::size_t have = std::min<std::size_t>(bytes.size(), 4);
  if (std::memcmp(bytes.data(), magic, have) != 0) {
    return make_error(errc::bad_magic, "first bytes are not \"PLXS\"");
  }
  if (bytes.size() < 6) return std::size_t{0};
  out.version = load_le16(bytes.data() + 4);
  if (out.version != protocol_version) {
    return make_error(errc::version_mismatch, "peer speaks version " + std::to_string(out.version) +
                                                  ", this node " + std::to_string(protocol_version));
  }
  if (bytes.size() < hello_fixed_bytes) return std::size_t{0};
  const std::size_t name_length = bytes[50];
  if (name_length == 0) return make_error(errc::malformed_hello, "empty node name");
  if (bytes.size() < hello_fixed_bytes + name_length) return std::size_t{0};
  out.features = load_le32(bytes.data() + 6);
  out.instance_id = load_le64(bytes.data() + 10);
  std::memcpy(out.ephemeral_public.data(), bytes.data() + 18, 32);
  out.name.assign(reinterpret_cast<const char*>(bytes.data() + hello_fixed_bytes), name_length);
  // The name ends up in logs and membership: hold it to the node-name rule now.
  if (!validate_node_name(out.name)) return make_error(errc::malformed_hello, "node name is not [A-Za-z0-9_.@-]+");
  return hello_fixed_bytes + name_length;
}

Result<Cipher> choose_cipher(std::uint32_t own, std::uint32_t peer) {
  const std::uint32_t common = own & peer;
  if (common & feature::aes256gcm) return Cipher::aes256gcm;
  if (common & feature::chacha20poly1305) return Cipher::chacha20poly1305;
  char detail[64];
  std::snprintf(detail, sizeof detail, "offered 0x%x, peer offered 0x%x", own, peer);
  return make_error(errc::no_common_cipher, detail);
}

Handshake::Handshake(Role role, const HandshakeConfig& config) : role_(role), config_(config) {
  ensure_sodium();
  if (config_.ciphers == 0) {
    config_.ciphers = feature::chacha20poly1305 | (aes_hardware_available() ? feature::aes256gcm : 0);
  }
  Hello hello;
  hello.version = protocol_version;
  hello.features = (config_.ciphers & (feature::aes256gcm | feature::chacha20poly1305)) |
                   (config_.insecure ? feature::insecure : 0);
  hello.instance_id = config_.instance_id;
  hello.name = config_.node_name.substr(0, 255);
  crypto_box_keypair(hello.ephemeral_public.data(), ephemeral_secret_.data());
  own_hello_ = encode_hello(hello);
}

Handshake::~Handshake() {
  sodium_memzero(ephemeral_secret_.data(), ephemeral_secret_.size());
  sodium_memzero(peer_confirm_key_.data(), peer_confirm_key_.size());
}

Result<std::size_t> Handshake::feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out) {
  if (stage_ == Stage::failed) return failed_;
  if (stage_ == Stage::done) return std::size_t{0};
  const std::size_t before = buffer_.size();
  // Never buffer more than the largest hello plus the auth tag.
  const std::size_t room = hello_max_bytes + auth_bytes - before;
  const std::size_t take = std::min(in.size(), room);
  buffer_.insert(buffer_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(take));
  auto fail = [this](const Error& error) -> Result<std::size_t> {
    stage_ = Stage::failed;
    failed_ = error;
    return error;
  };
  if (stage_ == Stage::want_hello) {
    auto used = parse_hello(buffer_, session_.peer);
    if (!used) return fail(used.error());
    if (*used == 0) return take;
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(*used));
    if (auto r = on_peer_hello(out); !r) return fail(r.error());
    stage_ = Stage::want_auth;
  }
  if (buffer_.size() < auth_bytes) return take;
  if (auto r = on_peer_auth(); !r) return fail(r.error());
  stage_ = Stage::done;
  // Whatever followed the auth tag is record stream: hand it back.
  const std::size_t surplus = buffer_.size() - auth_bytes;
  buffer_.clear();
  return take - surplus;
}

Result<void> Handshake::on_peer_hello(std::vector<std::uint8_t>& out) {
  const Hello& peer = session_.peer;
  const bool own_insecure = config_.insecure;
  const bool peer_insecure = (peer.features & feature::insecure) != 0;
  if (own_insecure != peer_insecure) {
    return make_error(errc::insecure_mismatch, own_insecure ? "this node is insecure, peer is not"
                                                            : "peer is insecure, this node is not");
  }
  auto cipher = choose_cipher(config_.ciphers, peer.features);
  if (!cipher) return cipher.error();
  session_.cipher = *cipher;
  session_.insecure = own_insecure;

  const std::vector<std::uint8_t> peer_hello = encode_hello(peer);
  const auto& first = role_ == Role::initiator ? own_hello_ : peer_hello;
  const auto& second = role_ == Role::initiator ? peer_hello : own_hello_;
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, transcript_.size());
  crypto_generichash_update(&state, first.data(), first.size());
  crypto_generichash_update(&state, second.data(), second.size());
  crypto_generichash_final(&state, transcript_.data(), transcript_.size());

  std::array<std::uint8_t, 32 + 64> ikm{};
  if (crypto_scalarmult(ikm.data(), ephemeral_secret_.data(), peer.ephemeral_public.data()) != 0) {
    return make_error(errc::auth_failed, "peer ephemeral key is a low-order point");
  }
  std::copy(transcript_.begin(), transcript_.end(), ikm.begin() + 32);
  std::array<std::uint8_t, 64> prk{};
  keyed_hash(prk, config_.key.bytes, ikm);
  sodium_memzero(ikm.data(), ikm.size());

  const bool initiator = role_ == Role::initiator;
  keyed_hash(session_.send_key, prk, label(initiator ? "plexus i2r key" : "plexus r2i key"));
  keyed_hash(session_.receive_key, prk, label(initiator ? "plexus r2i key" : "plexus i2r key"));
  std::array<std::uint8_t, 32> own_confirm{};
  keyed_hash(own_confirm, prk, label(initiator ? "plexus i confirm" : "plexus r confirm"));
  keyed_hash(peer_confirm_key_, prk, label(initiator ? "plexus r confirm" : "plexus i confirm"));
  sodium_memzero(prk.data(), prk.size());

  std::array<std::uint8_t, auth_bytes> tag{};
  keyed_hash(tag, own_confirm, transcript_);
  sodium_memzero(own_confirm.data(), own_confirm.size());
  out.insert(out.end(), tag.begin(), tag.end());
  return {};
}

Result<void> Handshake::on_peer_auth() {
  std::array<std::uint8_t, auth_bytes> expected{};
  keyed_hash(expected, peer_confirm_key_, transcript_);
  if (crypto_verify_32(expected.data(), buffer_.data()) != 0) {
    return make_error(errc::auth_failed, "peer \"" + session_.peer.name +
                                             "\" did not prove the cluster key");
  }
  return {};
}

}  // namespace plexus::secure
