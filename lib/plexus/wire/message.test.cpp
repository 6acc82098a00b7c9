// Tests of typed messages (message.hpp) on honest input: round trips, the body format
// (segment table, then segments), alignment, limits on size, and the traversal-limit rule.
#include "plexus/wire/message.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <doctest/doctest.h>

#include <cstring>
#include <ostream>  // doctest prints std::error_code through it
#include <string>
#include <vector>

#include "plexus/wire/plexus.capnp.h"

namespace wire = plexus::wire;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes pattern(std::size_t size) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i * 131 + 7);
  return bytes;
}

// A message of the fast path's shape: no relay path, no causal stamp, no payload.
wire::Message plain_message() {
  wire::Message m;
  m.origin = "a";
  m.origin_instance = 7;
  m.target = "b";
  m.server = "sink";
  m.channel = "default";
  m.partition_key = 3;
  m.ack_id = 11;
  m.hops_left = 2;
  m.target_instance = 9;
  return m;
}

wire::Envelope round_trip(const wire::Envelope& sent) {
  const Bytes body = wire::encode(sent);
  auto received = wire::decode(body);
  REQUIRE_MESSAGE(received.ok(), received.error().message());
  return *received;
}

}  // namespace

TEST_CASE("Data envelopes round-trip for empty, 1-byte, 64 KiB and 1 MiB payloads") {
  // Proves encode then decode gives back the same payload, at sizes around segment boundaries.
  for (std::size_t size : {0, 1, 7, 8, 9, 64 * 1024, 1024 * 1024}) {
    CAPTURE(size);
    const wire::Envelope sent = wire::Data{pattern(size)};
    CHECK(round_trip(sent) == sent);
  }
}

TEST_CASE("Goodbye envelopes round-trip for empty, 1-byte, 64 KiB and 1 MiB reasons") {
  // Proves text reasons survive encode/decode, including lengths where the NUL needs a new word
  // and embedded zero bytes.
  for (std::size_t size : {0, 1, 7, 8, 64 * 1024, 1024 * 1024}) {
    CAPTURE(size);
    std::string reason(size, 'r');
    if (size > 2) reason[size / 2] = '\0';
    const wire::Envelope sent = wire::Goodbye{reason};
    CHECK(round_trip(sent) == sent);
  }
}

TEST_CASE("encode writes one segment in the standard serialization") {
  // Proves the body format: segment count-1 = 0, segment size in words, then 8-byte words;
  // root pointer + 2-word Envelope + the payload rounded up to words.
  const Bytes body = wire::encode(wire::Data{Bytes{1, 2, 3}});
  REQUIRE(body.size() == 8 + 8 * (1 + 2 + 1));
  CHECK(wire::read_frame_prefix(body.data()) == 0);
  CHECK(wire::read_frame_prefix(body.data() + 4) == 4);
  CHECK(body.size() % 8 == 0);
}

TEST_CASE("append_encoded_frame writes a frame that the frame decoder and decode read back") {
  // Proves the sending path end to end: prefix + body, decoded from a stream.
  Bytes stream;
  wire::append_encoded_frame(stream, wire::Goodbye{"shutting down"});
  wire::append_encoded_frame(stream, wire::Data{pattern(300)});
  CHECK(wire::read_frame_prefix(stream.data()) ==
        wire::encode(wire::Goodbye{"shutting down"}).size());
  std::vector<wire::Envelope> received;
  wire::FrameDecoder decoder;
  REQUIRE(decoder
              .feed(stream,
                    [&](std::span<const std::uint8_t> body) {
                      auto decoded = wire::decode(body);
                      REQUIRE(decoded.ok());
                      received.push_back(*decoded);
                    })
              .ok());
  REQUIRE(received.size() == 2);
  CHECK(received[0] == wire::Envelope{wire::Goodbye{"shutting down"}});
  CHECK(received[1] == wire::Envelope{wire::Data{pattern(300)}});
}

TEST_CASE("decode reads bodies at any address, aligned or not") {
  // Proves unaligned bodies (the usual case, 4 bytes after a prefix) are realigned, for bodies
  // realigned on the stack and on the heap.
  for (std::size_t size : {5, 5000}) {
    const Bytes body = wire::encode(wire::Data{pattern(size)});
    for (std::size_t shift = 0; shift < 8; ++shift) {
      CAPTURE(shift);
      std::vector<std::uint64_t> storage(body.size() / 8 + 2);
      auto* at = reinterpret_cast<std::uint8_t*>(storage.data()) + shift;
      std::memcpy(at, body.data(), body.size());
      auto decoded = wire::decode({at, body.size()});
      REQUIRE(decoded.ok());
      CHECK(std::get<wire::Data>(*decoded).payload == pattern(size));
    }
  }
}

