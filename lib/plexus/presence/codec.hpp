// Presence messages <-> bytes (Cap'n Proto, schema presence.capnp). The body
// is a standard Cap'n Proto flat message (segment table + segments). decode()
// takes untrusted bytes: every size, index and JSON meta is checked and any
// fault is an error naming it, never an exception or a crash.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "plexus/presence/state.hpp"

namespace plexus::presence {

struct Heartbeat {};
struct TransferRequest {
  std::uint64_t target = 0;
  Sequence known = 0;
};
struct DeltaMsg {
  Batch batch;
};
struct TransferMsg {
  Batch batch;
};
struct Permdown {};

struct Message {
  Replica from;
  std::uint32_t pool_size = 0;
  Sequence clock = 0;
  std::variant<Heartbeat, DeltaMsg, TransferRequest, TransferMsg, Permdown> body;
};

/// Limits on decoded messages.
struct CodecLimits {
  std::size_t max_message_bytes = 64 * 1024 * 1024;
  std::size_t max_items = 1'000'000;
  std::size_t max_meta_bytes = 64 * 1024;
  std::size_t max_meta_depth = 32;
};

std::vector<std::uint8_t> encode(const Message& message);
/// Encode a batch message without copying the batch into a Message.
std::vector<std::uint8_t> encode_batch(const Replica& from, std::uint32_t pool_size, Sequence clock,
                                       const Batch& batch, bool transfer);
Result<Message> decode(std::span<const std::uint8_t> bytes, const CodecLimits& limits = {});

}  // namespace plexus::presence
