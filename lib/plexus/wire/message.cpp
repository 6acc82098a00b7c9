// Envelope encode/decode over the Cap'n Proto schema plexus.capnp. Body format
// (see message.hpp): u32 segment_count-1, u32 sizes, padding to 8 bytes, then
// the segments' words; encode() writes exactly one segment.
//
// decode() is the untrusted-input boundary: Cap'n Proto reports malformed data
// by throwing kj::Exception, which is caught here and becomes a Result.
//
// The fast path for plain Messages (no relay path, no causal stamp) is in
// message_fast.cpp: encode() and decode() try it first.
#include "plexus/wire/message.hpp"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "plexus/core/little_endian.hpp"
#include "plexus/wire/message_fast.hpp"
#include "plexus/wire/peer_codec.hpp"
#include "plexus/wire/plexus.capnp.h"

namespace plexus::wire {
namespace {

constexpr std::size_t word_bytes = sizeof(capnp::word);
// Bodies up to this size are realigned on the stack instead of the heap.
constexpr std::size_t stack_body_words = 64;


// The segment table holds little-endian u32s, encoded like a frame prefix.
void put_u32_le(std::uint8_t* out, std::uint32_t value) noexcept { put_frame_prefix(out, value); }
std::uint32_t read_u32_le(const std::uint8_t* in) noexcept { return read_frame_prefix(in); }

Error malformed(std::string detail) {
  return make_error(errc::malformed_message, std::move(detail));
}

// Append the standard serialization of `builder`'s segments to `out`.
void write_message(std::vector<std::uint8_t>& out, capnp::MessageBuilder& builder) {
  const auto segments = builder.getSegmentsForOutput();
  const std::size_t table_bytes = (segments.size() / 2 + 1) * word_bytes;
  std::size_t total_bytes = table_bytes;
  for (const auto& segment : segments) total_bytes += segment.size() * word_bytes;
  const std::size_t start = out.size();
  out.resize(start + total_bytes);  // zero-filled, so the table padding is zero
  std::uint8_t* at = out.data() + start;
  put_u32_le(at, static_cast<std::uint32_t>(segments.size() - 1));
  for (std::size_t i = 0; i < segments.size(); ++i) {
    put_u32_le(at + 4 * (i + 1), static_cast<std::uint32_t>(segments[i].size()));
  }
  at += table_bytes;
  for (const auto& segment : segments) {
    std::memcpy(at, segment.begin(), segment.size() * word_bytes);
    at += segment.size() * word_bytes;
  }
}


void encode_into(std::vector<std::uint8_t>& out, const Envelope& envelope) {
  if (const auto* message = std::get_if<Message>(&envelope); message && fast::encodable(*message, message->payload)) {
    return fast::encode(out, *message, message->payload);
  }
  // A first segment of the estimated size keeps the message in one segment.
  capnp::MallocMessageBuilder builder(static_cast<unsigned>(codec::estimate_words(envelope)),
                                      capnp::AllocationStrategy::GROW_HEURISTICALLY);
  auto root = builder.initRoot<schema::Envelope>();
  if (const auto* data = std::get_if<Data>(&envelope)) {
    assert(data->payload.size() < (std::size_t{1} << 29) && "Cap'n Proto lists hold < 2^29 bytes");
    auto blob = root.initData(static_cast<unsigned>(data->payload.size()));
    if (!data->payload.empty()) std::memcpy(blob.begin(), data->payload.data(), blob.size());
  } else if (const auto* goodbye = std::get_if<Goodbye>(&envelope)) {
    auto text = root.initGoodbye(static_cast<unsigned>(goodbye->reason.size()));
    if (!goodbye->reason.empty()) std::memcpy(text.begin(), goodbye->reason.data(), goodbye->reason.size());
  } else {
    codec::build_peer_kind(root, envelope);
  }
  write_message(out, builder);
}

// Walk every pointer reachable from `pointer`. Reading a struct or list through the Any*
// readers charges its words to the traversal limit, charges lists of void or of empty structs
// one word per element (amplification), and counts nesting; so this enforces the limits on
// parts the typed read would skip. Capabilities carry no data and are ignored.
void walk_pointer(capnp::AnyPointer::Reader pointer);

void walk_struct(capnp::AnyStruct::Reader object) {
  for (auto child : object.getPointerSection()) walk_pointer(child);
}

void walk_list(capnp::AnyList::Reader list) {
  switch (list.getElementSize()) {
    case capnp::ElementSize::POINTER:
      for (auto child : list.as<capnp::List<capnp::AnyPointer>>()) walk_pointer(child);
      break;
    case capnp::ElementSize::INLINE_COMPOSITE: {
      const auto elements = list.as<capnp::List<capnp::AnyStruct>>();
      // All elements share one layout: a list of pointer-free structs has nothing to follow.
      if (elements.size() == 0 || elements[0].getPointerSection().size() == 0) break;
      for (auto element : elements) walk_struct(element);
      break;
    }
    default:  // Lists of data hold no pointers; reading the list charged its size.
      break;
  }
}

void walk_pointer(capnp::AnyPointer::Reader pointer) {
  switch (pointer.getPointerType()) {
    case capnp::PointerType::STRUCT:
      walk_struct(pointer.getAs<capnp::AnyStruct>());
      break;
    case capnp::PointerType::LIST:
      walk_list(pointer.getAs<capnp::AnyList>());
      break;
    case capnp::PointerType::NULL_:
    case capnp::PointerType::CAPABILITY:
      break;
  }
}

capnp::ReaderOptions reader_options(std::size_t body_bytes, const Limits& limits) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits.traversal_limit_words(body_bytes);
  options.nestingLimit = static_cast<int>(std::min(limits.nesting_limit, max_nesting_limit));
  return options;
}

// May throw kj::Exception on malformed input; decode() catches it.
Result<Envelope> read_envelope(kj::ArrayPtr<const capnp::word> words, const Limits& limits) {
  capnp::FlatArrayMessageReader reader(words, reader_options(words.size() * word_bytes, limits));
  if (reader.getEnd() != words.end()) {
    const auto extra = static_cast<std::size_t>(words.end() - reader.getEnd()) * word_bytes;
    return malformed(std::to_string(extra) + " bytes after the end of the message");
  }
  walk_pointer(reader.getRoot<capnp::AnyPointer>());
  const auto root = reader.getRoot<schema::Envelope>();
  switch (root.which()) {
    case schema::Envelope::DATA: {
      const auto blob = root.getData();
      return Envelope{Data{std::vector<std::uint8_t>(blob.begin(), blob.end())}};
    }
    case schema::Envelope::GOODBYE: {
      const auto text = root.getGoodbye();
      return Envelope{Goodbye{std::string(text.begin(), text.size())}};
    }
    default:
      return codec::read_peer_kind(root);
  }
}

// Cheap checks before Cap'n Proto sees the body; returns an empty detail when they pass.
std::string precheck(std::span<const std::uint8_t> body) {
  if (body.empty()) return "empty body (a tick, not a message)";
  if (body.size() % word_bytes != 0) {
    return "body of " + std::to_string(body.size()) + " bytes is not a whole number of words";
  }
  const std::size_t segments = std::size_t{read_u32_le(body.data())} + 1;
  if (segments > max_message_segments) {
    return "message claims " + std::to_string(segments) + " segments, limit " +
           std::to_string(max_message_segments);
  }
  return {};
}

}  // namespace