TEST_CASE("decode accepts a message split into many segments by another encoder") {
  // Proves any valid segmentation is read (far pointers included), not only encode()'s.
  capnp::MallocMessageBuilder builder(1, capnp::AllocationStrategy::FIXED_SIZE);
  auto root = builder.initRoot<wire::schema::Envelope>();
  root.setGoodbye("bye");
  REQUIRE(builder.getSegmentsForOutput().size() > 1);
  const auto flat = capnp::messageToFlatArray(builder);
  const auto bytes = flat.asBytes();
  auto decoded = wire::decode({bytes.begin(), bytes.size()});
  REQUIRE_MESSAGE(decoded.ok(), decoded.error().message());
  CHECK(*decoded == wire::Envelope{wire::Goodbye{"bye"}});
}

TEST_CASE("decode rejects bodies over max_frame_bytes, empty bodies and partial words") {
  // Proves the cheap checks before Cap'n Proto: size limit (frame_too_large), empty body
  // (a tick, not a message) and lengths that are not a multiple of 8 (malformed).
  const Bytes body = wire::encode(wire::Data{pattern(100)});
  auto too_big = wire::decode(body, wire::Limits{.max_frame_bytes = body.size() - 8});
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == plexus::errc::frame_too_large);
  CHECK(too_big.error().detail == "message of " + std::to_string(body.size()) +
                                      " bytes exceeds limit " + std::to_string(body.size() - 8));
  CHECK(wire::decode(body, wire::Limits{.max_frame_bytes = body.size()}).ok());

  auto empty = wire::decode({});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == plexus::errc::malformed_message);

  for (std::size_t cut : {1, 4, 9, 15}) {
    auto partial = wire::decode({body.data(), body.size() - cut});
    REQUIRE_FALSE(partial.ok());
    CHECK(partial.error().code == plexus::errc::malformed_message);
  }
  auto odd = wire::decode({body.data(), 17});
  CHECK(odd.error().detail == "body of 17 bytes is not a whole number of words");
}

TEST_CASE("decode rejects bytes after the end of the message") {
  // Proves that a body must be exactly one message: trailing words are malformed.
  Bytes body = wire::encode(wire::Goodbye{"x"});
  body.resize(body.size() + 16);
  auto decoded = wire::decode(body);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().detail == "16 bytes after the end of the message");
}

TEST_CASE("the traversal limit is twice the body words plus 64, capped by max_frame_bytes") {
  // Proves the documented rule of Limits::traversal_limit_words.
  const wire::Limits limits;
  CHECK(limits.traversal_limit_words(0) == 64);
  CHECK(limits.traversal_limit_words(800) == 264);
  CHECK(limits.traversal_limit_words(16 * 1024 * 1024) == 4 * 1024 * 1024);
  const wire::Limits small{.max_frame_bytes = 1024};
  CHECK(small.traversal_limit_words(800) == 256);
}

TEST_CASE("encode(message, payload) writes the bytes of the message with that payload") {
  // Proves the payload-apart encoding forward_message uses gives byte for byte
  // what encoding the whole message gives, on the fast path (plain message)
  // and the full one (relayed and causal), and decodes to the whole message.
  const wire::Message plain = plain_message();
  wire::Message causal = plain;
  causal.via = {"c"};
  causal.causal_label = "l";
  causal.causal_clock = {{"a#7", 4}};
  causal.causal_deps = {{"b#9", {{"b#9", 2}}}};
  for (const auto& shape : {plain, causal}) {
    for (std::size_t size : {0, 1, 100, 4095, 4096, 64 * 1024}) {
      CAPTURE(size);
      const Bytes payload = pattern(size);
      wire::Message whole = shape;
      whole.payload = payload;
      const Bytes apart = wire::encode(shape, payload);
      CHECK(apart == wire::encode(wire::Envelope{whole}));
      auto decoded = wire::decode(apart);
      REQUIRE(decoded.ok());
      CHECK(std::get<wire::Message>(*decoded) == whole);
    }
  }
}

TEST_CASE("encode_in_place writes every byte of encode(message, payload) into a dirty buffer") {
  // Proves the in-place writer forward_message uses into the outbox: same
  // bytes, padding and NULs included, whatever the buffer held; and that it
  // declines (0) what only the full path encodes.
  wire::Message m = plain_message();
  m.server = "a-server-name-longer-than-sso";
  for (std::size_t size : {0, 1, 9, 100, 4095, 4096, 64 * 1024 + 3}) {
    CAPTURE(size);
    const Bytes payload = pattern(size);
    const std::size_t bytes = wire::encoded_bytes_in_place(m, payload);
    REQUIRE(bytes != 0);
    Bytes dirty(bytes, 0xAA);
    wire::encode_in_place(dirty, m, payload);
    CHECK(dirty == wire::encode(m, payload));
  }
  wire::Message relayed = m;
  relayed.via = {"x"};
  CHECK(wire::encoded_bytes_in_place(relayed, pattern(10)) == 0);
  wire::Message holding = m;
  holding.payload = pattern(4);
  CHECK(wire::encoded_bytes_in_place(holding, {}) == 0);
}
