// The fast path of the Message codec (internal to plexus::wire; see
// message_fast.cpp for the layout it reads and writes). message.cpp's
// encode() and decode() try it first and fall back to Cap'n Proto.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "plexus/wire/message.hpp"

namespace plexus::wire::fast {

/// Whether `m` with `payload` has the fast path's shape (no via, no causal stamp).
bool encodable(const Message& m, std::span<const std::uint8_t> payload);
/// Append the body of Envelope{m} with `payload`; encodable(m, payload) holds.
void encode(std::vector<std::uint8_t>& out, const Message& m, std::span<const std::uint8_t> payload);
/// The body's size; encodable(m, payload) holds.
std::size_t body_bytes(const Message& m, std::span<const std::uint8_t> payload);
/// Write the body into `out`, exactly body_bytes(m, payload) long.
void encode_in_place(std::span<std::uint8_t> out, const Message& m, std::span<const std::uint8_t> payload);
/// Where the Message struct starts when `body` has the fast path's layout; 0 otherwise.
std::size_t message_at(std::span<const std::uint8_t> body, const Limits& limits);
/// Fill `m` from the Message at `at`; false when its lists are not exactly
/// the fast path's (the full path decides).
bool read(std::span<const std::uint8_t> body, std::size_t at, Message& m);

}  // namespace plexus::wire::fast
