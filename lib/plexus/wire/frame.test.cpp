// Tests of the frame codec (frame.hpp): u32 little-endian body length, then the body.
// Streams are cut by seeded random read splits and short writes, as FoundationDB's Sim2Conn
// does; a failing case prints its seed, and rerunning the same test case replays it.
#include "plexus/wire/frame.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>  // doctest prints std::error_code through it
#include <random>
#include <string>
#include <vector>

namespace wire = plexus::wire;
using Bytes = std::vector<std::uint8_t>;

namespace {

struct Seen {
  std::size_t size;
  std::uint64_t checksum;
  friend bool operator==(const Seen&, const Seen&) = default;
};

std::uint64_t fnv1a(std::span<const std::uint8_t> bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (auto b : bytes) hash = (hash ^ b) * 0x100000001b3ULL;
  return hash;
}

std::size_t random_frame_size(std::mt19937& rng) {
  const auto pick = rng() % 100;
  if (pick < 2) return 0;  // ticks
  if (pick < 72) return rng() % 200;
  if (pick < 97) return 200 + rng() % 5000;
  return 5000 + rng() % 70000;
}

// A stream of `count` random frames and what a decoder must report for it.
struct Stream {
  Bytes bytes;
  std::vector<Seen> frames;
};

Stream random_stream(std::mt19937& rng, std::size_t count) {
  Stream stream;
  for (std::size_t i = 0; i < count; ++i) {
    Bytes body(random_frame_size(rng));
    for (auto& b : body) b = static_cast<std::uint8_t>(rng());
    wire::append_frame(stream.bytes, body);
    stream.frames.push_back({body.size(), fnv1a(body)});
  }
  return stream;
}

// A chunk size: one byte, a few bytes, a socket-sized read, or up to everything left.
std::size_t random_chunk(std::mt19937& rng, std::size_t left) {
  std::size_t size = 1;
  switch (rng() % 4) {
    case 0:
      size = 1;
      break;
    case 1:
      size = 1 + rng() % 16;
      break;
    case 2:
      size = 1 + rng() % 65536;
      break;
    default:
      size = 1 + rng() % left;
      break;
  }
  return std::min(size, left);
}

auto recorder(std::vector<Seen>& seen) {
  return [&seen](std::span<const std::uint8_t> body) {
    seen.push_back({body.size(), fnv1a(body)});
  };
}

}  // namespace

TEST_CASE("the prefix is the body length as 4 little-endian bytes") {
  // Proves the byte format of the prefix and that append_frame writes prefix then body.
  std::uint8_t prefix[4];
  wire::put_frame_prefix(prefix, 0x01020304);
  CHECK(Bytes(prefix, prefix + 4) == Bytes{0x04, 0x03, 0x02, 0x01});
  CHECK(wire::read_frame_prefix(prefix) == 0x01020304);

  Bytes out{0xee};
  wire::append_frame(out, Bytes{7, 8, 9});
  CHECK(out == Bytes{0xee, 3, 0, 0, 0, 7, 8, 9});
}

TEST_CASE("frames wholly inside one chunk are delivered in place, without a copy") {
  // Proves the zero-copy path: each body span points into the caller's chunk.
  std::mt19937 rng(7);
  const Stream stream = random_stream(rng, 200);
  wire::FrameDecoder decoder;
  std::size_t offset = 0;
  std::size_t index = 0;
  auto result = decoder.feed(stream.bytes, [&](std::span<const std::uint8_t> body) {
    CHECK(body.data() == stream.bytes.data() + offset + wire::frame_prefix_bytes);
    CHECK(body.size() == stream.frames[index].size);
    offset += wire::frame_prefix_bytes + body.size();
    ++index;
  });
  REQUIRE(result.ok());
  CHECK(index == stream.frames.size());
  CHECK_FALSE(decoder.mid_frame());
}

