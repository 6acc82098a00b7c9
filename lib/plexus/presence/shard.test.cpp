// Shard protocol tests: several Shards over a fake network and a fake clock.
// Each scenario checks what every node lists and the exact handle_diff content.
#include <doctest/doctest.h>

#include "plexus/core/errors.hpp"
#include "plexus/presence/fake_net.hpp"

using namespace plexus::presence;
using namespace plexus::presence::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {
const json online = {{"status", "online"}};
const json away = {{"status", "away"}};
const std::string on = online.dump();

FakeNet three(Options o = {}) {
  FakeNet net(std::move(o));
  for (const char* n : {"a", "b", "c"}) net.add(n);
  net.connect_all();
  net.advance(50ms);
  return net;
}
}  // namespace

SCENARIO("a track on one node is listed on all, with a join diff on each") {
  // Proves delta replication and that handle_diff fires for local and remote changes.
  FakeNet net = three();
  for (const char* n : {"a", "b", "c"}) net.take_diff(n);
  auto ref = net.at("a").track(1, "room", "x", online, net.now);
  REQUIRE(ref.ok());
  net.advance(10ms);
  for (const char* n : {"a", "b", "c"}) {
    CHECK(net.list(n, "room") == std::vector<std::string>{"x"});
    CHECK(net.take_diff(n) == std::vector<DiffRow>{{"room", true, "x", on, ref->clock}});
  }
  CHECK(net.at("b").state().get_by_key("room", "x").front().owner == OwnerId{"a", 1});
  CHECK(net.at("a").counters().deltas_sent >= 1);
}

SCENARIO("an owner closed leaves everywhere") {
  // Proves untrack(owner) propagates one leave per presence to every node.
  FakeNet net = three();
  REQUIRE(net.at("a").track(7, "t1", "x", online, net.now).ok());
  REQUIRE(net.at("a").track(7, "t2", "y", online, net.now).ok());
  REQUIRE(net.at("a").track(8, "t1", "z", online, net.now).ok());
  net.advance(10ms);
  for (const char* n : {"a", "b", "c"}) net.take_diff(n);
  CHECK(net.at("a").untrack(7, net.now) == 2);
  net.advance(10ms);
  for (const char* n : {"a", "b", "c"}) {
    CHECK(net.take_diff(n) == std::vector<DiffRow>{{"t1", false, "x", on, 1}, {"t2", false, "y", on, 2}});
    CHECK(net.list(n, "t1") == std::vector<std::string>{"z"});
  }
}

SCENARIO("a netsplit hides the other side's presences, and healing restores them") {
  // Proves down hides (leaves), up restores (joins) with changes made during the split merged in.
  FakeNet net = three();
  REQUIRE(net.at("a").track(1, "room", "x", online, net.now).ok());
  REQUIRE(net.at("a").track(1, "room", "y", online, net.now).ok());
  REQUIRE(net.at("c").track(1, "room", "w", online, net.now).ok());
  net.advance(10ms);
  for (const char* n : {"a", "b", "c"}) net.take_diff(n);

  net.partition("a", "c");
  CHECK(net.take_diff("c") == std::vector<DiffRow>{{"room", false, "x", on, 1}, {"room", false, "y", on, 2}});
  CHECK(net.take_diff("a") == std::vector<DiffRow>{{"room", false, "w", on, 1}});
  CHECK(net.list("c", "room") == std::vector<std::string>{"w"});
  CHECK(net.list("b", "room") == std::vector<std::string>{"w", "x", "y"});

  // Changes on a during the split reach b, not c.
  REQUIRE(net.at("a").untrack(1, "room", "x", net.now).ok());
  REQUIRE(net.at("a").track(1, "room", "z", online, net.now).ok());
  net.advance(10ms);
  CHECK(net.list("b", "room") == std::vector<std::string>{"w", "y", "z"});
  net.take_diff("a");
  net.take_diff("b");

  net.heal("a", "c");
  // c shows a again only once caught up: joins of a's current presences, nothing about x.
  CHECK(net.take_diff("c") == std::vector<DiffRow>{{"room", true, "y", on, 2}, {"room", true, "z", on, 4}});
  CHECK(net.take_diff("a") == std::vector<DiffRow>{{"room", true, "w", on, 1}});
  for (const char* n : {"a", "b", "c"}) CHECK(net.list(n, "room") == std::vector<std::string>{"w", "y", "z"});
}

