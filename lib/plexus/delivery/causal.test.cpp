// CausalLabel and CausalRegistry: the SES delivery rule on hand-built
// scenarios, input checks, limits, forgetting and stamp pruning.
#include <doctest/doctest.h>

#include "plexus/delivery/causal.hpp"
#include "plexus/delivery/errors.hpp"

using namespace plexus::delivery;

namespace {

Stamp send(CausalLabel& from, std::string_view to) {
  auto stamp = from.stamp_send(to);
  REQUIRE(stamp.ok());
  return *stamp;
}

void receive(CausalLabel& at, const CausalLabel& from, const Stamp& stamp, std::uint64_t handle) {
  auto received = at.receive(from.self(), stamp, handle);
  REQUIRE(received.ok());
}

using Handles = std::vector<std::uint64_t>;

}  // namespace

TEST_CASE("messages from one sender to one receiver are delivered in send order") {
  // Proves causal order implies FIFO per sender: a later message waits for the earlier one.
  CausalLabel a("a#1"), b("b#1");
  Stamp m1 = send(a, "b#1"), m2 = send(a, "b#1");
  receive(b, a, m2, 2);
  CHECK(b.take_deliverable().empty());
  CHECK(b.buffered() == 1);
  receive(b, a, m1, 1);
  CHECK(b.take_deliverable() == Handles{1, 2});
  CHECK(b.buffered() == 0);
}

TEST_CASE("a message causally after another through a third process waits for it") {
  // Proves the triangle: a→c (m1), then a→b (m2), b→c (m3) after delivering m2: c delivers m1 before m3.
  CausalLabel a("a#1"), b("b#1"), c("c#1");
  Stamp m1 = send(a, "c#1");
  Stamp m2 = send(a, "b#1");
  receive(b, a, m2, 2);
  REQUIRE(b.take_deliverable() == Handles{2});
  Stamp m3 = send(b, "c#1");
  receive(c, b, m3, 3);
  CHECK(c.take_deliverable().empty());
  receive(c, a, m1, 1);
  CHECK(c.take_deliverable() == Handles{1, 3});
}

TEST_CASE("unicast never waits for messages addressed to other processes") {
  // Proves the difference from broadcast vector-clock delivery: c delivers at once although b's message is still in flight.
  CausalLabel a("a#1"), c("c#1");
  Stamp to_b = send(a, "b#1");
  Stamp to_c = send(a, "c#1");
  (void)to_b;
  receive(c, a, to_c, 7);
  CHECK(c.take_deliverable() == Handles{7});
}

TEST_CASE("duplicates and malformed stamps are refused with a named error") {
  // Proves stale_clock for delivered or buffered copies and malformed_stamp for broken shapes, none kept.
  CausalLabel a("a#1"), b("b#1");
  Stamp m1 = send(a, "b#1"), m2 = send(a, "b#1");
  receive(b, a, m2, 2);
  CHECK(b.receive("a#1", m2, 2).error().code == errc::stale_clock);  // buffered already
  receive(b, a, m1, 1);
  REQUIRE(b.take_deliverable() == Handles{1, 2});
  CHECK(b.receive("a#1", m1, 1).error().code == errc::stale_clock);  // delivered already
  Stamp no_sender = m1;
  no_sender.time.clear();
  CHECK(b.receive("a#1", no_sender, 9).error().code == errc::malformed_stamp);
  Stamp unsorted{{{"z#1", 1}, {"a#1", 5}}, {}};
  CHECK(b.receive("a#1", unsorted, 9).error().code == errc::malformed_stamp);
  Stamp zero{{{"a#1", 5}, {"z#1", 0}}, {}};
  CHECK(b.receive("a#1", zero, 9).error().code == errc::malformed_stamp);
  CHECK(b.receive("b#1", Stamp{{{"b#1", 1}}, {}}, 9).error().code == errc::malformed_stamp);
  CHECK(b.buffered() == 0);
}

TEST_CASE("the causal buffer is bounded, yet the message that unblocks it always gets in") {
  // Proves max_buffered refuses only messages that must wait, so a full buffer cannot deadlock the label.
  CausalOptions options;
  options.max_buffered = 2;
  CausalLabel a("a#1"), b("b#1", options);
  std::vector<Stamp> stamps;
  for (int i = 0; i < 4; ++i) stamps.push_back(send(a, "b#1"));
  receive(b, a, stamps[1], 1);
  receive(b, a, stamps[2], 2);
  auto full = b.receive("a#1", stamps[3], 3);
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().code == errc::causal_buffer_full);
  CHECK(b.admit("a#1", stamps[3]).error().code == errc::causal_buffer_full);
  CHECK(b.admit("a#1", stamps[0]).ok());
  receive(b, a, stamps[0], 0);
  CHECK(b.buffered() == 0);
  CHECK(b.take_deliverable() == Handles{0, 1, 2});
  receive(b, a, stamps[3], 3);  // the retransmission of the refused one
  CHECK(b.take_deliverable() == Handles{3});
}

