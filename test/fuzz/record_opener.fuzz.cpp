// libFuzzer target for secure::RecordOpener, which reads every byte an authenticated peer
// sends: hostile streams, and genuine records tampered with, fed in fuzz-chosen chunks.
//
// Input layout:
//   0    1  flags: bit 0 mode (0 = raw bytes, 1 = sealed then tampered), bit 1 cipher
//           (0 ChaCha20-Poly1305, 1 AES-256-GCM), bits 2..3 record_max_bytes (1, 16, 300, 4096),
//           bit 4 end with a close record, bits 5..7 the sink returns false at that delivery
//           (0 = never)
//   1    1  n = byte % 8, the number of chunk sizes that follow
//   2    n  chunk sizes, used in turn for every feed (0 = an empty feed; all zero = one chunk)
//   then mode 0: the stream
//        mode 1: u16 LE plaintext length P, 1 byte piece size (plaintext sealed by one seal()
//                call per piece; 0 = one call), P bytes of plaintext, then tampering ops of
//                4 bytes, at most 32: kind % 5 (xor, truncate, duplicate, erase, insert byte),
//                position (u16 LE, modulo the stream size), value
//
// Invariants, trapped on: the plaintext delivered is always a prefix of what was sealed; every
// record wholly before the first tampered byte is delivered; a pure truncation is no error,
// delivers every complete record and leaves mid_record() set exactly when it cut a record; a
// close record means everything was delivered; deliveries are non-empty, at most
// record_max_bytes, and stop once the sink says false; errors are final; raw bytes never
// authenticate (they are opened with a key that never sealed anything).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "fuzz_input.hpp"

#include "plexus/core/byte_buffer.hpp"
#include "plexus/core/little_endian.hpp"
#include "plexus/secure/record.hpp"

