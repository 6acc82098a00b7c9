// The peer service's message kinds (plexus.capnp: Attach .. Leave) as plain
// C++ values. They travel inside wire::Envelope (message.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "plexus/core/node_spec.hpp"

namespace plexus::wire {

/// First frame each way on a peer-service connection.
struct Attach {
  NodeSpec spec;
  std::string channel;
  std::uint16_t index = 0;
  bool nudge = false;  ///< short-lived contact: "I exist, dial me"
  friend bool operator==(const Attach&, const Attach&) = default;
};

struct MemberEntry {
  NodeSpec spec;
  std::uint64_t version = 0;
  bool removed = false;
  friend bool operator==(const MemberEntry&, const MemberEntry&) = default;
};

struct DigestEntry {
  std::string name;
  std::uint64_t version = 0;
  bool removed = false;
  std::uint64_t instance_id = 0;
  std::uint64_t spec_hash = 0;
  friend bool operator==(const DigestEntry&, const DigestEntry&) = default;
};

/// Membership gossip: entries to merge, a digest to compare, or names to send.
struct Gossip {
  std::variant<std::vector<MemberEntry>, std::vector<DigestEntry>, std::vector<std::string>> body;
  friend bool operator==(const Gossip&, const Gossip&) = default;
};

struct Heartbeat {
  std::uint64_t sequence = 0;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

/// A vector clock: process ("node#instance") -> counter.
using VectorClock = std::vector<std::pair<std::string, std::uint64_t>>;

struct Dependency {
  std::string process;
  VectorClock clock;
  friend bool operator==(const Dependency&, const Dependency&) = default;
};

/// A message for a named server on `target` (or its peer service when server is empty).
struct Message {
  std::string origin;
  std::uint64_t origin_instance = 0;
  std::string target;
  std::string server;
  bool cast = false;
  std::vector<std::uint8_t> payload;
  std::string channel;
  std::optional<std::uint64_t> partition_key;
  std::uint64_t ack_id = 0;  ///< 0 = no acknowledgement wanted
  std::uint8_t hops_left = 0;
  std::vector<std::string> via;
  std::string causal_label;
  VectorClock causal_clock;
  std::vector<Dependency> causal_deps;
  std::uint64_t target_instance = 0;  ///< 0 = any incarnation of target
  friend bool operator==(const Message&, const Message&) = default;
};

/// Acknowledges message ids sent by `origin` to `acker`.
struct Ack {
  std::string origin;
  std::uint64_t origin_instance = 0;
  std::string acker;
  std::vector<std::uint64_t> ids;
  std::uint8_t hops_left = 0;
  std::uint64_t acker_instance = 0;
  std::vector<std::uint64_t> refused;  ///< ids received but refused (unknown server)
  friend bool operator==(const Ack&, const Ack&) = default;
};

/// `node` leaves (sent by itself) or was removed (sent to it).
struct Leave {
  std::string node;
  std::uint64_t instance_id = 0;
  std::string reason;
  friend bool operator==(const Leave&, const Leave&) = default;
};

}  // namespace plexus::wire
