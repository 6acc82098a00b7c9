// Records: plaintext survives any split; tampering, replay, gaps, oversize and truncation are named.
#include <doctest/doctest.h>

#include <random>

#include "plexus/core/errors.hpp"
#include "plexus/secure/record.hpp"

using namespace plexus;
using namespace plexus::secure;

namespace {

struct Channel {
  std::array<std::uint8_t, 32> key{};
  Cipher cipher;
  explicit Channel(Cipher c) : cipher(c) { key.fill(7); }
  RecordSealer sealer(std::size_t max = 1024) const { return RecordSealer(cipher, key.data(), max); }
  RecordOpener opener(std::size_t max = 1024) const { return RecordOpener(cipher, key.data(), max); }
};

std::vector<std::uint8_t> random_bytes(std::mt19937& rng, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

Result<void> open_all(RecordOpener& opener, std::span<const std::uint8_t> stream,
                      std::vector<std::uint8_t>& plain) {
  return opener.feed(stream, [&](std::span<const std::uint8_t> p) {
    plain.insert(plain.end(), p.begin(), p.end());
    return true;
  });
}

}  // namespace

TEST_CASE("plaintext round-trips through records under random read splits, both ciphers") {
  // Proves the opener reassembles records split at any byte and splits big plaintext into records.
  for (Cipher cipher : {Cipher::aes256gcm, Cipher::chacha20poly1305}) {
    Channel channel(cipher);
    auto sealer = channel.sealer(1000);
    auto opener = channel.opener(1000);
    std::mt19937 rng(42);
    std::vector<std::uint8_t> sent, received;
    ByteBuffer stream;
    for (int i = 0; i < 200; ++i) {
      auto chunk = random_bytes(rng, rng() % 3000 + 1);
      sent.insert(sent.end(), chunk.begin(), chunk.end());
      sealer.seal(chunk, stream);
    }
    std::size_t at = 0;
    while (at < stream.size()) {
      const std::size_t n = std::min<std::size_t>(stream.size() - at, rng() % 2500 + 1);
      REQUIRE(open_all(opener, stream.span().subspan(at, n), received).ok());
      at += n;
    }
    CHECK(received == sent);
    CHECK_FALSE(opener.mid_record());
  }
}

TEST_CASE("one byte at a time works too") {
  // Proves the smallest possible reads are handled.
  Channel channel(Cipher::aes256gcm);
  auto sealer = channel.sealer();
  auto opener = channel.opener();
  ByteBuffer stream;
  std::vector<std::uint8_t> sent = {1, 2, 3, 4, 5};
  sealer.seal(sent, stream);
  sealer.seal_close(stream);
  std::vector<std::uint8_t> received;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    REQUIRE(open_all(opener, stream.span().subspan(i, 1), received).ok());
  }
  CHECK(received == sent);
  CHECK(opener.closed());
}

TEST_CASE("a flipped bit in a record is refused and the stream stays refused") {
  // Proves integrity: any change to header or body is an error, never altered plaintext.
  Channel channel(Cipher::chacha20poly1305);
  std::vector<std::uint8_t> sent(100, 0x5a);
  ByteBuffer clean;
  channel.sealer().seal(sent, clean);
  for (std::size_t at = 0; at < clean.size(); ++at) {
    ByteBuffer stream;
    stream.append(clean.span());
    stream.data()[at] ^= 0x10;
    auto opener = channel.opener();
    std::vector<std::uint8_t> received;
    auto r = open_all(opener, stream.span(), received);
    CAPTURE(at);
    if (at < 4) {
      // A changed length either stalls (waiting for more) or is refused; never delivers.
      CHECK(received.empty());
      continue;
    }
    REQUIRE_FALSE(r.ok());
    CHECK(received.empty());
    if (at >= record_header_bytes) CHECK(r.error().code == errc::record_tampered);
    CHECK_FALSE(open_all(opener, {}, received).ok());
  }
}

TEST_CASE("a replayed record and a missing record have their own reasons") {
  // Proves replay protection and gap detection by sequence number.
  Channel channel(Cipher::aes256gcm);
  auto sealer = channel.sealer();
  ByteBuffer first, second, third;
  sealer.seal(std::vector<std::uint8_t>{1}, first);
  sealer.seal(std::vector<std::uint8_t>{2}, second);
  sealer.seal(std::vector<std::uint8_t>{3}, third);
  std::vector<std::uint8_t> received;
  SUBCASE("replay") {
    auto opener = channel.opener();
    REQUIRE(open_all(opener, first.span(), received).ok());
    REQUIRE(open_all(opener, second.span(), received).ok());
    auto r = open_all(opener, first.span(), received);
    CHECK(r.error().code == errc::record_replayed);
  }
  SUBCASE("gap") {
    auto opener = channel.opener();
    REQUIRE(open_all(opener, first.span(), received).ok());
    auto r = open_all(opener, third.span(), received);
    CHECK(r.error().code == errc::record_out_of_order);
  }
  SUBCASE("a record from another key is tampering") {
    Channel other(Cipher::aes256gcm);
    other.key.fill(8);
    auto opener = other.opener();
    CHECK(open_all(opener, first.span(), received).error().code == errc::record_tampered);
  }
}