std::uint64_t Limits::traversal_limit_words(std::size_t body_bytes) const noexcept {
  const std::uint64_t wanted = 2 * std::uint64_t{body_bytes / word_bytes} + 64;
  return std::min<std::uint64_t>(wanted, std::uint64_t{max_frame_bytes / word_bytes} * 2);
}

std::vector<std::uint8_t> encode(const Envelope& envelope) {
  std::vector<std::uint8_t> body;
  encode_into(body, envelope);
  return body;
}

std::size_t encoded_bytes_in_place(const Message& message, std::span<const std::uint8_t> payload) {
  return message.payload.empty() && fast::encodable(message, payload) ? fast::body_bytes(message, payload) : 0;
}

void encode_in_place(std::span<std::uint8_t> out, const Message& message, std::span<const std::uint8_t> payload) {
  fast::encode_in_place(out, message, payload);
}

std::vector<std::uint8_t> encode(const Message& message, std::span<const std::uint8_t> payload) {
  assert(message.payload.empty());
  std::vector<std::uint8_t> body;
  if (fast::encodable(message, payload)) {
    fast::encode(body, message, payload);
    return body;
  }
  Message whole = message;  // the full path: a rare kind of message (relayed, causal)
  whole.payload.assign(payload.begin(), payload.end());
  encode_into(body, Envelope{std::move(whole)});
  return body;
}

void append_encoded_frame(std::vector<std::uint8_t>& out, const Envelope& envelope) {
  const std::size_t start = out.size();
  out.resize(start + frame_prefix_bytes);
  encode_into(out, envelope);
  put_frame_prefix(out.data() + start,
                   static_cast<std::uint32_t>(out.size() - start - frame_prefix_bytes));
}

Result<Envelope> decode(std::span<const std::uint8_t> body, const Limits& limits) {
  if (body.size() > limits.max_frame_bytes) {
    return make_error(errc::frame_too_large, "message of " + std::to_string(body.size()) +
                                                 " bytes exceeds limit " +
                                                 std::to_string(limits.max_frame_bytes));
  }
  if (auto fault = precheck(body); !fault.empty()) return malformed(std::move(fault));
  if (const std::size_t message_at = fast::message_at(body, limits); message_at != 0) {
    // Filled where it will stay: a Message is too big to move around per frame.
    Result<Envelope> decoded{Envelope{std::in_place_type<Message>}};
    if (fast::read(body, message_at, std::get<Message>(*decoded))) return decoded;
  }
  // Cap'n Proto 0.9.2 requires word-aligned input; frame bodies sit 4 bytes after a prefix,
  // so most arrive unaligned and are copied.
  const std::size_t word_count = body.size() / word_bytes;
  std::array<capnp::word, stack_body_words> stack_words;
  kj::Array<capnp::word> heap_words;  // not std::vector: capnp::word is non-copyable with clang
  const auto* words = reinterpret_cast<const capnp::word*>(body.data());
  if (reinterpret_cast<std::uintptr_t>(body.data()) % word_bytes != 0) {
    capnp::word* copy = stack_words.data();
    if (word_count > stack_body_words) {
      heap_words = kj::heapArray<capnp::word>(word_count);
      copy = heap_words.begin();
    }
    std::memcpy(copy, body.data(), body.size());
    words = copy;
  }
  try {
    return read_envelope(kj::arrayPtr(words, word_count), limits);
  } catch (const kj::Exception& fault) {
    return malformed(fault.getDescription().cStr());
  }
}

}  // namespace plexus::wire
