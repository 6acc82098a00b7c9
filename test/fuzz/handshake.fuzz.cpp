// libFuzzer target for secure::Handshake, the first code that reads bytes from a peer that has
// not proved anything yet: a responder fed hostile bytes in fuzz-chosen chunks, and
// secure::parse_hello on the raw input.
//
// Input layout:
//   0    1  mode % 3: 0 = raw bytes; 1 = a well-formed initiator hello, then raw bytes (the
//           would-be auth tag and record stream); 2 = a real initiator against the responder,
//           the messages tampered with in flight
//   1    1  configs: bit 0 responder insecure, bits 1..2 responder ciphers (0 both, 1 AES-GCM,
//           2 ChaCha20, 3 the library default), bit 3 initiator insecure, bits 4..5 initiator ciphers
//   2    1  n = byte % 8, the number of chunk sizes that follow
//   3    n  chunk sizes, used in turn for every feed (0 = an empty feed; all zero = one chunk)
//   then mode 0: the stream
//        mode 1: u16 LE hello feature bits, 1 byte name length - 1, 1 byte key source (bit 0:
//                the next 32 bytes, else a real X25519 key pair), [32 key bytes], the stream
//                after the hello
//        mode 2: tampering ops of 4 bytes, at most 32: target % 3 (0 = initiator hello + tag +
//                record bytes to the responder, 1 = responder hello to the initiator, 2 =
//                responder tag to the initiator), kind % 5 (xor, insert byte, erase, truncate,
//                insert the next value % 16 + 1 input bytes), position, value
//
// libsodium draws from a ChaCha20 stream seeded with a hash of the whole input, so a run
// replays exactly, and no auth tag seen while running one input is valid for another.
//
// Invariants, trapped on: feed never consumes more than it was given, and consumes all of it
// until done(); an error is final (later feeds, empty or not, return the same error); the
// responder writes nothing but one 32-byte tag; it never reaches done() in modes 0 and 1 (no
// key holder ever saw its hello); in mode 2 it reaches done() only after taking exactly the
// initiator's genuine hello and tag, both sides then hold crossed keys, and an untampered,
// compatible exchange always ends done() with the record bytes left unconsumed; a parsed
// hello re-encodes to the bytes it was parsed from (the transcript hashes the re-encoding).
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "fuzz_input.hpp"

#include "plexus/core/errors.hpp"
#include "plexus/secure/handshake.hpp"

