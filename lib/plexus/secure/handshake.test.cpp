// Handshake: the right key connects; every kind of wrong peer is refused with its own reason.
#include <doctest/doctest.h>

#include "plexus/core/errors.hpp"
#include "plexus/secure/handshake.hpp"
#include "plexus/secure/test_pair.hpp"

using namespace plexus;
using namespace plexus::secure;
using testing::run_pair;

namespace {

HandshakeConfig config_for(const ClusterKey& key, const char* name, std::uint64_t instance) {
  HandshakeConfig config;
  config.key = key;
  config.node_name = name;
  config.instance_id = instance;
  return config;
}

errc code_of(const Result<std::size_t>& r) { return static_cast<errc>(r.error().code.value()); }

}  // namespace

TEST_CASE("two nodes with the same key agree on keys, cipher and identities") {
  // Proves the happy path: mutual auth completes and each direction's keys match.
  const ClusterKey key = generate_cluster_key();
  Handshake a(Role::initiator, config_for(key, "alpha", 11));
  Handshake b(Role::responder, config_for(key, "beta", 22));
  auto outcome = run_pair(a, b);
  REQUIRE(outcome.initiator_last.ok());
  REQUIRE(outcome.responder_last.ok());
  REQUIRE(a.done());
  REQUIRE(b.done());
  CHECK(a.session().send_key == b.session().receive_key);
  CHECK(a.session().receive_key == b.session().send_key);
  CHECK(a.session().send_key != a.session().receive_key);
  CHECK(a.session().cipher == b.session().cipher);
  CHECK(a.session().peer.name == "beta");
  CHECK(b.session().peer.name == "alpha");
  CHECK(a.session().peer.instance_id == 22);
  CHECK(b.session().peer.instance_id == 11);
}

TEST_CASE("a peer with the wrong cluster key is refused on both sides") {
  // Proves that knowing the protocol is not enough: the auth tag needs the key.
  Handshake a(Role::initiator, config_for(generate_cluster_key(), "alpha", 1));
  Handshake b(Role::responder, config_for(generate_cluster_key(), "beta", 2));
  auto outcome = run_pair(a, b);
  REQUIRE_FALSE(outcome.responder_last.ok());
  CHECK(code_of(outcome.responder_last) == errc::auth_failed);
  CHECK_FALSE(a.done());
  CHECK_FALSE(b.done());
}

TEST_CASE("a flipped bit anywhere in the handshake never completes it") {
  // Proves every byte of hello and auth is covered: tampering fails or stalls (then times out).
  const ClusterKey key = generate_cluster_key();
  const std::size_t hello_size = Handshake(Role::initiator, config_for(key, "alpha", 1)).hello_bytes().size();
  const std::size_t message_bytes[] = {hello_size, auth_bytes};
  for (int message = 0; message < 2; ++message) {
    for (std::size_t at = 0; at < message_bytes[message]; ++at) {
      for (Role victim : {Role::initiator, Role::responder}) {
        Handshake a(Role::initiator, config_for(key, "alpha", 1));
        Handshake b(Role::responder, config_for(key, "betaa", 2));
        int seen = 0;
        auto outcome = run_pair(a, b, [&](Role from, std::vector<std::uint8_t>& bytes) {
          if (from != victim || bytes.empty()) return;
          if (seen++ == message && at < bytes.size()) bytes[at] ^= 0x01;
        });
        const bool receiver_done = victim == Role::initiator ? b.done() : a.done();
        CAPTURE(message);
        CAPTURE(at);
        CHECK_FALSE(receiver_done);
        const auto& last = victim == Role::initiator ? outcome.responder_last : outcome.initiator_last;
        if (!last.ok()) {
          const errc code = code_of(last);
          CHECK((code == errc::auth_failed || code == errc::bad_magic ||
                 code == errc::version_mismatch || code == errc::malformed_hello ||
                 code == errc::insecure_mismatch || code == errc::no_common_cipher));
        }
      }
    }
  }
}

