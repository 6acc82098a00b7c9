// The peer core's receive limits without sockets: dispatch_queue_max (the
// driver's handlers are behind) refuses a message unacked, before dedupe.
#include <doctest/doctest.h>

#include "plexus/peer/core/core.hpp"
#include "plexus/peer/core/test_support.hpp"

using namespace std::chrono_literals;
using namespace plexus;
using namespace plexus::peer::core;
using namespace plexus::peer::core::testing;

namespace {

wire::Message acked(std::uint64_t id) {
  wire::Message m;
  m.origin = "a";
  m.origin_instance = 1;
  m.target = "b";
  m.target_instance = 2;
  m.ack_id = id;
  m.channel = std::string(default_channel);
  m.payload = bytes(id);
  return m;
}

// The ids b acks at its next tick.
std::vector<std::uint64_t> acks_of(Core& b, Time now) {
  b.tick(now);
  std::vector<std::uint64_t> ids;
  for (const auto& send : b.take().sends) {
    if (const auto* ack = std::get_if<wire::Ack>(send.frame.get())) ids.insert(ids.end(), ack->ids.begin(), ack->ids.end());
  }
  return ids;
}

}  // namespace

TEST_CASE("receive: past dispatch_queue_max a message is dropped unacked, and delivered once the backlog drained") {
  // Proves the bound's place in the receive order: the refused message is neither acked nor
  // recorded by dedupe, so its retransmission is delivered (not dropped as a duplicate).
  CoreConfig config;
  config.dispatch_queue_max = 2;
  Core b(spec("b", 2), config, 2, 0ms);
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  link(a, b, 1ms);
  Seen seen;
  pump({&a, &b}, 1ms, seen);

  b.set_dispatch_backlog(1);  // one message still waits for its handler in the driver
  b.on_message(acked(1), 2ms);  // 1 + 0 taken-not-yet: room
  b.on_message(acked(2), 2ms);  // 1 + 1: full
  Output out = b.take();
  REQUIRE(out.deliveries.size() == 1);
  CHECK(out.deliveries[0].ack_id == 1);
  CHECK(has(std::vector<std::string>(out.drops.begin(), out.drops.end()), "dispatch_queue_full"));
  CHECK(acks_of(b, 20ms) == std::vector<std::uint64_t>{1});

  b.set_dispatch_backlog(0);  // the handlers caught up
  b.on_message(acked(2), 30ms);  // the sender's retransmission
  out = b.take();
  REQUIRE(out.deliveries.size() == 1);
  CHECK(out.deliveries[0].ack_id == 2);
  CHECK(out.drops.empty());
  CHECK(acks_of(b, 40ms) == std::vector<std::uint64_t>{2});
}

TEST_CASE("receive: without dispatch_queue_max (the simulator's default) no backlog refuses a message") {
  // Proves 0 means unlimited: a large driver backlog changes nothing.
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  link(a, b, 1ms);
  Seen seen;
  pump({&a, &b}, 1ms, seen);
  b.set_dispatch_backlog(1'000'000);
  b.on_message(acked(1), 2ms);
  CHECK(b.take().deliveries.size() == 1);
}
