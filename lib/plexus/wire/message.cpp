// Envelope encode/decode over the Cap'n Proto schema plexus.capnp. Body format
// (see message.hpp): u32 segment_count-1, u32 sizes, padding to 8 bytes, then
// the segments' words; encode() writes exactly one segment.
//
// decode() is the untrusted-input boundary: Cap'n Proto reports malformed data
// by throwing kj::Exception, which is caught here and becomes a Result.
//
// Fast path. forward_message's frames dominate the traffic, so a Message with
// no relay path and no causal stamp (via, causalLabel, causalClock and
// causalDeps empty) is written and read here directly, without a Cap'n Proto
// builder or reader, in the layout Cap'n Proto's own builder produces: one
// segment; word 0 the root pointer; the Envelope struct; the Message struct
// right after it; then each non-empty text/data list in pointer order, back
// to back, up to the end of the segment. Field positions come from the
// compiled schema (capnp::Schema), not from constants here. decode() takes
// the fast path only for a body in exactly that shape (each pointer is
// compared with the one the layout implies, so every list is in bounds and
// none is shared) and falls back to the full path otherwise, which gives the
// documented errors: the fast path reads a subset of what the full path
// reads, to the same value.
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


// ---- the fast path for Message (see the top of the file) ----

// What a pointer of the Message struct holds, for the fast path.
enum class Role : std::uint8_t { origin, target, server, payload, channel, must_be_null };

// Where the fast path finds each field, read once from the compiled schema.
struct MessageLayout {
  bool usable = false;
  std::uint16_t envelope_data_words = 0, envelope_pointers = 0;
  std::uint32_t which_byte = 0;  // the Envelope's union discriminant
  std::uint16_t message_which = 0;
  std::uint16_t message_pointer = 0;  // Envelope pointer holding the Message
  std::uint16_t message_data_words = 0, message_pointers = 0;
  std::vector<Role> roles;  // by Message pointer index
  // Byte offsets in the Message data section; bit offsets for the bools.
  std::uint32_t origin_instance = 0, partition_key = 0, ack_id = 0, target_instance = 0, hops_left = 0;
  std::uint32_t cast_bit = 0, has_partition_key_bit = 0;
};

MessageLayout compute_layout() {
  MessageLayout l;
  const auto envelope = capnp::Schema::from<schema::Envelope>();
  const auto message = capnp::Schema::from<schema::Message>();
  const auto envelope_node = envelope.getProto().getStruct();
  const auto message_node = message.getProto().getStruct();
  l.envelope_data_words = envelope_node.getDataWordCount();
  l.envelope_pointers = envelope_node.getPointerCount();
  l.which_byte = envelope_node.getDiscriminantOffset() * 2u;
  const auto in_envelope = envelope.getFieldByName("message").getProto();
  l.message_which = in_envelope.getDiscriminantValue();
  l.message_pointer = static_cast<std::uint16_t>(in_envelope.getSlot().getOffset());
  l.message_data_words = message_node.getDataWordCount();
  l.message_pointers = message_node.getPointerCount();
  l.roles.assign(l.message_pointers, Role::must_be_null);
  const auto offset = [&](const char* name) { return message.getFieldByName(name).getProto().getSlot().getOffset(); };
  l.roles.at(offset("origin")) = Role::origin;
  l.roles.at(offset("target")) = Role::target;
  l.roles.at(offset("server")) = Role::server;
  l.roles.at(offset("payload")) = Role::payload;
  l.roles.at(offset("channel")) = Role::channel;
  l.origin_instance = offset("originInstance") * 8;
  l.partition_key = offset("partitionKey") * 8;
  l.ack_id = offset("ackId") * 8;
  l.target_instance = offset("targetInstance") * 8;
  l.hops_left = offset("hopsLeft");
  l.cast_bit = offset("cast");
  l.has_partition_key_bit = offset("hasPartitionKey");
  const std::uint32_t data_bytes = l.message_data_words * 8u;
  l.usable = l.envelope_data_words * 8u >= l.which_byte + 2 && l.message_pointer < l.envelope_pointers &&
             std::max({l.origin_instance, l.partition_key, l.ack_id, l.target_instance}) + 8 <= data_bytes &&
             l.hops_left < data_bytes && std::max(l.cast_bit, l.has_partition_key_bit) < data_bytes * 8;
  return l;
}

