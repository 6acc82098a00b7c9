// The fast path of the Message codec. forward_message's frames dominate the
// traffic, so a Message with no relay path and no causal stamp (via,
// causalLabel, causalClock and causalDeps empty) is written and read here
// directly, without a Cap'n Proto builder or reader, in the layout Cap'n
// Proto's own builder produces: one segment; word 0 the root pointer; the
// Envelope struct; the Message struct right after it; then each non-empty
// text/data list in pointer order, back to back, up to the end of the
// segment. Field positions come from the compiled schema (capnp::Schema), not
// from constants here. decode() (message.cpp) takes the fast path only for a
// body in exactly that shape (each pointer is compared with the one the
// layout implies, so every list is in bounds and none is shared) and falls
// back to the full path otherwise, which gives the documented errors: the
// fast path reads a subset of what the full path reads, to the same value.
#include "plexus/wire/message_fast.hpp"

#include <capnp/message.h>
#include <capnp/schema.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>
#include <vector>

#include "plexus/core/little_endian.hpp"
#include "plexus/wire/frame.hpp"
#include "plexus/wire/plexus.capnp.h"

namespace plexus::wire::fast {
namespace {

constexpr std::size_t word_bytes = sizeof(capnp::word);

void put_u32_le(std::uint8_t* out, std::uint32_t value) noexcept { put_frame_prefix(out, value); }
std::uint32_t read_u32_le(const std::uint8_t* in) noexcept { return read_frame_prefix(in); }


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


}  // namespace

bool encodable(const Message& m, std::span<const std::uint8_t> payload) { return fast_encodable(m, payload); }

void encode(std::vector<std::uint8_t>& out, const Message& m, std::span<const std::uint8_t> payload) {
  encode_message_fast(out, m, payload);
}

std::size_t body_bytes(const Message& m, std::span<const std::uint8_t> payload) {
  return fast_shape(m, payload).body_bytes();
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

std::size_t message_at(std::span<const std::uint8_t> body, const Limits& limits) {
  return fast_message_at(body, limits);
}

bool read(std::span<const std::uint8_t> body, std::size_t at, Message& m) { return read_message_fast(body, at, m); }

}  // namespace plexus::wire::fast
