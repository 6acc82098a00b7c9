// Liveness: up/down transitions, heartbeat suppression on busy links, redial
// backoff and next_wakeup, driven by explicit times.
#include <doctest/doctest.h>

#include <random>

#include "plexus/liveness/liveness.hpp"

using namespace std::chrono_literals;
using plexus::liveness::Liveness;
using plexus::liveness::Options;
using plexus::liveness::Time;
using plexus::liveness::Transition;

namespace {

Options options() {
  Options o;
  o.heartbeat_interval = 100ms;
  o.peer_timeout = 500ms;
  o.redial_min = 50ms;
  o.redial_max = 400ms;
  o.heartbeat_coalesce = 0ms;
  return o;
}

}  // namespace

SCENARIO("a peer goes up on attach and down after peer_timeout of silence, once each") {
  Liveness live(options());
  live.add_peer("b", 0ms);
  CHECK(live.evaluate(0ms).empty());
  live.link_up("b", 10ms);
  CHECK(live.evaluate(10ms) == std::vector<Transition>{{"b", true}});
  CHECK(live.evaluate(20ms).empty());  // no repeated transition
  live.heard("b", 300ms);
  CHECK(live.evaluate(800ms).empty());  // exactly peer_timeout after last heard: still up
  CHECK(live.evaluate(801ms) == std::vector<Transition>{{"b", false}});
  live.heard("b", 900ms);  // heard again while attached: up again
  CHECK(live.evaluate(900ms) == std::vector<Transition>{{"b", true}});
  live.link_down("b");
  CHECK(live.evaluate(901ms) == std::vector<Transition>{{"b", false}});
}

SCENARIO("heartbeats go only to attached links that carried nothing from us for an interval") {
  Liveness live(options());
  live.add_peer("b", 0ms);
  live.add_peer("c", 0ms);
  live.link_up("b", 0ms);
  live.link_up("c", 0ms);
  CHECK(live.heartbeats_due(100ms) == std::vector<std::string>{"b", "c"});
  live.sent("b", 150ms);  // traffic to b: its heartbeat is skipped
  CHECK(live.heartbeats_due(200ms) == std::vector<std::string>{"c"});
  CHECK(live.heartbeats_due(250ms) == std::vector<std::string>{"b"});
  live.link_down("c");
  CHECK(live.heartbeats_due(400ms) == std::vector<std::string>{"b"});
}

SCENARIO("heartbeats falling due within heartbeat_coalesce go out together, none before any is due") {
  Options o = options();
  o.heartbeat_coalesce = 30ms;
  Liveness live(o);
  for (const char* peer : {"b", "c", "d"}) {
    live.add_peer(peer, 0ms);
    live.link_up(peer, 0ms);
  }
  live.sent("c", 20ms);  // due at 120 ms
  live.sent("d", 40ms);  // due at 140 ms: beyond the window of a send at 100 ms
  CHECK(live.heartbeats_due(90ms).empty());  // b is due within the window, but none is due yet
  CHECK(live.heartbeats_due(100ms) == std::vector<std::string>{"b", "c"});
  CHECK(live.next_wakeup() == Time{140ms});
  CHECK(live.heartbeats_due(140ms) == std::vector<std::string>{"d"});
  CHECK(live.heartbeats_due(200ms) == std::vector<std::string>{"b", "c"});
  live.sent("d", 215ms);  // due at 315 ms: within the window of b's and c's at 300 ms
  CHECK(live.heartbeats_due(300ms) == std::vector<std::string>{"b", "c", "d"});  // now in step
}

SCENARIO("redial backoff doubles up to redial_max with bounded jitter and resets on link up") {
  Liveness live(options());
  std::mt19937_64 random(7);
  live.add_peer("b", 0ms);
  CHECK(live.dial_due("b", 0ms));
  Time now = 0ms;
  const Time expected[] = {50ms, 100ms, 200ms, 400ms, 400ms};
  for (const Time backoff : expected) {
    live.dial_attempted("b", now, random);
    CHECK(live.backoff("b") == backoff);
    CHECK_FALSE(live.dial_due("b", now + backoff - 1ns));
    // Jitter is at most half the previous backoff (at least 1 ms).
    const Time latest = now + backoff + std::max<Time>(1ms, backoff / 2) + 1ms;
    CHECK(live.dial_due("b", latest));
    now = latest;
  }
  live.link_up("b", now);
  CHECK(live.backoff("b") == 0ms);
  live.link_down("b");
  live.reset_backoff("b", now);
  CHECK(live.dial_due("b", now));
}

SCENARIO("defer_dial postpones the next dial, keeping the backoff; dial_now overrides it") {
  Liveness live(options());
  std::mt19937_64 random(3);
  live.add_peer("b", 0ms);
  live.dial_attempted("b", 0ms, random);  // next due within 50..51 ms
  live.defer_dial("b", 2000ms);
  CHECK(live.backoff("b") == 50ms);
  CHECK_FALSE(live.dial_due("b", 1999ms));
  CHECK(live.dial_due("b", 2000ms));
  live.defer_dial("b", 10ms);  // never earlier than already scheduled
  CHECK_FALSE(live.dial_due("b", 1999ms));
  live.dial_now("b", 500ms);
  CHECK(live.dial_due("b", 500ms));
  live.defer_dial("nobody", 10ms);  // unknown peers are ignored
  CHECK_FALSE(live.dial_due("nobody", 10ms));
}

SCENARIO("next_wakeup is the earliest heartbeat, timeout or dial") {
  Liveness live(options());
  CHECK_FALSE(live.next_wakeup());
  live.add_peer("b", 0ms);
  CHECK(live.next_wakeup() == Time(0ms));  // first dial due at once
  std::mt19937_64 random(1);
  live.dial_attempted("b", 0ms, random);
  CHECK(*live.next_wakeup() >= Time(50ms));
  live.link_up("b", 60ms);
  live.sent("b", 60ms);
  (void)live.evaluate(60ms);
  CHECK(live.next_wakeup() == Time(160ms));  // heartbeat before the 560 ms timeout
  live.sent("b", 500ms);  // busy link: the next heartbeat would be at 600 ms
  CHECK(live.next_wakeup() == Time(60ms + 500ms + 1ns));  // timeout now comes first
  live.remove_peer("b");
  CHECK_FALSE(live.next_wakeup());
}
