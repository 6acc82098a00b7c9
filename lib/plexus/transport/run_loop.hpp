// run_loop: runs an io_context as io_context::run() does, optionally busy
// polling for a while after each burst of work before it blocks.
//
// Busy polling trades CPU for latency: a thread that is still polling when the
// next frame arrives skips the wake-up from epoll_wait (a context switch and,
// across cores, an interrupt), which on loopback is most of a round trip. It
// pays only with a core to spare per polling thread; where the cores are busy
// (a stream beside the latency-sensitive traffic, more threads than cores) the
// polling thread takes CPU from them. Off by default (docs/operations.md).
#pragma once

#include <asio/io_context.hpp>

#include <chrono>
#include <cstddef>

namespace plexus::transport {

/// Run `io` until it is stopped or runs out of work; the number of handlers
/// run. With `busy_poll` > 0, after each handler the thread keeps polling
/// (non-blocking) for up to `busy_poll` before it blocks for the next one.
std::size_t run_loop(asio::io_context& io, std::chrono::microseconds busy_poll);

}  // namespace plexus::transport
