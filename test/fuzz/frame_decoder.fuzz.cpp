// libFuzzer target for the untrusted-input path of plexus::wire: a byte stream
// cut into frames by FrameDecoder, each frame body decoded by wire::decode.
//
// Input layout: byte 0 % 8 = n, the number of split bytes; bytes 1..n give the chunk sizes
// (byte + 1, used in turn, cycling); the remaining bytes are the stream, in frames of
// u32 little-endian body length + body. With n = 0 the stream is fed as one chunk.
//
// Beyond "never crash", it checks two properties and traps when they fail:
// - splitting does not matter: the split feed and a one-chunk feed of the same stream deliver
//   the same frames and end in the same state (same error, same partial frame);
// - cut() with the caller holding the rest (the record opener's way) is the same as feed();
// - a decoded message re-encodes to a body that decodes to the same message.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "plexus/wire/frame.hpp"
#include "plexus/wire/message.hpp"

namespace {

namespace wire = plexus::wire;

constexpr std::size_t fuzz_max_frame_bytes = 1024 * 1024;

struct Trace {
  std::vector<std::uint64_t> frame_hashes;
  bool failed = false;
  std::size_t buffered_bytes = 0;
  friend bool operator==(const Trace&, const Trace&) = default;
};

std::uint64_t fnv1a(std::span<const std::uint8_t> bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL ^ bytes.size();
  for (auto b : bytes) hash = (hash ^ b) * 0x100000001b3ULL;
  return hash;
}

void check(bool property) {
  if (!property) __builtin_trap();
}

void decode_and_reencode(std::span<const std::uint8_t> body) {
  const wire::Limits limits{.max_frame_bytes = fuzz_max_frame_bytes};
  auto decoded = wire::decode(body, limits);
  if (!decoded.ok()) return;
  const auto again = wire::decode(wire::encode(*decoded), limits);
  check(again.ok() && *again == *decoded);
}

Trace feed_split(std::span<const std::uint8_t> splits, std::span<const std::uint8_t> stream) {
  Trace trace;
  wire::FrameDecoder decoder(fuzz_max_frame_bytes);
  auto on_frame = [&trace](std::span<const std::uint8_t> body) {
    trace.frame_hashes.push_back(fnv1a(body));
    decode_and_reencode(body);
  };
  std::size_t turn = 0;
  while (!stream.empty() && !trace.failed) {
    const std::size_t want = splits.empty() ? stream.size() : splits[turn++ % splits.size()] + 1U;
    const std::size_t size = want < stream.size() ? want : stream.size();
    trace.failed = !decoder.feed(stream.first(size), on_frame).ok();
    stream = stream.subspan(size);
  }
  trace.buffered_bytes = decoder.buffered_bytes();
  check(decoder.mid_frame() == (trace.buffered_bytes != 0));
  check(trace.buffered_bytes <= wire::frame_prefix_bytes + fuzz_max_frame_bytes);
  return trace;
}

// The same split feed through cut(), the caller holding the incomplete rest (as the record
// opener does): the same frames, the same error, the same rest as feed's partial frame.
Trace feed_cut(std::span<const std::uint8_t> splits, std::span<const std::uint8_t> stream) {
  Trace trace;
  wire::FrameDecoder decoder(fuzz_max_frame_bytes);
  std::vector<std::uint8_t> held;
  std::size_t turn = 0;
  while (!stream.empty() && !trace.failed) {
    const std::size_t want = splits.empty() ? stream.size() : splits[turn++ % splits.size()] + 1U;
    const std::size_t size = want < stream.size() ? want : stream.size();
    held.insert(held.end(), stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(size));
    stream = stream.subspan(size);
    auto cut = decoder.cut(held, [&trace](std::span<const std::uint8_t> body) {
      trace.frame_hashes.push_back(fnv1a(body));
    });
    if (!cut.ok()) {
      trace.failed = true;
      held.clear();
      break;
    }
    check(!cut->stopped && cut->used <= held.size());
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(cut->used));
    check(held.size() <= wire::frame_prefix_bytes + fuzz_max_frame_bytes);
  }
  check(!decoder.mid_frame());
  trace.buffered_bytes = held.size();
  return trace;
}

Trace feed_whole(std::span<const std::uint8_t> stream) {
  Trace trace;
  wire::FrameDecoder decoder(fuzz_max_frame_bytes);
  trace.failed = !decoder
                      .feed(stream,
                            [&trace](std::span<const std::uint8_t> body) {
                              trace.frame_hashes.push_back(fnv1a(body));
                            })
                      .ok();
  trace.buffered_bytes = decoder.buffered_bytes();
  return trace;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t split_count = data[0] % 8;
  if (size < 1 + split_count) return 0;
  const std::span<const std::uint8_t> splits(data + 1, split_count);
  const std::span<const std::uint8_t> stream(data + 1 + split_count, size - 1 - split_count);
  const Trace whole = feed_whole(stream);
  check(feed_split(splits, stream) == whole);
  check(feed_cut(splits, stream) == whole);
  return 0;
}
