// The simulated network: order and delay belong to one connection. A frame
// held back on a connection that then resets must not hold back the frames of
// the next connection between the same pair (seeds 4511 and 7586 failed their
// probes that way: a 7 s delay-tail frame of a dead connection delayed every
// frame of the new one past the 5 s probe window).
#include <doctest/doctest.h>

#include "plexus/sim/world.hpp"

using namespace std::chrono_literals;
using namespace plexus;
using namespace plexus::sim;

namespace {

/// Dispatch the world's events up to `until`, as World::run does.
void run_until(World& world, Time until) {
  for (std::size_t events = 0; events < 100'000 && !world.queue_.empty() && world.queue_.top().at <= until; ++events) {
    const Event event = world.queue_.top();
    world.queue_.pop();
    world.now_ = event.at;
    world.dispatch(event);
  }
  world.now_ = until;
}

/// Two nodes on a quiet network: every frame takes exactly 1 ms.
void start_quiet_pair(World& world) {
  world.swarm_ = Swarm{};
  world.swarm_.delay_min = 1ms;
  for (std::uint16_t node = 0; node < 2; ++node) world.start_node(node);
  run_until(world, 1s);
}

}  // namespace

SCENARIO("a new connection does not wait behind the frames of a reset one") {
  World world(RunOptions{1, 2, 0, Bug::none});
  start_quiet_pair(world);
  REQUIRE(world.conn(0, 1) != 0);
  const std::size_t n0_to_n1 = 1;

  GIVEN("a frame 7 s in flight from n0 to n1") {
    world.swarm_.delay_min = 7s;
    world.send(0, "n1", wire::Envelope{wire::Heartbeat{1}});
    world.swarm_.delay_min = 1ms;
    REQUIRE(world.last_ready_[n0_to_n1] >= world.now_ + 7s);

    WHEN("the connection resets and a new one carries a frame") {
      world.reset(0, 1, 0, true);
      world.connect(0, 1);
      REQUIRE(world.conn(0, 1) != 0);
      world.send(0, "n1", wire::Envelope{wire::Heartbeat{2}});
      run_until(world, world.now_ + 50ms);

      THEN("that frame arrives after its own delay, and nothing waits for the lost one") {
        CHECK(world.last_ready_[n0_to_n1] <= world.now_ + 1ms);
        for (const auto& frame : world.flights_[n0_to_n1]) {
          CHECK(frame.conn == world.conn(0, 1));
          CHECK(frame.ready <= world.now_ + 1ms);
        }
      }
    }
  }
}

SCENARIO("the network settles only once a frame the delay tail held back has landed") {
  World world(RunOptions{1, 2, 0, Bug::none});
  start_quiet_pair(world);
  REQUIRE(world.network_settled());

  // Shorter than the peer timeout (2 s): the frames queued behind it hold the
  // peer's heartbeats back too, and a peer silent longer than that has its
  // links closed (which would drop the frame instead of landing it).
  GIVEN("a frame 1.5 s in flight on a connection that stays open") {
    world.swarm_.delay_min = 1500ms;
    world.send(0, "n1", wire::Envelope{wire::Heartbeat{1}});
    world.swarm_.delay_min = 1ms;

    THEN("the network is not settled until that frame is delivered") {
      CHECK_FALSE(world.network_settled());
      run_until(world, world.now_ + 1s);
      CHECK_FALSE(world.network_settled());
      REQUIRE(world.conn(0, 1) != 0);
      run_until(world, world.now_ + 600ms);
      CHECK(world.network_settled());
    }
  }
}
