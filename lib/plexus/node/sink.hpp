// The built-in `sink` server: keeps the last messages delivered to it (at
// most `capacity` messages and `max_bytes` payload bytes; the oldest go
// first), each with a sequence number, plus counters. Handlers run on the
// peer service's worker threads and the admin API reads from its own
// threads, so every method locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "plexus/peer/peer_service.hpp"

namespace plexus::node {

struct SinkMessage {
  std::uint64_t seq = 0;  ///< 1, 2, ... for this node's life; never reused, not even after clear()
  std::string from;
  std::uint64_t from_instance = 0;
  std::string channel;
  bool cast = false;
  std::vector<std::uint8_t> payload;
  std::chrono::system_clock::time_point received_at;
};

struct SinkCounters {
  std::uint64_t received = 0;       ///< messages since start or the last clear
  std::uint64_t received_bytes = 0; ///< payload bytes since start or the last clear
  std::uint64_t evicted = 0;        ///< pushed out by the limits since start or the last clear
  std::uint64_t last_seq = 0;
  std::uint64_t lifetime_received = 0;  ///< since start (clear() keeps it), for metrics
  std::uint64_t lifetime_bytes = 0;
  std::size_t held = 0;
  std::size_t held_bytes = 0;
  std::size_t capacity = 0;
  std::size_t max_bytes = 0;
};

class Sink {
 public:
  Sink(std::size_t capacity, std::size_t max_bytes);
  void push(const peer::Received& message);
  /// Held messages with seq > after, oldest first, at most `limit`.
  [[nodiscard]] std::vector<SinkMessage> read(std::uint64_t after, std::size_t limit) const;
  /// Drop every held message and zero the counters (the sequence goes on).
  void clear();
  [[nodiscard]] SinkCounters counters() const;

 private:
  mutable std::mutex mutex_;
  std::deque<SinkMessage> held_;
  SinkCounters counters_;
};

}  // namespace plexus::node