TEST_CASE("forgetting a process releases what waited for it and drops its own buffered messages") {
  // Proves a dead incarnation cannot block a label forever: its lost message is no longer waited for.
  CausalLabel a("a#1"), b("b#1"), c("c#1");
  Stamp lost = send(a, "c#1");  // never arrives: a#1 dies
  (void)lost;
  Stamp to_b = send(a, "b#1");
  receive(b, a, to_b, 1);
  REQUIRE(b.take_deliverable() == Handles{1});
  Stamp from_b = send(b, "c#1");
  receive(c, b, from_b, 2);
  Stamp a_later = send(a, "c#1");
  receive(c, a, a_later, 3);  // waits for `lost`
  CHECK(c.take_deliverable().empty());
  CHECK(c.forget_process("a#1") == Handles{3});
  CHECK(c.take_deliverable() == Handles{2});
  CHECK(c.receive("a#1", a_later, 3).error().code == errc::stale_clock);
  CHECK(c.buffered() == 0);
  for (const auto& entry : c.clock()) CHECK(entry.first != "a#1");
}

TEST_CASE("a third process that forgets a sender still carries that sender's order to others") {
  // Proves retirement is local: b forgetting a#1 must not let b's message overtake, at c, one
  // from a#1 that c has not delivered and not forgotten (simulator seed 5467, 7 nodes, 800 steps).
  CausalLabel a("a#1"), b("b#1"), c("c#1");
  Stamp first = send(a, "c#1");  // still on its way to c
  Stamp to_b = send(a, "b#1");
  receive(b, a, to_b, 1);
  REQUIRE(b.take_deliverable() == Handles{1});
  (void)b.forget_process("a#1");  // b saw a#1's node restart; c has not yet
  Stamp later = send(b, "c#1");   // happened after `first`
  receive(c, b, later, 3);
  CHECK(c.take_deliverable().empty());
  receive(c, a, first, 2);
  CHECK(c.take_deliverable() == Handles{2, 3});
}

TEST_CASE("stamp_send refuses self and too many processes") {
  // Proves the two sender-side limits are errors, not crashes or silent growth.
  CausalOptions options;
  options.max_processes = 3;
  CausalLabel a("a#1", options);
  CHECK(a.stamp_send("a#1").error().code == errc::self_destination);
  CHECK(a.stamp_send("b#1").ok());
  CHECK(a.stamp_send("c#1").ok());
  CHECK(a.stamp_send("d#1").error().code == errc::too_many_processes);
  CHECK(a.processes() == 3);
  CausalLabel x("x#1", options);
  Stamp wide{{{"p#1", 1}, {"q#1", 1}, {"y#1", 1}}, {}};
  CHECK(x.receive("y#1", wide, 1).error().code == errc::too_many_processes);
}

TEST_CASE("request-reply traffic keeps stamps small") {
  // Proves the ORD pruning: a reply tells the requester its earlier messages were delivered, so stamps stay bounded.
  CausalLabel a("a#1"), b("b#1");
  std::size_t widest = 0;
  for (std::uint64_t i = 0; i < 100; ++i) {
    Stamp request = send(a, "b#1");
    widest = std::max(widest, request.entries());
    receive(b, a, request, i);
    REQUIRE(b.take_deliverable() == Handles{i});
    Stamp reply = send(b, "a#1");
    widest = std::max(widest, reply.entries());
    receive(a, b, reply, i);
    REQUIRE(a.take_deliverable() == Handles{i});
  }
  CHECK(widest <= 3);
}

TEST_CASE("the registry keeps labels apart and bounds their number") {
  // Proves labels order independently (one label's gap does not hold another) and max_labels is enforced.
  CausalRegistryOptions options;
  options.max_labels = 2;
  CausalRegistry a("a#1", options), b("b#1", options);
  CausalLabel* a_x = *a.label("x");
  CausalLabel* a_y = *a.label("y");
  CHECK(a.label("z").error().code == errc::too_many_labels);
  CHECK(*a.label("x") == a_x);
  Stamp x1 = send(*a_x, "b#1"), x2 = send(*a_x, "b#1");
  Stamp y1 = send(*a_y, "b#1");
  (void)x1;
  receive(**b.label("x"), *a_x, x2, 2);
  receive(**b.label("y"), *a_y, y1, 3);
  CHECK(b.find("x")->take_deliverable().empty());
  CHECK(b.find("y")->take_deliverable() == Handles{3});
  auto dropped = b.forget_process("a#1");
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0] == std::pair<std::string, std::uint64_t>{"x", 2});
  b.erase("y");
  CHECK(b.size() == 1);
  CHECK(b.find("y") == nullptr);
}