SCENARIO("a heal whose transfer answer is lost is repaired when the other side comes up, not after down_period") {
  // Proves the requester asks again as soon as the peer's own request shows it is
  // back: the answer to its first request can be refused on the peer's side while
  // that side does not see it up yet (seen with real nodes: heals took down_period + 1 s).
  FakeNet net = three();
  REQUIRE(net.at("a").track(1, "room", "x", online, net.now).ok());
  net.advance(10ms);
  net.partition("a", "c");
  REQUIRE(net.at("a").track(1, "room", "y", online, net.now).ok());
  net.advance(10ms);
  CHECK(net.list("c", "room").empty());

  net.cut.erase({"a", "c"});
  net.cut.erase({"c", "a"});
  // c sees a first and asks; a's answer is lost (a does not see c up yet).
  net.lose_next.insert({"a", "c"});
  net.at("c").on_peer_up("a", net.now);
  net.deliver();
  CHECK(net.list("c", "room").empty());
  // a sees c: its own request reaches c, and c asks again at once.
  net.at("a").on_peer_up("c", net.now);
  net.deliver();
  CHECK(net.list("c", "room") == std::vector<std::string>{"x", "y"});
}

SCENARIO("a silent replica goes down after down_period and is dropped after permdown_period") {
  // Proves liveness by silence alone (no peer-service event), and permdown dropping the data.
  Options o;
  o.permdown_period = 5000ms;
  FakeNet net = three(o);
  REQUIRE(net.at("a").track(1, "room", "x", online, net.now).ok());
  net.advance(10ms);
  net.take_diff("b");
  net.cut.insert({"a", "b"});  // a's messages to b vanish; the peer service says nothing
  net.advance(o.down_period + 1100ms);
  CHECK(net.take_diff("b") == std::vector<DiffRow>{{"room", false, "x", on, 1}});
  CHECK(net.list("b", "room").empty());
  CHECK(net.at("b").state().size() == 1);  // hidden, still held
  net.advance(o.permdown_period + 100ms);
  CHECK(net.at("b").state().size() == 0);
  CHECK(net.take_diff("b").empty());  // already reported as leaves when it went down
  CHECK(net.list("c", "room") == std::vector<std::string>{"x"});
}

SCENARIO("a lost delta leaves a gap: the next delta is refused and a transfer repairs it") {
  // Proves a gapped delta is never merged and triggers a transfer request at once.
  FakeNet net = three();
  REQUIRE(net.at("a").track(1, "room", "x", online, net.now).ok());
  net.lose_next.insert({"a", "b"});
  net.advance(10ms);
  CHECK(net.list("b", "room").empty());
  net.take_diff("b");
  REQUIRE(net.at("a").track(1, "room", "y", online, net.now).ok());
  net.advance(10ms);
  CHECK(net.at("b").counters().gaps == 1);
  CHECK(net.at("b").counters().transfer_requests_sent >= 2);  // on connect, and for the gap
  CHECK(net.list("b", "room") == std::vector<std::string>{"x", "y"});
  CHECK(net.take_diff("b") == std::vector<DiffRow>{{"room", true, "x", on, 1}, {"room", true, "y", on, 2}});
  CHECK(net.at("a").counters().transfers_sent_delta >= 1);
}

SCENARIO("a stale transfer delivered late changes nothing") {
  // Proves a replayed old full state cannot move a receiver's knowledge backwards (#148).
  FakeNet net = three();
  REQUIRE(net.at("a").track(1, "room", "old", online, net.now).ok());
  net.advance(10ms);
  net.captured.clear();
  net.partition("a", "b");
  net.heal("a", "b");  // a answers b's transfer request: captured below
  std::vector<FakeNet::InFlight> stale;
  for (auto& m : net.captured) if (m.from == "a" && m.to == "b") stale.push_back(m);
  REQUIRE_FALSE(stale.empty());
  REQUIRE(net.at("a").untrack(1, "room", "old", net.now).ok());
  REQUIRE(net.at("a").track(1, "room", "new", online, net.now).ok());
  net.advance(10ms);
  net.take_diff("b");
  const Sequence known = net.at("b").state().known_clock(net.at("a").replica().instance);
  for (auto& m : stale) net.at("b").on_message("a", *m.bytes, net.now);
  net.collect_all();
  CHECK(net.take_diff("b").empty());
  CHECK(net.at("b").state().known_clock(net.at("a").replica().instance) == known);
  CHECK(net.list("b", "room") == std::vector<std::string>{"new"});
}