TEST_CASE("random read splits deliver every frame once, in order, intact") {
  // Proves reassembly across any split, from 1-byte reads to the whole stream, over thousands
  // of random-size frames whose checksums are verified.
  for (std::uint32_t seed = 1; seed <= 4; ++seed) {
    INFO("seed " << seed << " (rerun this test case to replay)");
    std::mt19937 rng(seed);
    const Stream stream = random_stream(rng, 2000);
    wire::FrameDecoder decoder(100000);
    std::vector<Seen> seen;
    std::size_t at = 0;
    while (at < stream.bytes.size()) {
      const std::size_t size = random_chunk(rng, stream.bytes.size() - at);
      REQUIRE(decoder.feed({stream.bytes.data() + at, size}, recorder(seen)).ok());
      REQUIRE(decoder.buffered_bytes() <= wire::frame_prefix_bytes + 100000);
      at += size;
    }
    CHECK_FALSE(decoder.mid_frame());
    CHECK(seen == stream.frames);
  }
}

TEST_CASE("short writes on one side and short reads on the other still frame correctly") {
  // Proves framing when the sender's writes and the receiver's reads are cut independently:
  // a pipe filled by random short writes of the sender's buffer and drained by random reads.
  std::mt19937 rng(99);
  const Stream stream = random_stream(rng, 1500);
  wire::FrameDecoder decoder;
  std::vector<Seen> seen;
  Bytes pipe;
  std::size_t written = 0;
  while (written < stream.bytes.size() || !pipe.empty()) {
    if (written < stream.bytes.size() && rng() % 2 == 0) {
      const std::size_t n = random_chunk(rng, stream.bytes.size() - written);
      pipe.insert(pipe.end(), stream.bytes.begin() + static_cast<std::ptrdiff_t>(written),
                  stream.bytes.begin() + static_cast<std::ptrdiff_t>(written + n));
      written += n;
    } else if (!pipe.empty()) {
      const std::size_t n = random_chunk(rng, pipe.size());
      const Bytes read(pipe.begin(), pipe.begin() + static_cast<std::ptrdiff_t>(n));
      pipe.erase(pipe.begin(), pipe.begin() + static_cast<std::ptrdiff_t>(n));
      REQUIRE(decoder.feed(read, recorder(seen)).ok());
    }
  }
  CHECK_FALSE(decoder.mid_frame());
  CHECK(seen == stream.frames);
}

TEST_CASE("a stream fed one byte at a time decodes like the whole stream") {
  // Proves the smallest possible split, including a split inside every prefix.
  std::mt19937 rng(3);
  const Stream stream = random_stream(rng, 300);
  wire::FrameDecoder decoder;
  std::vector<Seen> seen;
  for (const std::uint8_t byte : stream.bytes) {
    REQUIRE(decoder.feed({&byte, 1}, recorder(seen)).ok());
  }
  CHECK(seen == stream.frames);
}

TEST_CASE("a truncated stream leaves a partial frame buffered and undelivered") {
  // Proves that nothing is delivered for a partial frame or prefix and mid_frame() reports it.
  Bytes stream;
  wire::append_frame(stream, Bytes(10, 1));
  wire::append_frame(stream, Bytes(10, 2));
  for (std::size_t cut = 14; cut < stream.size(); ++cut) {
    CAPTURE(cut);
    wire::FrameDecoder decoder;
    std::vector<Seen> seen;
    REQUIRE(decoder.feed({stream.data(), cut}, recorder(seen)).ok());
    CHECK(seen.size() == 1);
    CHECK(decoder.mid_frame() == (cut > 14));
    CHECK(decoder.buffered_bytes() == cut - 14);
  }
  wire::FrameDecoder fresh;
  CHECK_FALSE(fresh.mid_frame());
  REQUIRE(fresh.feed({stream.data(), 2}, [](auto) { FAIL("no frame expected"); }).ok());
  CHECK(fresh.mid_frame());
}

TEST_CASE("a prefix above the limit is rejected and poisons the decoder") {
  // Proves errc::frame_too_large with the exact detail, for a whole or a split prefix, that the
  // error repeats on every later feed, and that a frame exactly at the limit is accepted.
  std::uint8_t prefix[4];
  wire::put_frame_prefix(prefix, 20000000);
  for (std::size_t split = 0; split <= 4; ++split) {
    CAPTURE(split);
    wire::FrameDecoder decoder;
    int frames = 0;
    auto count = [&](auto) { ++frames; };
    auto first = decoder.feed({prefix, split}, count);
    auto result = first.ok() ? decoder.feed({prefix + split, 4 - split}, count) : first;
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == plexus::errc::frame_too_large);
    CHECK(result.error().detail == "frame of 20000000 bytes exceeds limit 16777216");
    const Bytes good{0, 0, 0, 0};
    auto again = decoder.feed(good, count);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().detail == result.error().detail);
    CHECK(frames == 0);
  }
  wire::FrameDecoder small(8);
  Bytes at_limit;
  wire::append_frame(at_limit, Bytes(8, 5));
  CHECK(small.feed(at_limit, [](auto) {}).ok());
  wire::append_frame(at_limit, Bytes(9, 5));
  CHECK(small.feed(at_limit, [](auto) {}).error().detail == "frame of 9 bytes exceeds limit 8");
}

