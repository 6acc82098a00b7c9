#include "plexus/transport/run_loop.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

namespace plexus::transport {
namespace {

using namespace std::chrono_literals;

// A chain of `n` handlers, each posting the next: all run, in order.
void post_chain(asio::io_context& io, int n, int& ran) {
  asio::post(io, [&io, n, &ran] {
    ++ran;
    if (n > 1) post_chain(io, n - 1, ran);
  });
}

TEST_CASE("run_loop runs every handler and returns when the work runs out") {
  for (const auto poll : {0us, 200us}) {
    CAPTURE(poll.count());
    asio::io_context io(1);
    int ran = 0;
    post_chain(io, 1000, ran);
    CHECK(run_loop(io, poll) == 1000);
    CHECK(ran == 1000);
    CHECK(io.stopped());
  }
}

TEST_CASE("a busy-polling loop blocks when quiet, wakes for a timer and for a post, and stops on stop()") {
  asio::io_context io(1);
  auto guard = asio::make_work_guard(io);
  // Written by the timer handler on the run_loop thread, read by `other`: both flags are atomics.
  std::atomic<bool> fired{false};
  asio::steady_timer timer(io, 30ms);  // due long after the polling window: served after blocking
  timer.async_wait([&](std::error_code ec) { fired = !ec; });
  std::atomic<bool> posted_ran{false};
  std::thread other([&] {
    // Bounded wait for the timer, then a post from another thread, then stop.
    for (int i = 0; i < 500 && !fired; ++i) std::this_thread::sleep_for(10ms);
    asio::post(io, [&] { posted_ran = true; });
    for (int i = 0; i < 500 && !posted_ran; ++i) std::this_thread::sleep_for(10ms);
    io.stop();
  });
  run_loop(io, 100us);
  other.join();
  CHECK(fired);
  CHECK(posted_ran);
  CHECK(io.stopped());
}

}  // namespace
}  // namespace plexus::transport
