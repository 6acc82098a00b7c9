// core/time.hpp, gate.hpp, bounded_queue.hpp: the clock, the shutdown gate and
// the bounded queue every component builds on.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "plexus/core/bounded_queue.hpp"
#include "plexus/core/gate.hpp"
#include "plexus/core/time.hpp"

namespace plexus {
namespace {

using namespace std::chrono_literals;

TEST_CASE("a manual clock moves only forward and only when told; the steady clock never goes back") {
  // Proves the injectable clock a test or the simulator hands a shell.
  ManualClock manual(5s);
  const Clock& clock = manual;
  CHECK(clock.now() == Time{5s});
  manual.advance(250ms);
  CHECK(clock.now() == Time{5250ms});
  manual.advance(-1s);
  manual.advance_to(1s);
  CHECK(clock.now() == Time{5250ms});
  manual.advance_to(6s);
  CHECK(clock.now() == Time{6s});
  const Clock& steady = RealClock::instance();
  const Time a = steady.now();
  CHECK(steady.now() >= a);
}

TEST_CASE("a gate calls back once the last holder leaves after close, and refuses new holders") {
  // Proves Seastar-style shutdown: close waits for every task inside.
  Gate gate;
  int done = 0;
  auto first = gate.try_enter();
  auto second = gate.try_enter();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(gate.inside() == 2);
  gate.close([&] { ++done; });
  CHECK(gate.closed());
  CHECK_FALSE(gate.try_enter());
  first->release();
  CHECK(done == 0);
  auto moved = std::move(*second);  // a moved-from holder leaves nothing behind
  second.reset();
  CHECK(done == 0);
  CHECK(gate.inside() == 1);
  moved.release();
  CHECK(done == 1);
  moved.release();  // a second release is harmless
  CHECK(done == 1);
  CHECK(gate.inside() == 0);
}

TEST_CASE("closing an empty gate calls back at once") {
  // Proves close never waits for nothing.
  Gate gate;
  bool done = false;
  gate.close([&] { done = true; });
  CHECK(done);
}

TEST_CASE("a bounded queue keeps FIFO order, refuses and counts pushes when full") {
  // Proves the defined behaviour when full: refused, counted, the queue unchanged.
  BoundedQueue<std::unique_ptr<std::string>> queue(2);
  CHECK(queue.empty());
  CHECK(queue.push(std::make_unique<std::string>("a")));
  CHECK(queue.push(std::make_unique<std::string>("b")));
  CHECK(queue.full());
  CHECK_FALSE(queue.push(std::make_unique<std::string>("c")));
  CHECK(queue.refused() == 1);
  CHECK(queue.size() == 2);
  CHECK(**queue.pop() == "a");
  CHECK(queue.push(std::make_unique<std::string>("d")));
  auto rest = queue.drain();
  REQUIRE(rest.size() == 2);
  CHECK(*rest[0] == "b");
  CHECK(*rest[1] == "d");
  CHECK_FALSE(queue.pop());
  CHECK(queue.high_water() == 2);
  BoundedQueue<int> none(0);
  CHECK_FALSE(none.push(1));
  CHECK(none.refused() == 1);
}

}  // namespace
}  // namespace plexus