TEST_CASE("each malformed hello gets its own reason") {
  // Proves bad magic, version mismatch and empty name are told apart.
  Hello hello;
  hello.version = protocol_version;
  hello.name = "n";
  auto bytes = encode_hello(hello);
  Hello parsed;
  SUBCASE("bad magic, reported from the first byte") {
    std::vector<std::uint8_t> http = {'G', 'E'};
    CHECK(parse_hello(http, parsed).error().code == errc::bad_magic);
  }
  SUBCASE("version mismatch, reported before the rest arrives") {
    hello.version = protocol_version + 1;
    auto other = encode_hello(hello);
    other.resize(6);
    auto r = parse_hello(other, parsed);
    CHECK(r.error().code == errc::version_mismatch);
    CHECK(r.error().detail.find("version 2") != std::string::npos);
  }
  SUBCASE("empty name") {
    bytes[50] = 0;
    CHECK(parse_hello(bytes, parsed).error().code == errc::malformed_hello);
  }
  SUBCASE("an empty feed is incomplete, not undefined behaviour") {
    CHECK(*parse_hello({}, parsed) == 0);
  }
  SUBCASE("every prefix is incomplete, not an error") {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto r = parse_hello(std::span(bytes).first(n), parsed);
      REQUIRE(r.ok());
      CHECK(*r == 0);
    }
    CHECK(*parse_hello(bytes, parsed) == bytes.size());
  }
}

TEST_CASE("insecure mode must be agreed by both sides") {
  // Proves a plaintext peer cannot downgrade a secure node (and vice versa).
  const ClusterKey key = generate_cluster_key();
  auto plain = config_for(key, "alpha", 1);
  plain.insecure = true;
  Handshake a(Role::initiator, plain);
  Handshake b(Role::responder, config_for(key, "beta", 2));
  auto outcome = run_pair(a, b);
  CHECK(code_of(outcome.responder_last) == errc::insecure_mismatch);
  CHECK(code_of(outcome.initiator_last) == errc::insecure_mismatch);

  auto plain_b = config_for(key, "beta", 2);
  plain_b.insecure = true;
  Handshake c(Role::initiator, plain);
  Handshake d(Role::responder, plain_b);
  run_pair(c, d);
  REQUIRE(c.done());
  CHECK(c.session().insecure);
}

TEST_CASE("cipher choice prefers AES-GCM only when both offer it") {
  // Proves negotiation is deterministic and symmetric.
  using namespace feature;
  CHECK(*choose_cipher(aes256gcm | chacha20poly1305, aes256gcm | chacha20poly1305) == Cipher::aes256gcm);
  CHECK(*choose_cipher(aes256gcm | chacha20poly1305, chacha20poly1305) == Cipher::chacha20poly1305);
  CHECK(*choose_cipher(chacha20poly1305, aes256gcm | chacha20poly1305) == Cipher::chacha20poly1305);
  CHECK(choose_cipher(aes256gcm, chacha20poly1305).error().code == errc::no_common_cipher);
}

TEST_CASE("bytes after the auth tag are left for the record stream") {
  // Proves feed() reports what it consumed so the first record is not swallowed.
  const ClusterKey key = generate_cluster_key();
  Handshake a(Role::initiator, config_for(key, "alpha", 1));
  Handshake b(Role::responder, config_for(key, "beta", 2));
  std::vector<std::uint8_t> to_a, to_b;
  REQUIRE(*b.feed(a.hello_bytes(), to_a) == a.hello_bytes().size());
  REQUIRE(*a.feed(b.hello_bytes(), to_b) == b.hello_bytes().size());
  std::vector<std::uint8_t> with_tail = to_a;
  with_tail.insert(with_tail.end(), {9, 9, 9});
  std::vector<std::uint8_t> ignored;
  auto used = a.feed(with_tail, ignored);
  REQUIRE(used.ok());
  CHECK(*used == auth_bytes);
  CHECK(a.done());
}
