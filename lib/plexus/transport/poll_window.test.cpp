#include "plexus/transport/poll_window.hpp"

#include <doctest/doctest.h>

namespace plexus::transport {
namespace {

using namespace std::chrono_literals;
using Clock = PollWindow::Clock;

const Clock::time_point t0{};

TEST_CASE("the window opens for quick wake-ups, grows to the gap, and stops at max") {
  PollWindow w({.max = 50us, .start = 8us});
  CHECK(w.window(t0) == 0us);  // no traffic seen: block at once
  w.woke(10us);
  CHECK(w.window(t0) == 8us);
  w.woke(10us);  // 8 µs would have missed it
  CHECK(w.window(t0) == 16us);
  w.woke(10us);  // 16 µs catches a 10 µs gap: no change
  CHECK(w.window(t0) == 16us);
  for (int i = 0; i < 10; ++i) w.woke(45us);
  CHECK(w.window(t0) == 50us);  // doubling, capped at max
}

TEST_CASE("long quiet spells close the window, so an idle thread sleeps") {
  PollWindow w({.max = 50us, .start = 8us});
  for (int i = 0; i < 4; ++i) w.woke(40us);
  REQUIRE(w.window(t0) == 50us);
  w.woke(500ms);  // a heartbeat: polling could not have caught it
  CHECK(w.window(t0) == 25us);
  w.woke(1s);
  CHECK(w.window(t0) == 12us);
  w.woke(1s);
  CHECK(w.window(t0) == 0us);  // below start: closed
  w.woke(1s);
  CHECK(w.window(t0) == 0us);
}

TEST_CASE("contention closes the window for the backoff; the gaps seen meanwhile still count") {
  PollWindow w({.max = 50us, .start = 8us, .contention_backoff = 2ms});
  for (int i = 0; i < 4; ++i) w.woke(40us);
  REQUIRE(w.window(t0) == 50us);
  w.contended(t0);
  CHECK(w.window(t0) == 0us);
  CHECK(w.window(t0 + 1999us) == 0us);
  CHECK(w.window(t0 + 2ms) == 0us);  // reopened, but contention reset the size
  w.woke(10us);
  CHECK(w.window(t0 + 1ms) == 0us);  // still within the backoff
  CHECK(w.window(t0 + 2ms) == 8us);
}

TEST_CASE("max 0 never polls") {
  PollWindow w({.max = 0us});
  for (int i = 0; i < 5; ++i) w.woke(1us);
  CHECK(w.window(t0) == 0us);
}

}  // namespace
}  // namespace plexus::transport