SCENARIO("a restart with a new instance removes the old instance's presences everywhere") {
  // Proves the old life's presences leave once the new instance is heard from.
  FakeNet net = three();
  REQUIRE(net.at("a").track(1, "room", "x", online, net.now).ok());
  net.advance(10ms);
  for (const char* n : {"b", "c"}) net.take_diff(n);
  net.down("a", "b");
  net.down("a", "c");
  net.shards.erase({"a", 0});
  net.add("a");
  REQUIRE(net.at("a").track(1, "room", "y", online, net.now).ok());
  net.up("a", "b");
  net.up("a", "c");
  net.advance(10ms);
  for (const char* n : {"b", "c"}) {
    // x left when a went down; the new life brings y; x never comes back.
    CHECK(net.take_diff(n) == std::vector<DiffRow>{{"room", false, "x", on, 1}, {"room", true, "y", on, 1}});
    CHECK(net.list(n, "room") == std::vector<std::string>{"y"});
    CHECK(net.at(n).state().size() == 1);
  }
}

SCENARIO("graceful_permdown removes a node's presences everywhere at once") {
  // Proves Permdown: leaves on every node without waiting for down_period, and the shard stops.
  FakeNet net = three();
  REQUIRE(net.at("a").track(1, "room", "x", online, net.now).ok());
  REQUIRE(net.at("b").track(1, "room", "y", online, net.now).ok());
  net.advance(10ms);
  for (const char* n : {"a", "b", "c"}) net.take_diff(n);
  net.at("a").graceful_permdown(net.now);
  net.deliver();
  for (const char* n : {"a", "b", "c"}) {
    CHECK(net.take_diff(n) == std::vector<DiffRow>{{"room", false, "x", on, 1}});
  }
  CHECK(net.list("b", "room") == std::vector<std::string>{"y"});
  CHECK(net.at("c").state().is_dropped(net.at("a").replica().instance));
  CHECK(net.at("a").track(1, "room", "z", online, net.now).error().code == errc::stopped);
}

SCENARIO("an update racing with a leave: the node that missed it sees only the new meta") {
  // Proves update = leave old + join new, and that a split during the update heals to the new meta only.
  FakeNet net = three();
  REQUIRE(net.at("a").track(1, "room", "x", online, net.now).ok());
  net.advance(10ms);
  for (const char* n : {"a", "b", "c"}) net.take_diff(n);
  auto updated = net.at("a").update(1, "room", "x", away, net.now);
  REQUIRE(updated.ok());
  net.partition("a", "c");  // the update's delta never reaches c; c sees a leave
  net.advance(10ms);
  CHECK(net.take_diff("b") == std::vector<DiffRow>{{"room", false, "x", on, 1}, {"room", true, "x", away.dump(), 2}});
  CHECK(net.take_diff("c") == std::vector<DiffRow>{{"room", false, "x", on, 1}});
  net.heal("a", "c");
  CHECK(net.take_diff("c") == std::vector<DiffRow>{{"room", true, "x", away.dump(), 2}});
  auto listed = net.at("c").state().list("room");
  REQUIRE(listed.size() == 1);
  CHECK(*listed[0].meta == away);
  CHECK(listed[0].ref == *updated);
  // An update after the untrack is refused.
  REQUIRE(net.at("a").untrack(1, "room", "x", net.now).ok());
  CHECK(net.at("a").update(1, "room", "x", online, net.now).error().code == errc::not_tracked);
}