TEST_CASE("an oversized record is refused from its header alone") {
  // Proves a peer cannot make the opener buffer more than the record limit.
  Channel channel(Cipher::aes256gcm);
  ByteBuffer big;
  channel.sealer(4096).seal(std::vector<std::uint8_t>(4096, 1), big);
  auto opener = channel.opener(1024);
  std::vector<std::uint8_t> received;
  auto r = open_all(opener, big.span().first(record_header_bytes), received);
  CHECK(r.error().code == errc::record_too_large);
}

TEST_CASE("truncation is visible and data after close is refused") {
  // Proves the caller can tell a cut stream from an orderly close.
  Channel channel(Cipher::aes256gcm);
  auto sealer = channel.sealer();
  ByteBuffer stream;
  sealer.seal(std::vector<std::uint8_t>(50, 1), stream);
  auto opener = channel.opener();
  std::vector<std::uint8_t> received;
  REQUIRE(open_all(opener, stream.span().first(stream.size() - 1), received).ok());
  CHECK(opener.mid_record());
  CHECK_FALSE(opener.closed());

  ByteBuffer closed;
  auto sealer2 = channel.sealer();
  sealer2.seal_close(closed);
  sealer2.seal(std::vector<std::uint8_t>{1}, closed);
  auto opener2 = channel.opener();
  auto r = open_all(opener2, closed.span(), received);
  CHECK(opener2.closed());
  CHECK(r.error().code == errc::record_out_of_order);
}

TEST_CASE("a taking sink's leftover is offered again with the next record's plaintext right after it") {
  // Proves feed_taking keeps untaken plaintext and appends the next record to it, contiguous,
  // under any read split, so a unit spanning records arrives in one piece.
  for (Cipher cipher : {Cipher::aes256gcm, Cipher::chacha20poly1305}) {
    Channel channel(cipher);
    auto sealer = channel.sealer(100);
    auto opener = channel.opener(100);
    std::vector<std::uint8_t> sent(1000);
    for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<std::uint8_t>(i * 7);
    ByteBuffer stream;
    sealer.seal(sent, stream);  // ten records of 100 bytes
    std::mt19937 rng(7);
    std::vector<std::uint8_t> taken;
    std::size_t offers = 0;
    // Take 64-byte units only: each offer starts with the previous leftover.
    auto sink = [&](std::span<const std::uint8_t> plain) {
      ++offers;
      REQUIRE(std::equal(plain.begin(), plain.end(), sent.begin() + static_cast<std::ptrdiff_t>(taken.size())));
      const std::size_t take = plain.size() / 64 * 64;
      taken.insert(taken.end(), plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(take));
      return take;
    };
    for (std::size_t at = 0; at < stream.size();) {
      const std::size_t n = std::min<std::size_t>(stream.size() - at, rng() % 300 + 1);
      REQUIRE(opener.feed_taking(stream.span().subspan(at, n), sink).ok());
      at += n;
    }
    CHECK(offers == 10);
    CHECK(taken.size() == 960);
    CHECK(opener.held_bytes() == 40);
    CHECK_FALSE(opener.mid_record());
  }
}

TEST_CASE("a record split across reads is decrypted in place, nothing moved when every offer is taken") {
  // Proves the streaming open: a large record fed in small pieces opens without gathering
  // its ciphertext, and with everything taken the plaintext buffer never moves a byte.
  Channel channel(Cipher::aes256gcm);
  auto sealer = channel.sealer(64 * 1024);
  auto opener = channel.opener(64 * 1024);
  std::mt19937 rng(3);
  const auto sent = random_bytes(rng, 300 * 1024);
  ByteBuffer stream;
  sealer.seal(sent, stream);
  std::vector<std::uint8_t> received;
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t n = std::min<std::size_t>(stream.size() - at, 10'000);
    REQUIRE(open_all(opener, stream.span().subspan(at, n), received).ok());
    CHECK(opener.mid_record() == (received.size() < sent.size()));
    at += n;
  }
  CHECK(received == sent);
  CHECK(opener.moved_bytes() == 0);
}

TEST_CASE("a tampered record split across reads is refused and none of its plaintext is offered") {
  // Proves streamed plaintext stays unauthenticated until the tag checks: the sink sees nothing.
  Channel channel(Cipher::chacha20poly1305);
  auto sealer = channel.sealer(4096);
  auto opener = channel.opener(4096);
  std::vector<std::uint8_t> sent(4000, 9);
  ByteBuffer stream;
  sealer.seal(sent, stream);
  std::vector<std::uint8_t> bytes(stream.span().begin(), stream.span().end());
  bytes[2000] ^= 1;
  std::size_t offered = 0;
  auto sink = [&](std::span<const std::uint8_t> plain) { offered += plain.size(); return plain.size(); };
  REQUIRE(opener.feed_taking(std::span(bytes).first(1000), sink).ok());
  auto refused = opener.feed_taking(std::span(bytes).subspan(1000), sink);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == errc::record_tampered);
  CHECK(offered == 0);
}
