// run_loop: runs an io_context as io_context::run() does, polling for a while
// after each burst of work before it blocks, as long as that pays.
//
// Polling trades CPU for latency: a thread that is still polling when the next
// frame arrives skips the wake-up from epoll_wait (a context switch and, across
// cores, an interrupt), which on loopback is most of a round trip. How long it
// polls adapts (PollWindow): it grows while work keeps arriving soon after the
// thread went quiet (request/response traffic), shrinks to nothing on a quiet
// node, and closes for a while whenever the thread is preempted or a poll
// stalls, because then another thread needs the core more. Erlang's schedulers
// busy-wait in the same way by default (+sbwt).
#pragma once

#include <asio/io_context.hpp>

#include "plexus/transport/poll_window.hpp"

#include <chrono>
#include <cstddef>

namespace plexus::transport {

/// Run `io` until it is stopped or runs out of work; the number of handlers
/// run. With `busy_poll` > 0, the thread polls (non-blocking) for up to that
/// long after its work, as PollWindow decides, before it blocks; 0 is
/// io_context::run().
std::size_t run_loop(asio::io_context& io, std::chrono::microseconds busy_poll = default_busy_poll);
/// The same with every PollWindow option given (options.max 0: io_context::run()).
std::size_t run_loop(asio::io_context& io, const PollWindowOptions& options);

}  // namespace plexus::transport