const MessageLayout& message_layout() {
  static const MessageLayout layout = [] {
    try {
      return compute_layout();
    } catch (const kj::Exception&) {  // a schema without these fields: no fast path
      return MessageLayout{};
    }
  }();
  return layout;
}

std::uint64_t struct_pointer_word(std::size_t offset, std::uint16_t data_words, std::uint16_t pointers) {
  return std::uint64_t{static_cast<std::uint32_t>(offset) << 2} | std::uint64_t{data_words} << 32 |
         std::uint64_t{pointers} << 48;
}

// A list of `count` bytes starting `offset` words after the pointer's end.
std::uint64_t byte_list_pointer_word(std::size_t offset, std::size_t count) {
  return 1 | std::uint64_t{static_cast<std::uint32_t>(offset) << 2} | std::uint64_t{2} << 32 |
         std::uint64_t{count} << 35;
}

std::size_t words_for(std::size_t bytes) { return (bytes + word_bytes - 1) / word_bytes; }

// From this payload size on, encoding appends the lists rather than zero-filling them first.
constexpr std::size_t append_payload_bytes_min = 4096;

// The bytes a pointer role carries: text gets its NUL, empty means a null pointer.
std::span<const std::uint8_t> role_bytes(const Message& m, std::span<const std::uint8_t> payload, Role role,
                                         bool& text) {
  const auto of = [](const std::string& s) {
    return std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  text = role != Role::payload;
  switch (role) {
    case Role::origin: return of(m.origin);
    case Role::target: return of(m.target);
    case Role::server: return of(m.server);
    case Role::payload: return payload;
    case Role::channel: return of(m.channel);
    case Role::must_be_null: break;
  }
  return {};
}

bool fast_encodable(const Message& m, std::span<const std::uint8_t> payload) {
  return message_layout().usable && m.via.empty() && m.causal_label.empty() && m.causal_clock.empty() &&
         m.causal_deps.empty() && payload.size() < (std::size_t{1} << 29) - 8;
}

void put_bit(std::uint8_t* data, std::uint32_t bit, bool value) {
  if (value) data[bit / 8] = static_cast<std::uint8_t>(data[bit / 8] | (1u << (bit % 8)));
}

// Word positions of the fast path's body, for Envelope{m} with `payload`.
struct FastShape {
  std::size_t message_at = 0, lists_at = 0, segment_words = 0;
  [[nodiscard]] std::size_t body_bytes() const { return word_bytes + segment_words * word_bytes; }
};

FastShape fast_shape(const Message& m, std::span<const std::uint8_t> payload) {
  const MessageLayout& l = message_layout();
  FastShape shape;
  shape.message_at = 1 + l.envelope_data_words + l.envelope_pointers;
  shape.lists_at = shape.message_at + l.message_data_words + l.message_pointers;
  shape.segment_words = shape.lists_at;
  bool text = false;
  for (const Role role : l.roles) {
    const auto bytes = role_bytes(m, payload, role, text);
    if (!bytes.empty()) shape.segment_words += words_for(bytes.size() + (text ? 1 : 0));
  }
  return shape;
}

// Write the segment table and the words before the lists (zeroed first, then
// the pointers and fields) at `out`, which holds (1 + shape.lists_at) words;
// `list` is then called for each non-empty list: (bytes, first word, words).
template <class WriteList>
void write_message_fast(std::uint8_t* out, const FastShape& shape, const Message& m,
                        std::span<const std::uint8_t> payload, WriteList&& list) {
  const MessageLayout& l = message_layout();
  std::memset(out, 0, word_bytes + shape.lists_at * word_bytes);
  const auto at_word = [out](std::size_t index) { return out + (index + 1) * word_bytes; };
  const std::size_t envelope_at = 1;
  put_u32_le(out, 0);
  put_u32_le(out + 4, static_cast<std::uint32_t>(shape.segment_words));
  store_le64(at_word(0), struct_pointer_word(envelope_at - 1, l.envelope_data_words, l.envelope_pointers));
  store_le16(at_word(envelope_at) + l.which_byte, l.message_which);
  const std::size_t envelope_pointer = envelope_at + l.envelope_data_words + l.message_pointer;
  store_le64(at_word(envelope_pointer),
             struct_pointer_word(shape.message_at - envelope_pointer - 1, l.message_data_words, l.message_pointers));
  std::uint8_t* const data = at_word(shape.message_at);
  store_le64(data + l.origin_instance, m.origin_instance);
  store_le64(data + l.partition_key, m.partition_key.value_or(0));
  store_le64(data + l.ack_id, m.ack_id);
  store_le64(data + l.target_instance, m.target_instance);
  data[l.hops_left] = m.hops_left;
  put_bit(data, l.cast_bit, m.cast);
  put_bit(data, l.has_partition_key_bit, m.partition_key.has_value());
  std::size_t cursor = shape.lists_at;
  bool text = false;
  for (std::size_t i = 0; i < l.roles.size(); ++i) {
    const auto bytes = role_bytes(m, payload, l.roles[i], text);
    if (bytes.empty()) continue;
    const std::size_t pointer = shape.message_at + l.message_data_words + i;
    const std::size_t count = bytes.size() + (text ? 1 : 0);
    store_le64(at_word(pointer), byte_list_pointer_word(cursor - pointer - 1, count));
    list(bytes, cursor, words_for(count));
    cursor += words_for(count);
  }
  assert(cursor == shape.segment_words);
}

// Append the body of Envelope{m} with `payload` as its payload; fast_encodable(m, payload) holds.
void encode_message_fast(std::vector<std::uint8_t>& out, const Message& m, std::span<const std::uint8_t> payload) {
  const FastShape shape = fast_shape(m, payload);
  const std::size_t start = out.size();
  const std::size_t end = start + shape.body_bytes();
  if (out.capacity() < end) out.reserve(std::max(end, 2 * out.capacity()));  // appends stay amortized
  // A large payload is appended, so it is written once instead of zeroed and
  // then copied; small ones are cheaper with one zero-filled resize.
  const bool append_lists = payload.size() >= append_payload_bytes_min;
  out.resize(append_lists ? start + word_bytes + shape.lists_at * word_bytes : end);
  write_message_fast(out.data() + start, shape, m, payload,
                     [&out, start, append_lists](std::span<const std::uint8_t> bytes, std::size_t first_word,
                                                 std::size_t words) {
                       if (!append_lists) {
                         std::memcpy(out.data() + start + (first_word + 1) * word_bytes, bytes.data(), bytes.size());
                         return;
                       }
                       out.insert(out.end(), bytes.begin(), bytes.end());
                       out.resize(out.size() + words * word_bytes - bytes.size());  // the NUL and the padding: zeros
                     });
  assert(out.size() == end);
}

// Where the Message struct starts when `body` begins as the fast path's
// layout does (one segment, whole; root, Envelope and Message pointers as the
// layout implies); 0 otherwise.
std::size_t fast_message_at(std::span<const std::uint8_t> body, const Limits& limits) {
  const MessageLayout& l = message_layout();
  if (!l.usable || limits.nesting_limit < 4 || body.size() < 2 * word_bytes) return 0;
  const std::size_t segment_words = read_u32_le(body.data() + 4);
  if (read_u32_le(body.data()) != 0 || body.size() != (segment_words + 1) * word_bytes) return 0;
  if (2 * std::uint64_t{segment_words} > limits.traversal_limit_words(body.size())) return 0;
  const std::uint8_t* const segment = body.data() + word_bytes;
  const auto word = [segment](std::size_t index) { return load_le64(segment + index * word_bytes); };
  const std::size_t envelope_at = 1;
  const std::size_t message_at = envelope_at + l.envelope_data_words + l.envelope_pointers;
  const std::size_t envelope_pointer = envelope_at + l.envelope_data_words + l.message_pointer;
  if (message_at + l.message_data_words + l.message_pointers > segment_words ||
      word(0) != struct_pointer_word(envelope_at - 1, l.envelope_data_words, l.envelope_pointers) ||
      load_le16(segment + envelope_at * word_bytes + l.which_byte) != l.message_which ||
      word(envelope_pointer) !=
          struct_pointer_word(message_at - envelope_pointer - 1, l.message_data_words, l.message_pointers)) {
    return 0;
  }
  for (std::size_t i = 0; i < l.envelope_pointers; ++i) {  // no other Envelope pointer may hold anything
    if (i != l.message_pointer && word(envelope_at + l.envelope_data_words + i) != 0) return 0;
  }
  return message_at;
}

// Fill `m` from the Message at `message_at` (see fast_message_at); false when
// its lists are not exactly the fast path's (the full path decides).
bool read_message_fast(std::span<const std::uint8_t> body, std::size_t message_at, Message& m) {
  const MessageLayout& l = message_layout();
  const std::size_t segment_words = body.size() / word_bytes - 1;
  const std::uint8_t* const segment = body.data() + word_bytes;
  std::size_t cursor = message_at + l.message_data_words + l.message_pointers;
  for (std::size_t i = 0; i < l.roles.size(); ++i) {
    const std::size_t pointer = message_at + l.message_data_words + i;
    const std::uint64_t value = load_le64(segment + pointer * word_bytes);
    if (value == 0) continue;
    if (l.roles[i] == Role::must_be_null) return false;
    const std::size_t count = value >> 35;
    if (value != byte_list_pointer_word(cursor - pointer - 1, count) || count == 0 ||
        words_for(count) > segment_words - cursor) {
      return false;
    }
    const std::uint8_t* bytes = segment + cursor * word_bytes;
    cursor += words_for(count);
    if (l.roles[i] == Role::payload) {
      m.payload.assign(bytes, bytes + count);
      continue;
    }
    if (bytes[count - 1] != 0) return false;  // text must end in NUL
    std::string* const text = l.roles[i] == Role::origin   ? &m.origin
                              : l.roles[i] == Role::target ? &m.target
                              : l.roles[i] == Role::server ? &m.server
                                                           : &m.channel;
    text->assign(reinterpret_cast<const char*>(bytes), count - 1);
  }
  if (cursor != segment_words) return false;
  const std::uint8_t* const data = segment + message_at * word_bytes;
  m.origin_instance = load_le64(data + l.origin_instance);
  m.target_instance = load_le64(data + l.target_instance);
  m.ack_id = load_le64(data + l.ack_id);
  m.hops_left = data[l.hops_left];
  m.cast = (data[l.cast_bit / 8] >> (l.cast_bit % 8)) & 1;
  if ((data[l.has_partition_key_bit / 8] >> (l.has_partition_key_bit % 8)) & 1) {
    m.partition_key = load_le64(data + l.partition_key);
  }
  return true;
}

void encode_into(std::vector<std::uint8_t>& out, const Envelope& envelope) {
  if (const auto* message = std::get_if<Message>(&envelope); message && fast_encodable(*message, message->payload)) {
    return encode_message_fast(out, *message, message->payload);
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
  return message.payload.empty() && fast_encodable(message, payload) ? fast_shape(message, payload).body_bytes() : 0;
}

void encode_in_place(std::span<std::uint8_t> out, const Message& message, std::span<const std::uint8_t> payload) {
  const FastShape shape = fast_shape(message, payload);
  assert(out.size() == shape.body_bytes());
  std::uint8_t* const base = out.data();
  write_message_fast(base, shape, message, payload,
                     [base](std::span<const std::uint8_t> bytes, std::size_t first_word, std::size_t words) {
                       std::uint8_t* at = base + (first_word + 1) * word_bytes;
                       std::memcpy(at, bytes.data(), bytes.size());
                       std::memset(at + bytes.size(), 0, words * word_bytes - bytes.size());  // NUL and padding
                     });
}

std::vector<std::uint8_t> encode(const Message& message, std::span<const std::uint8_t> payload) {
  assert(message.payload.empty());
  std::vector<std::uint8_t> body;
  if (fast_encodable(message, payload)) {
    encode_message_fast(body, message, payload);
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
  if (const std::size_t message_at = fast_message_at(body, limits); message_at != 0) {
    // Filled where it will stay: a Message is too big to move around per frame.
    Result<Envelope> decoded{Envelope{std::in_place_type<Message>}};
    if (read_message_fast(body, message_at, std::get<Message>(*decoded))) return decoded;
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
