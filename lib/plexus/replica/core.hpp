// The shape of a sans-IO replica core, which replica::Host drives over the
// peer service: presence::Shard's, the model every replicated component of a
// node follows (docs/architecture.md, "Replication pieces"). No Asio here, so
// cores and their tests need nothing but this header.
//
// A core is fed inputs, each with the time (it never reads a clock):
// on_message(from, bytes, now), on_tick(now), on_peer_up(node, now),
// on_peer_down(node, now), and its own local calls. take() returns what the
// inputs since the last take() produced: `sends` (each {to, bytes}, bytes a
// byte vector or a pointer to one), `errors` (plexus::Error, to log) and
// whatever events the core reports (presence: a Diff; a registry: changes).
// next_deadline() says when on_tick next has work.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>

#include "plexus/core/result.hpp"

namespace plexus::replica {

using TimePoint = std::chrono::steady_clock::time_point;

/// The bytes of one send: a byte vector, or a pointer to one (shared payloads).
template <class B>
std::span<const std::uint8_t> payload_of(const B& bytes) {
  if constexpr (requires { *bytes; }) {
    return std::span<const std::uint8_t>(*bytes);
  } else {
    return std::span<const std::uint8_t>(bytes);
  }
}

/// What a Host drives: the presence::Shard shape (see the file comment).
template <class C>
concept Core = requires(C& core, const C& view, const std::string& node, std::span<const std::uint8_t> bytes,
                        TimePoint now) {
  core.on_message(node, bytes, now);
  core.on_tick(now);
  core.on_peer_up(node, now);
  core.on_peer_down(node, now);
  { view.next_deadline() } -> std::convertible_to<TimePoint>;
  { core.take().sends.front().to } -> std::convertible_to<const std::string&>;
  payload_of(core.take().sends.front().bytes);
  { core.take().errors.front() } -> std::convertible_to<const Error&>;
};

}  // namespace plexus::replica