namespace {

namespace secure = plexus::secure;
using Bytes = std::vector<std::uint8_t>;
using plexus::fuzz::ByteSpan;
using plexus::fuzz::Chunker;
using plexus::fuzz::Input;

constexpr std::size_t max_tamper_ops = 32;
constexpr std::array<std::size_t, 4> record_max_choices = {1, 16, 300, 4096};
// Two keys: records sealed in one run could otherwise reach the raw mode of another run (through
// libFuzzer's comparison tables) and authenticate there.
constexpr std::array<std::uint8_t, 32> sealed_key = [] {
  std::array<std::uint8_t, 32> key{};
  key.fill(0x22);
  return key;
}();
constexpr std::array<std::uint8_t, 32> raw_key = [] {
  std::array<std::uint8_t, 32> key{};
  key.fill(0x5a);
  return key;
}();

void check(bool property) {
  if (!property) __builtin_trap();
}

struct Setup {
  bool sealed_mode;
  secure::Cipher cipher;
  std::size_t record_max_bytes;
  bool with_close;
  std::size_t stop_at_delivery;
};

Setup make_setup(std::uint8_t flags) {
  return {(flags & 1) != 0,
          (flags & 2) ? secure::Cipher::aes256gcm : secure::Cipher::chacha20poly1305,
          record_max_choices[(flags >> 2) & 3], (flags & 16) != 0,
          static_cast<std::size_t>(flags >> 5)};
}

struct Opened {
  Bytes plain;
  std::size_t deliveries = 0;
  bool stopped = false;
  std::error_code error;
};

// Feeds `stream` in chunks until its end, an error, or the sink saying stop.
Opened open_stream(secure::RecordOpener& opener, ByteSpan stream, Chunker& chunker, const Setup& setup) {
  Opened opened;
  const secure::RecordOpener::PlainSink sink = [&](ByteSpan plain) {
    check(!opened.stopped);
    check(!plain.empty() && plain.size() <= setup.record_max_bytes);
    opened.plain.insert(opened.plain.end(), plain.begin(), plain.end());
    opened.stopped = ++opened.deliveries == setup.stop_at_delivery;
    return !opened.stopped;
  };
  while (!stream.empty() && !opened.stopped) {
    const std::size_t size = chunker.next(stream.size());
    const auto result = opener.feed(stream.first(size), sink);
    if (!result) {
      opened.error = result.error().code;
      break;
    }
    stream = stream.subspan(size);
  }
  if (opened.error) {
    const std::size_t deliveries = opened.deliveries;
    const auto again = opener.feed(stream, sink);
    check(!again && again.error().code == opened.error);
    const auto empty = opener.feed({}, sink);
    check(!empty && empty.error().code == opened.error);
    check(opened.deliveries == deliveries);
  }
  return opened;
}

void run_raw(const Setup& setup, ByteSpan stream, Chunker& chunker) {
  secure::RecordOpener opener(setup.cipher, raw_key.data(), setup.record_max_bytes);
  const Opened opened = open_stream(opener, stream, chunker, setup);
  check(opened.deliveries == 0 && !opener.closed());
}

struct Sealed {
  Bytes plain;
  Bytes stream;
};

Sealed seal(const Setup& setup, Input& input) {
  std::size_t plain_bytes = input.byte();
  plain_bytes |= static_cast<std::size_t>(input.byte()) << 8;
  const std::size_t piece_bytes = input.byte();
  const ByteSpan plain = input.take(plain_bytes);
  secure::RecordSealer sealer(setup.cipher, sealed_key.data(), setup.record_max_bytes);
  plexus::ByteBuffer out;
  for (ByteSpan rest = plain; !rest.empty();) {
    const auto piece = rest.first(piece_bytes == 0 ? rest.size() : std::min(piece_bytes, rest.size()));
    const std::size_t before = out.size();
    sealer.seal(piece, out);
    check(out.size() - before == sealer.sealed_size(piece.size()));
    rest = rest.subspan(piece.size());
  }
  if (setup.with_close) sealer.seal_close(out);
  return {Bytes(plain.begin(), plain.end()), Bytes(out.span().begin(), out.span().end())};
}

void tamper(Bytes& stream, Input& input) {
  for (std::size_t ops = 0; ops < max_tamper_ops && !input.empty(); ++ops) {
    const unsigned kind = input.byte() % 5;
    std::size_t position = input.byte();
    position |= static_cast<std::size_t>(input.byte()) << 8;
    const std::uint8_t value = input.byte();
    const std::size_t at = position % (stream.size() + 1);
    const auto it = stream.begin() + static_cast<std::ptrdiff_t>(at);
    const auto run = static_cast<std::ptrdiff_t>(std::min<std::size_t>(value + 1U, stream.size() - at));
    switch (kind) {
      case 0: if (at < stream.size()) *it ^= value; break;
      case 1: stream.resize(at); break;
      case 2: {
        const Bytes copy(it, it + run);  // a replayed record when it covers one
        stream.insert(it + run, copy.begin(), copy.end());
        break;
      }
      case 3: stream.erase(it, it + run); break;
      default: stream.insert(it, value); break;
    }
  }
}

// What a correct opener must deliver from the untampered prefix of the stream.
struct Expected {
  std::size_t plain_bytes = 0;     // of the records that end before the first tampered byte
  std::size_t records_end = 0;     // where the last of them ends
  bool close_seen = false;
};

Expected expected_before(ByteSpan genuine, std::size_t first_change) {
  Expected expected;
  std::size_t at = 0;
  while (genuine.size() - at >= secure::record_header_bytes) {
    const std::size_t end = at + secure::record_header_bytes + plexus::load_le32(genuine.data() + at);
    if (end > first_change) break;
    expected.plain_bytes += end - at - secure::record_overhead_bytes;
    expected.close_seen = genuine[at + 4] == static_cast<std::uint8_t>(secure::RecordType::close);
    expected.records_end = at = end;
  }
  return expected;
}

void run_sealed(const Setup& setup, Input& input, Chunker& chunker) {
  const Sealed sealed = seal(setup, input);
  Bytes stream = sealed.stream;
  tamper(stream, input);
  const auto first_change = static_cast<std::size_t>(
      std::mismatch(stream.begin(), stream.end(), sealed.stream.begin(), sealed.stream.end()).first -
      stream.begin());
  secure::RecordOpener opener(setup.cipher, sealed_key.data(), setup.record_max_bytes);
  const Opened opened = open_stream(opener, stream, chunker, setup);

  // Never an altered byte: what arrives is what was sealed, in order.
  check(opened.plain.size() <= sealed.plain.size());
  check(std::equal(opened.plain.begin(), opened.plain.end(), sealed.plain.begin()));
  // The close record is sealed last: seeing it proves nothing was cut off.
  if (opener.closed()) check(opened.plain == sealed.plain);
  if (opened.stopped) return;
  const Expected expected = expected_before(sealed.stream, first_change);
  check(opened.plain.size() >= expected.plain_bytes);
  if (expected.close_seen) check(opener.closed());
  const bool truncated_only = first_change == stream.size();
  if (truncated_only) {
    check(!opened.error);
    check(opened.plain.size() == expected.plain_bytes && opener.closed() == expected.close_seen);
    check(opener.mid_record() == (stream.size() != expected.records_end));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input input({data, size});
  const Setup setup = make_setup(input.byte());
  Chunker chunker(input.take(input.byte() % 8));
  if (setup.sealed_mode) {
    run_sealed(setup, input, chunker);
  } else {
    run_raw(setup, input.rest(), chunker);
  }
  return 0;
}