TEST_CASE("zero-length frames are delivered as empty ticks") {
  // Proves ticks are frames of their own, in order among other frames, whole or byte by byte.
  Bytes stream;
  wire::append_frame(stream, {});
  wire::append_frame(stream, Bytes{42});
  wire::append_frame(stream, {});
  for (std::size_t step : {stream.size(), std::size_t{1}}) {
    wire::FrameDecoder decoder;
    std::vector<std::size_t> sizes;
    for (std::size_t at = 0; at < stream.size(); at += step) {
      REQUIRE(decoder
                  .feed({stream.data() + at, std::min(step, stream.size() - at)},
                        [&](std::span<const std::uint8_t> body) { sizes.push_back(body.size()); })
                  .ok());
    }
    CHECK(sizes == std::vector<std::size_t>{0, 1, 0});
  }
}

TEST_CASE("a handler returning false stops the feed at that frame") {
  // Proves bool handlers: false returns ok at once, later frames of the chunk are not delivered,
  // and the decoder is left at a frame boundary, also when the stopping frame was reassembled.
  Bytes stream;
  for (std::uint8_t i = 0; i < 4; ++i) wire::append_frame(stream, Bytes(3, i));
  for (std::size_t first_chunk : {std::size_t{0}, std::size_t{12}}) {
    wire::FrameDecoder decoder;
    std::vector<std::uint8_t> firsts;
    auto stop_at_second = [&](std::span<const std::uint8_t> body) {
      firsts.push_back(body[0]);
      return firsts.size() < 2;
    };
    REQUIRE(decoder.feed({stream.data(), first_chunk}, stop_at_second).ok());
    REQUIRE(decoder.feed({stream.data() + first_chunk, stream.size() - first_chunk}, stop_at_second)
                .ok());
    CHECK(firsts == std::vector<std::uint8_t>{0, 1});
    CHECK_FALSE(decoder.mid_frame());
  }
}

TEST_CASE("cut hands out whole frames from the caller's buffer and leaves the rest to it") {
  // Proves cut(): frames come straight from the given bytes, the incomplete rest is left (used
  // stops before it), nothing is buffered, and an oversized prefix in the rest is refused early.
  Bytes stream;
  wire::append_frame(stream, Bytes(10, 1));
  wire::append_frame(stream, Bytes(20, 2));
  wire::append_frame(stream, Bytes(30, 3));
  wire::FrameDecoder decoder(100);
  std::vector<const std::uint8_t*> starts;
  auto cut = decoder.cut(std::span(stream).first(50), [&](std::span<const std::uint8_t> body) {
    starts.push_back(body.data());
  });
  REQUIRE(cut.ok());
  CHECK(cut->used == 38);  // two frames; 12 bytes of the third are left
  CHECK_FALSE(cut->stopped);
  REQUIRE(starts.size() == 2);
  CHECK(starts[0] == stream.data() + 4);
  CHECK(starts[1] == stream.data() + 18);
  CHECK_FALSE(decoder.mid_frame());
  auto rest = decoder.cut(std::span(stream).subspan(38), [&](std::span<const std::uint8_t> body) {
    CHECK(body.size() == 30);
    return false;  // stop
  });
  REQUIRE(rest.ok());
  CHECK(rest->used == 34);
  CHECK(rest->stopped);

  Bytes huge(6, 0);
  huge[0] = 0xff;  // a prefix of 255 bytes, over the limit of 100, with no body yet
  auto refused = decoder.cut(huge, [](std::span<const std::uint8_t>) {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == plexus::errc::frame_too_large);
}