namespace {

namespace secure = plexus::secure;
using plexus::errc;
using Bytes = std::vector<std::uint8_t>;
using plexus::fuzz::ByteSpan;
using plexus::fuzz::Chunker;
using plexus::fuzz::Input;

constexpr std::size_t max_tamper_ops = 32;
constexpr std::uint32_t cipher_bits = secure::feature::aes256gcm | secure::feature::chacha20poly1305;
// Stands for the first record bytes a real initiator sends right behind its auth tag.
constexpr std::array<std::uint8_t, 8> record_bytes = {0x10, 0, 0, 0, 0, 0, 0, 0};

void check(bool property) {
  if (!property) __builtin_trap();
}

// Deterministic randomness for libsodium (key pairs), reseeded for every input.
std::array<std::uint8_t, randombytes_SEEDBYTES> rng_seed{};
std::uint64_t rng_draws = 0;

void rng_buf(void* const buf, const std::size_t size) {
  auto seed = rng_seed;
  for (std::size_t i = 0; i < 8; ++i) seed[i] ^= static_cast<std::uint8_t>(rng_draws >> (8 * i));
  ++rng_draws;
  randombytes_buf_deterministic(buf, size, seed.data());
}
std::uint32_t rng_random() {
  std::uint32_t value = 0;
  rng_buf(&value, sizeof value);
  return value;
}
const char* rng_name() { return "plexus-fuzz-deterministic"; }
randombytes_implementation fuzz_rng = {rng_name, rng_random, nullptr, nullptr, rng_buf, nullptr};

void reseed_rng(ByteSpan input) {
  crypto_generichash(rng_seed.data(), rng_seed.size(), input.data(), input.size(), nullptr, 0);
  rng_draws = 0;
}

std::uint32_t ciphers_from(unsigned bits) {
  constexpr std::uint32_t table[4] = {cipher_bits, secure::feature::aes256gcm,
                                      secure::feature::chacha20poly1305, 0};
  return table[bits & 3];
}

struct Setup {
  secure::HandshakeConfig initiator;
  secure::HandshakeConfig responder;
};

Setup make_setup(std::uint8_t bits) {
  Setup setup;
  setup.initiator.key.bytes.fill(0x11);
  setup.initiator.node_name = "initiator";
  setup.initiator.instance_id = 1;
  setup.initiator.insecure = (bits >> 3) & 1;
  setup.initiator.ciphers = ciphers_from(bits >> 4);
  setup.responder.key.bytes.fill(0x11);
  setup.responder.node_name = "responder";
  setup.responder.instance_id = 2;
  setup.responder.insecure = bits & 1;
  setup.responder.ciphers = ciphers_from(bits >> 1);
  return setup;
}

std::uint32_t features_of(const secure::Handshake& handshake) {
  secure::Hello hello;
  check(secure::parse_hello(handshake.hello_bytes(), hello).ok());
  return hello.features;
}

bool compatible(std::uint32_t a, std::uint32_t b) {
  return ((a ^ b) & secure::feature::insecure) == 0 && (a & b & cipher_bits) != 0;
}

void check_parse_hello(ByteSpan bytes) {
  secure::Hello hello;
  const auto used = secure::parse_hello(bytes, hello);
  if (!used) return;
  if (*used == 0) {
    check(bytes.size() < secure::hello_fixed_bytes ||
          bytes.size() < secure::hello_fixed_bytes + bytes[50]);
    return;
  }
  check(*used == secure::hello_fixed_bytes + bytes[50] && *used <= bytes.size());
  // The transcript hashes encode_hello(parsed), not the received bytes: both must be the same,
  // or a byte could change in flight without changing the transcript.
  const Bytes again = secure::encode_hello(hello);
  check(std::equal(again.begin(), again.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(*used)));
  check(again.size() == *used);
}

struct Fed {
  std::size_t consumed = 0;
  std::error_code error;
};

// Empty feeds before the first byte are fuzzed too: this target found parse_hello passing an
// empty span's null data to memcmp (undefined behaviour), fixed by an early return.
constexpr bool skip_empty_first_feed = false;

// Feeds `stream` in chunks until done(), an error or its end, checking each feed.
Fed feed_stream(secure::Handshake& handshake, ByteSpan stream, Chunker& chunker, Bytes& out,
                bool fed_before = false) {
  Fed fed;
  bool fed_any = fed_before;
  while (!stream.empty() && !handshake.done()) {
    const std::size_t size = chunker.next(stream.size());
    if (skip_empty_first_feed && size == 0 && !fed_any) continue;
    fed_any = fed_any || size != 0;
    const auto used = handshake.feed(stream.first(size), out);
    if (!used) {
      fed.error = used.error().code;
      break;
    }
    check(*used <= size);
    // Only the bytes behind the peer's auth tag are left for the record stream.
    check(handshake.done() || *used == size);
    fed.consumed += *used;
    stream = stream.subspan(handshake.done() ? *used : size);
  }
  Bytes ignored;
  if (fed.error) {
    check(!handshake.done());
    const auto again = handshake.feed(stream, ignored);
    check(!again && again.error().code == fed.error);
    const auto empty = handshake.feed({}, ignored);
    check(!empty && empty.error().code == fed.error);
    check(ignored.empty());
  } else if (handshake.done()) {
    const auto after = handshake.feed(stream, ignored);
    check(after && *after == 0 && ignored.empty());
  }
  check(out.empty() || out.size() == secure::auth_bytes);
  return fed;
}

void run_raw(const Setup& setup, ByteSpan stream, Chunker& chunker) {
  check_parse_hello(stream);
  secure::Handshake responder(secure::Role::responder, setup.responder);
  Bytes out;
  feed_stream(responder, stream, chunker, out);
  check(!responder.done());
}

void run_valid_hello(const Setup& setup, Input& input, Chunker& chunker) {
  secure::Handshake responder(secure::Role::responder, setup.responder);
  secure::Hello hello;
  hello.version = secure::protocol_version;
  hello.features = input.byte();
  hello.features |= static_cast<std::uint32_t>(input.byte()) << 8;
  hello.instance_id = 1;
  hello.name.assign(1 + input.byte() % 255, 'n');
  const bool key_from_input = input.byte() & 1;
  if (key_from_input) {
    const auto key = input.take(hello.ephemeral_public.size());
    std::copy(key.begin(), key.end(), hello.ephemeral_public.begin());
  } else {
    std::array<std::uint8_t, 32> secret{};
    crypto_box_keypair(hello.ephemeral_public.data(), secret.data());
  }
  Bytes stream = secure::encode_hello(hello);
  stream.insert(stream.end(), input.rest().begin(), input.rest().end());
  Bytes out;
  const Fed fed = feed_stream(responder, stream, chunker, out);
  check(!responder.done());
  if (key_from_input) return;  // it may be a low-order point
  if (compatible(features_of(responder), hello.features)) {
    // Accepted: the responder answers the hello at once with its tag.
    check(out.size() == secure::auth_bytes);
    check(!fed.error || fed.error == errc::auth_failed);
  } else {
    check(fed.error == errc::insecure_mismatch || fed.error == errc::no_common_cipher);
    check(out.empty());
  }
}

enum class Target : std::uint8_t { to_responder, hello_to_initiator, tag_to_initiator };

struct TamperOp {
  Target target;
  std::uint8_t kind;
  std::uint8_t position;
  std::uint8_t value;
  ByteSpan run;
};

std::vector<TamperOp> read_ops(Input& input) {
  std::vector<TamperOp> ops;
  while (!input.empty() && ops.size() < max_tamper_ops) {
    TamperOp op{static_cast<Target>(input.byte() % 3), static_cast<std::uint8_t>(input.byte() % 5),
                input.byte(), input.byte(), {}};
    if (op.kind == 4) op.run = input.take(op.value % 16 + 1U);
    ops.push_back(op);
  }
  return ops;
}

Bytes tampered(Bytes message, const std::vector<TamperOp>& ops, Target target) {
  for (const auto& op : ops) {
    if (op.target != target) continue;
    const std::size_t at = op.position % (message.size() + 1);
    const auto it = message.begin() + static_cast<std::ptrdiff_t>(at);
    switch (op.kind) {
      case 0: if (at < message.size()) *it ^= op.value; break;
      case 1: message.insert(it, op.value); break;
      case 2: message.erase(it, it + static_cast<std::ptrdiff_t>(std::min<std::size_t>(op.value % 8 + 1U, message.size() - at))); break;
      case 3: message.resize(at); break;
      default: message.insert(it, op.run.begin(), op.run.end()); break;
    }
  }
  return message;
}

bool starts_with(ByteSpan bytes, ByteSpan prefix) {
  return bytes.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

struct Exchange {
  Bytes genuine_to_responder, to_responder, hello_to_initiator, tag_to_initiator;
  Bytes initiator_out, responder_out;
  std::size_t initiator_tag_sent = 0;  // bytes of initiator_out in genuine_to_responder
  Fed responder_fed, initiator_hello_fed, initiator_tag_fed;
};

// Only the genuine messages of a key holder, over one transcript, make either side done().
void check_exchange(const secure::Handshake& initiator, const secure::Handshake& responder,
                    const Exchange& x) {
  const Bytes& initiator_hello = initiator.hello_bytes();
  if (responder.done()) {
    check(starts_with(x.hello_to_initiator, responder.hello_bytes()));
    check(x.initiator_tag_sent == secure::auth_bytes);
    check(x.responder_fed.consumed == initiator_hello.size() + secure::auth_bytes);
    check(starts_with(x.to_responder, ByteSpan(x.genuine_to_responder).first(x.responder_fed.consumed)));
    check(responder.session().peer.name == "initiator" && responder.session().peer.instance_id == 1);
  }
  if (initiator.done()) {
    check(starts_with(x.to_responder, initiator_hello));
    Bytes received = x.hello_to_initiator, genuine = responder.hello_bytes();
    received.insert(received.end(), x.tag_to_initiator.begin(), x.tag_to_initiator.end());
    genuine.insert(genuine.end(), x.responder_out.begin(), x.responder_out.end());
    check(x.initiator_hello_fed.consumed + x.initiator_tag_fed.consumed == genuine.size());
    check(starts_with(received, genuine));
    check(initiator.session().peer.name == "responder" && initiator.session().peer.instance_id == 2);
  }
  if (initiator.done() && responder.done()) {
    const auto& i = initiator.session();
    const auto& r = responder.session();
    check(i.send_key == r.receive_key && i.receive_key == r.send_key && i.send_key != i.receive_key);
    check(i.cipher == r.cipher && i.insecure == r.insecure);
  }
  const bool untouched = x.to_responder == x.genuine_to_responder &&
                         x.hello_to_initiator == responder.hello_bytes() &&
                         x.tag_to_initiator == x.responder_out;
  if (untouched && compatible(features_of(initiator), features_of(responder))) {
    check(initiator.done() && responder.done());
    const auto left = ByteSpan(x.to_responder).subspan(x.responder_fed.consumed);
    check(std::equal(left.begin(), left.end(), record_bytes.begin(), record_bytes.end()));
  }
}

void run_pair(const Setup& setup, Input& input, Chunker& chunker) {
  secure::Handshake initiator(secure::Role::initiator, setup.initiator);
  secure::Handshake responder(secure::Role::responder, setup.responder);
  const auto ops = read_ops(input);
  Exchange x;
  // The initiator's tag depends only on the responder's hello, so it goes first; then the
  // responder gets the initiator's hello, tag and first record bytes as one stream.
  x.hello_to_initiator = tampered(responder.hello_bytes(), ops, Target::hello_to_initiator);
  x.initiator_hello_fed = feed_stream(initiator, x.hello_to_initiator, chunker, x.initiator_out);
  x.initiator_tag_sent = x.initiator_out.size();
  x.genuine_to_responder = initiator.hello_bytes();
  x.genuine_to_responder.insert(x.genuine_to_responder.end(), x.initiator_out.begin(), x.initiator_out.end());
  x.genuine_to_responder.insert(x.genuine_to_responder.end(), record_bytes.begin(), record_bytes.end());
  x.to_responder = tampered(x.genuine_to_responder, ops, Target::to_responder);
  x.responder_fed = feed_stream(responder, x.to_responder, chunker, x.responder_out);
  x.tag_to_initiator = tampered(x.responder_out, ops, Target::tag_to_initiator);
  // A cut hello may be completed by these bytes: the initiator's tag then comes only now, too
  // late for the responder, which is fine (feed_stream checks there is never more than one).
  x.initiator_tag_fed = feed_stream(initiator, x.tag_to_initiator, chunker, x.initiator_out,
                                    !x.hello_to_initiator.empty());
  check_exchange(initiator, responder, x);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Must precede sodium_init(), which ensure_sodium() runs.
  randombytes_set_implementation(&fuzz_rng);
  secure::ensure_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan bytes(data, size);
  check_parse_hello(bytes);
  reseed_rng(bytes);
  Input input(bytes);
  const unsigned mode = input.byte() % 3;
  const Setup setup = make_setup(input.byte());
  Chunker chunker(input.take(input.byte() % 8));
  switch (mode) {
    case 0: run_raw(setup, input.rest(), chunker); break;
    case 1: run_valid_hello(setup, input, chunker); break;
    default: run_pair(setup, input, chunker); break;
  }
  return 0;
}