TEST_CASE("pool sizes 1, 2 and 8: every topic lands on its shard and replicates") {
  // Proves shard routing: shard i only talks to shard i, and every node lists every topic.
  for (std::uint32_t pool : {1u, 2u, 8u}) {
    CAPTURE(pool);
    Options o;
    o.pool_size = pool;
    FakeNet net = three(o);
    std::set<std::uint32_t> used;
    for (int t = 0; t < 40; ++t) {
      const std::string topic = "topic" + std::to_string(t);
      const auto shard = shard_for_topic(topic, pool);
      used.insert(shard);
      REQUIRE(net.at("a", shard).track(1, topic, "k", online, net.now).ok());
    }
    net.advance(10ms);
    CHECK(used.size() == pool);
    for (int t = 0; t < 40; ++t) {
      const std::string topic = "topic" + std::to_string(t);
      for (const char* n : {"b", "c"}) {
        CHECK(net.list(n, topic) == std::vector<std::string>{"k"});
        for (std::uint32_t other = 0; other < pool; ++other) {
          if (other != shard_for_topic(topic, pool)) CHECK(net.at(n, other).state().topic_size(topic) == 0);
        }
      }
    }
  }
}

TEST_CASE("a node with another pool_size is reported and never merged") {
  // Proves the pool_size check: an error naming both sizes, no data merged.
  FakeNet net;
  net.add("a");
  net.add("b", 2);
  net.connect_all();
  REQUIRE(net.at("b").track(1, "room", "x", online, net.now).ok());
  net.advance(50ms);
  CHECK(net.at("a").state().size() == 0);
  REQUIRE_FALSE(net.errors["a"].empty());
  CHECK(net.errors["a"].front().code == errc::pool_size_mismatch);
  CHECK(net.errors["a"].front().detail.find("pool_size 2") != std::string::npos);
  CHECK(net.errors["a"].size() == 1);  // reported once per replica, not per message
}

TEST_CASE("garbage bytes are counted and reported, nothing else happens") {
  // Proves the shard survives hostile input from a peer.
  FakeNet net = three();
  const std::vector<std::uint8_t> junk{1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
  net.at("b").on_message("a", junk, net.now);
  net.collect_all();
  CHECK(net.at("b").counters().bad_messages == 1);
  REQUIRE(net.errors["b"].size() == 1);
  CHECK(net.errors["b"].front().code == plexus::errc::malformed_message);
}

TEST_CASE("a burst that fills a delta message is sent before the flush timer") {
  // Proves the eager flush: max_delta_entries changes go out from the track call itself.
  Options o;
  o.max_delta_entries = 10;
  FakeNet net = three(o);
  const auto sent = net.at("a").counters().deltas_sent;
  for (int i = 0; i < 9; ++i) REQUIRE(net.at("a").track(1, "room", "k" + std::to_string(i), online, net.now).ok());
  CHECK(net.at("a").counters().deltas_sent == sent);
  REQUIRE(net.at("a").track(1, "room", "k9", online, net.now).ok());
  CHECK(net.at("a").counters().deltas_sent == sent + 1);
  net.deliver();  // no tick, no time passing
  CHECK(net.at("b").state().topic_size("room") == 10);
}

TEST_CASE("a message still in flight when a node went down does not show it again") {
  // Proves a down reported by the peer service holds until the node comes up again.
  FakeNet net = three();
  REQUIRE(net.at("a").track(1, "room", "x", online, net.now).ok());
  net.advance(10ms);
  net.captured.clear();
  net.advance(200ms);  // heartbeats from a, captured
  std::vector<Bytes> late;
  for (auto& m : net.captured) if (m.from == "a" && m.to == "b") late.push_back(m.bytes);
  REQUIRE_FALSE(late.empty());
  net.take_diff("b");
  net.at("b").on_peer_down("a", net.now);
  for (auto& bytes : late) net.at("b").on_message("a", *bytes, net.now);
  net.collect_all();
  CHECK(net.list("b", "room").empty());
  CHECK(net.take_diff("b") == std::vector<DiffRow>{{"room", false, "x", on, 1}});
  net.at("b").on_peer_up("a", net.now);
  net.deliver();
  CHECK(net.list("b", "room") == std::vector<std::string>{"x"});
  CHECK(net.take_diff("b") == std::vector<DiffRow>{{"room", true, "x", on, 1}});
}
