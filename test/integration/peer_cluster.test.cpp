// Peer service over real sockets on 127.0.0.1: nodes are embedded
// PeerService objects on one io_context, each with its own listener and
// connections. Waits are on conditions with deadlines, never sleeps.
#include <doctest/doctest.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "plexus/core/errors.hpp"
#include "plexus/peer/peer_service.hpp"
#include "../support/inbox.hpp"
#include "../support/loop.hpp"

using namespace plexus;
using namespace plexus::peer;
using plexus::testing::Inbox;
using plexus::testing::run_until;

namespace {

struct Cluster {
  asio::io_context io;
  secure::ClusterKey key = secure::generate_cluster_key();
  std::map<std::string, std::shared_ptr<PeerService>> nodes;
  std::map<std::string, std::shared_ptr<Inbox>> sinks;

  Config config(const std::string& name) {
    Config c;
    c.name = name;
    c.key = key;
    c.channels["bulk"] = ChannelSpec{4, false};
    c.channels["state"] = ChannelSpec{1, true};
    c.monotonic_behind_bytes = 4096;
    c.heartbeat_interval = Millis(50);
    c.peer_timeout = Millis(400);
    c.retransmit_interval = Millis(50);
    c.transport.heartbeat_interval = Millis(200);
    c.transport.dead_peer_timeout = Millis(3000);
    return c;
  }

  PeerService& start(const std::string& name, std::optional<Config> custom = std::nullopt) {
    auto started = PeerService::start(io.get_executor(), custom ? *custom : config(name));
    REQUIRE_MESSAGE(started.ok(), started.error().message());
    auto inbox = std::make_shared<Inbox>();
    REQUIRE((*started)->register_server("sink", [inbox](const Received& r) { inbox->push(r); }).ok());
    nodes[name] = *started;
    sinks[name] = inbox;
    return *nodes[name];
  }
  PeerService& operator[](const std::string& name) { return *nodes.at(name); }
  // Start `name`, join it to `seed`, and wait until every node sees every other up.
  PeerService& start_joined(const std::string& name, PeerService& seed) {
    auto& node = start(name);
    REQUIRE(node.join(seed.spec()).ok());
    REQUIRE(wait([&] { return all_see(nodes.size()); }));
    return node;
  }

  bool all_see(std::size_t count) {
    for (auto& [name, node] : nodes) {
      if (node->has_left()) continue;
      auto status = node->member_status();
      if (status.size() != count) return false;
      for (const auto& m : status) {
        if (!m.up) return false;
        for (const auto& [channel, up] : m.channels_up) if (!up) return false;
      }
    }
    return true;
  }
  bool wait(auto&& condition, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    return run_until(io, condition, deadline);
  }
};

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("three nodes join through one and sync_join completes fully connected") {
  // Proves join/sync_join: membership spreads from the seed and every channel reaches full parallelism.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  auto& c = cluster.start("c");
  std::optional<Result<void>> b_done, c_done;
  b.sync_join(a.spec(), Millis(5000), [&](const Result<void>& r) { b_done = r; });
  c.sync_join(a.spec(), Millis(5000), [&](const Result<void>& r) { c_done = r; });
  REQUIRE(cluster.wait([&] { return b_done && c_done; }));
  CHECK(b_done->ok());
  CHECK(c_done->ok());
  REQUIRE(cluster.wait([&] { return cluster.all_see(3); }));
  CHECK(a.members() == std::vector<std::string>{"a", "b", "c"});
  CHECK(c.members_for_orchestration().size() == 3);
  // get_local_state reads back through decode_local_state, field for field.
  auto state = decode_local_state(a.get_local_state());
  REQUIRE_MESSAGE(state.ok(), state.error().message());
  CHECK(state->node == "a");
  CHECK(state->spec == a.spec());
  CHECK(state->links.size() == 2);
  CHECK(state->links["b"].up);
  CHECK(state->links["b"].channels["bulk"] == std::pair<std::size_t, std::size_t>{4, 4});
  CHECK(state->membership.entries.size() == 3);
  CHECK(state->servers == std::vector<std::string>{"sink"});
  auto broken = a.get_local_state();
  broken["links"]["b"]["up"] = "yes";
  CHECK(decode_local_state(broken).error().detail.rfind("links.b.up", 0) == 0);
}

TEST_CASE("join by address only learns the spec from the node") {
  // Proves join_address: a node reachable by host:port is enough to join.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  std::optional<Result<void>> done;
  b.join_address(a.spec().listen_addrs.front(), [&](const Result<void>& r) { done = r; });
  REQUIRE(cluster.wait([&] { return done.has_value(); }));
  CHECK_MESSAGE(done->ok(), done->error().message());
  REQUIRE(cluster.wait([&] { return cluster.all_see(2); }));
}

TEST_CASE("leave() makes every member drop the node, and leave(node) stops the removed node") {
  // Proves both leaves: graceful self-leave and removal of another node, which is told.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  auto& c = cluster.start("c");
  auto& d = cluster.start("d");
  for (auto* n : {&b, &c, &d}) REQUIRE(n->join(a.spec()).ok());
  REQUIRE(cluster.wait([&] { return cluster.all_see(4); }));

  d.leave();
  CHECK(d.has_left());
  REQUIRE(cluster.wait([&] { return cluster.all_see(3); }));
  CHECK(a.members() == std::vector<std::string>{"a", "b", "c"});

  REQUIRE(a.leave("c").ok());
  REQUIRE(cluster.wait([&] { return c.has_left() && cluster.all_see(2); }));
  CHECK(b.members() == std::vector<std::string>{"a", "b"});
  CHECK(a.forward_message("c", "sink", bytes("x")).error().code == errc::unknown_node);
}

TEST_CASE("after a removal every remaining member collects the tombstone") {
  // Proves tombstone GC converges on both survivors: a tombstone that bounced
  // back to the node that collected it first is seen held before it is dropped
  // again, so the other node gets its evidence (it kept the tombstone forever).
  Cluster cluster;
  auto fast_gossip = [&](const std::string& name) {
    auto config = cluster.config(name);
    config.gossip_interval = Millis(50);
    return config;
  };
  auto& a = cluster.start("a", fast_gossip("a"));
  auto& b = cluster.start("b", fast_gossip("b"));
  auto& c = cluster.start("c", fast_gossip("c"));
  for (auto* n : {&b, &c}) REQUIRE(n->join(a.spec()).ok());
  REQUIRE(cluster.wait([&] { return cluster.all_see(3); }));
  REQUIRE(a.leave("c").ok());
  REQUIRE(cluster.wait([&] { return c.has_left() && cluster.all_see(2); }));
  auto tombstones = [](PeerService& node) { return node.get_local_state()["membership"]["tombstones"].size(); };
  const bool collected = cluster.wait([&] { return tombstones(a) == 0 && tombstones(b) == 0; });
  CHECK_MESSAGE(collected, "tombstones left: a " << tombstones(a) << ", b " << tombstones(b));
}

TEST_CASE("update_members makes the membership exactly the list") {
  // Proves update_members computes both the joins and the leaves.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  auto& c = cluster.start("c");
  REQUIRE(a.update_members({b.spec(), c.spec()}).ok());
  REQUIRE(cluster.wait([&] { return cluster.all_see(3); }));
  REQUIRE(a.update_members({b.spec()}).ok());
  REQUIRE(cluster.wait([&] { return c.has_left() && cluster.all_see(2); }));
  CHECK(a.members() == std::vector<std::string>{"a", "b"});
}

TEST_CASE("a node restarted with a new address and instance replaces its stale spec everywhere") {
  // Proves stale spec replacement and connect(prune) returning the stale spec.
  Cluster cluster;
  auto& a = cluster.start("a");
  cluster.start("b");
  auto& c = cluster.start("c");
  REQUIRE(cluster["b"].join(a.spec()).ok());
  REQUIRE(c.join(a.spec()).ok());
  REQUIRE(cluster.wait([&] { return cluster.all_see(3); }));
  const NodeSpec old_b = cluster["b"].spec();
  cluster.nodes.erase("b");  // crash: connections aborted, no leave
  REQUIRE(cluster.wait([&] {
    auto s = a.member_status();
    return std::any_of(s.begin(), s.end(), [](auto& m) { return m.spec.name == "b" && !m.up; });
  }));
  auto& b2 = cluster.start("b");
  CHECK(b2.spec().instance_id != old_b.instance_id);
  CHECK(b2.spec().listen_addrs != old_b.listen_addrs);
  REQUIRE(b2.join(a.spec()).ok());
  REQUIRE(cluster.wait([&] { return cluster.all_see(3); }));
  for (auto* n : {&a, &c}) {
    auto specs = n->members_for_orchestration();
    auto it = std::find_if(specs.begin(), specs.end(), [](auto& s) { return s.name == "b"; });
    REQUIRE(it != specs.end());
    CHECK(it->instance_id == b2.spec().instance_id);
  }
  // connect() with a newer spec returns the one it made stale.
  NodeSpec moved = b2.spec();
  moved.listen_addrs.push_back({"127.0.0.2", 1});
  auto stale = c.connect(moved, true);
  REQUIRE(stale.ok());
  REQUIRE(stale->size() == 1);
  CHECK((*stale)[0] == b2.spec());
}

TEST_CASE("messages with a partition key keep FIFO order per key on a parallel channel") {
  // Proves partition_key picks one connection of four, so order per key holds.
  Cluster cluster;
  auto& a = cluster.start("a");
  cluster.start_joined("b", a);
  constexpr int per_key = 500, keys = 16;
  for (int i = 0; i < per_key; ++i) {
    for (std::uint64_t k = 0; k < keys; ++k) {
      ForwardOptions options;
      options.channel = "bulk";
      options.partition_key = k;
      const std::string text = std::to_string(k) + ":" + std::to_string(i);
      REQUIRE(a.forward_message("b", "sink", bytes(text), options).ok());
    }
  }
  REQUIRE(cluster.wait([&] { return cluster.sinks["b"]->size() == per_key * keys; }));
  std::map<int, int> last;
  for (const auto& r : cluster.sinks["b"]->copy()) {
    const std::string text(r.payload.begin(), r.payload.end());
    const int k = std::stoi(text.substr(0, text.find(':')));
    const int i = std::stoi(text.substr(text.find(':') + 1));
    CHECK(i == last[k]);
    last[k] = i + 1;
    CHECK(r.channel == "bulk");
    CHECK(r.from == "a");
  }
}

TEST_CASE("acked messages sent during a partition are delivered exactly once after it resolves") {
  // Proves retransmission plus receiver dedupe: none lost, none duplicated.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start_joined("b", a);
  const auto ref = a.inject_partition("b", std::nullopt);
  REQUIRE(cluster.wait([&] { return !b.member_status()[0].up; }));
  constexpr int total = 200;
  int acked = 0;
  for (int i = 0; i < total; ++i) {
    ForwardOptions options;
    options.ack = true;
    REQUIRE(a.forward_message("b", "sink", bytes(std::to_string(i)), options,
                              [&](const Result<void>& r) { acked += r.ok() ? 1 : 0; }).ok());
  }
  REQUIRE(cluster.wait([&] { return a.metrics().retransmits > 0; }));
  CHECK(cluster.sinks["b"]->size() == 0);
  REQUIRE(a.resolve_partition(ref).ok());
  REQUIRE(cluster.wait([&] { return acked == total; }));
  REQUIRE(cluster.wait([&] { return cluster.sinks["b"]->size() >= total; }));
  std::multiset<std::string> seen;
  for (const auto& r : cluster.sinks["b"]->copy()) seen.insert(std::string(r.payload.begin(), r.payload.end()));
  CHECK(seen.size() == total);
  for (int i = 0; i < total; ++i) CHECK(seen.count(std::to_string(i)) == 1);
  CHECK(a.metrics().ack_table_size == 0);
}

TEST_CASE("a peer that goes down closes all its links on both sides, and acked messages flow at once after the heal") {
  // Proves the down decision closes data links too (before the transport's 3 s dead-peer timeout), and a fresh attach carries the backlog.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start_joined("b", a);
  const auto links_to = [](PeerService& node, const std::string& peer) {
    auto state = decode_local_state(node.get_local_state());
    REQUIRE(state.ok());
    std::size_t open = 0;
    if (auto it = state->links.find(peer); it != state->links.end()) {
      for (const auto& [channel, counts] : it->second.channels) open += counts.first;
    }
    return open;
  };
  REQUIRE(links_to(a, "b") > 1);  // control plus the data channels
  const auto ref = a.inject_partition("b", std::nullopt);
  REQUIRE(cluster.wait([&] { return links_to(a, "b") == 0 && links_to(b, "a") == 0; }, Millis(2500)));
  constexpr int total = 50;
  int acked = 0;
  for (int i = 0; i < total; ++i) {
    ForwardOptions options;
    options.ack = true;
    REQUIRE(a.forward_message("b", "sink", bytes(std::to_string(i)), options,
                              [&](const Result<void>& r) { acked += r.ok() ? 1 : 0; }).ok());
  }
  CHECK(links_to(a, "b") == 0);  // no flapping reattach while cut
  REQUIRE(a.resolve_partition(ref).ok());
  // Within the redial backoff (redial_max 2 s plus jitter), not a TCP retransmission backoff.
  REQUIRE(cluster.wait([&] { return acked == total && cluster.sinks["b"]->size() == total; }, Millis(4000)));
}

TEST_CASE("a transitive message crosses a one-way partition through a relay, once") {
  // Proves relaying when the direct path is cut in one direction only.
  Cluster cluster;
  auto& a = cluster.start("a");
  cluster.start_joined("b", a);
  cluster.start_joined("c", a);
  a.inject_partition("c", std::nullopt, Direction::outbound);
  ForwardOptions direct;
  CHECK(a.forward_message("c", "sink", bytes("direct"), direct).error().code == errc::partitioned);
  ForwardOptions transitive;
  transitive.transitive = true;
  transitive.ack = true;
  std::optional<Result<void>> outcome;
  REQUIRE(a.forward_message("c", "sink", bytes("relayed"), transitive,
                            [&](const Result<void>& r) { outcome = r; }).ok());
  REQUIRE(cluster.wait([&] { return outcome.has_value(); }));
  CHECK(outcome->ok());
  REQUIRE(cluster.wait([&] { return cluster.sinks["c"]->size() == 1; }));
  auto got = cluster.sinks["c"]->copy();
  CHECK(std::string(got[0].payload.begin(), got[0].payload.end()) == "relayed");
  CHECK(got[0].from == "a");
}

TEST_CASE("on_up and on_down fire exactly once per transition, per node and per channel") {
  // Proves watchers see each transition once, both sides of a partition, and the heal.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  int a_up = 0, a_down = 0, b_down = 0, bulk_up = 0, any_up = 0;
  a.on_up("b", [&](auto&, auto&) { ++a_up; });
  a.on_down("b", [&](auto&, auto&) { ++a_down; });
  a.on_up("", [&](auto&, auto&) { ++any_up; });
  a.on_up("b", [&](auto&, auto& channel) { bulk_up += channel == "bulk"; }, "bulk");
  b.on_down("a", [&](auto&, auto&) { ++b_down; });
  REQUIRE(b.join(a.spec()).ok());
  // Watchers run from the executor queue, just after the transition: wait for them.
  REQUIRE(cluster.wait([&] { return cluster.all_see(2) && a_up == 1 && any_up == 1 && bulk_up == 1; }));
  const auto ref = a.inject_partition("b", std::nullopt);
  REQUIRE(cluster.wait([&] { return a_down == 1 && b_down == 1; }));
  REQUIRE(a.resolve_partition(ref).ok());
  REQUIRE(cluster.wait([&] { return cluster.all_see(2) && a_up == 2 && bulk_up == 2; }));
  // Exactly once per transition: no extra events while the cluster stays healed.
  REQUIRE(cluster.wait([&] { return a.metrics().up_transitions >= 2; }));
  CHECK(a_up == 2);
  CHECK(any_up == 2);
  CHECK(a_down == 1);
  CHECK(b_down == 1);
  CHECK(bulk_up == 2);
}

TEST_CASE("a node with the wrong cluster key never joins") {
  // Proves the handshake keeps an outsider out of the membership.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto bad = cluster.config("mallory");
  bad.key = secure::generate_cluster_key();
  auto& m = cluster.start("mallory", bad);
  REQUIRE(m.join(a.spec()).ok());
  REQUIRE(cluster.wait([&] { return a.transport_counters().get(errc::auth_failed) >= 1; }));
  CHECK(a.members() == std::vector<std::string>{"a"});
}

TEST_CASE("unknown nodes, servers and channels are refused with a reason, never a hang") {
  // Proves each bad send fails fast and is counted.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start_joined("b", a);
  CHECK(a.forward_message("zed", "sink", bytes("x")).error().code == errc::unknown_node);
  ForwardOptions nowhere;
  nowhere.channel = "nope";
  CHECK(a.forward_message("b", "sink", bytes("x"), nowhere).error().code == errc::unknown_channel);
  REQUIRE(a.forward_message("b", "nobody", bytes("x")).ok());
  REQUIRE(cluster.wait([&] { return b.metrics().drops["unknown_server"] == 1; }));
  // With ack, the sender learns it definitely: the receiver refuses, not acks.
  ForwardOptions acked;
  acked.ack = true;
  std::optional<Result<void>> outcome;
  REQUIRE(a.forward_message("b", "nobody", bytes("x"), acked, [&](const Result<void>& r) { outcome = r; }).ok());
  REQUIRE(cluster.wait([&] { return outcome.has_value(); }));
  CHECK(outcome->error().code == errc::unknown_server);
  std::vector<std::uint8_t> huge(32 * 1024 * 1024);
  CHECK(a.forward_message("b", "sink", huge).error().code == errc::frame_too_large);
}

TEST_CASE("bad configurations are refused at start with the field named") {
  // Proves start() validates instead of asserting deep inside.
  Cluster cluster;
  auto no_listen = cluster.config("a");
  no_listen.listen.clear();
  CHECK(PeerService::start(cluster.io.get_executor(), no_listen).error().detail.rfind("listen", 0) == 0);
  auto bad_channel = cluster.config("a");
  bad_channel.channels["x"] = ChannelSpec{0, false};
  CHECK_FALSE(PeerService::start(cluster.io.get_executor(), bad_channel).ok());
  auto hasty = cluster.config("a");
  hasty.peer_timeout = hasty.heartbeat_interval;
  CHECK(PeerService::start(cluster.io.get_executor(), hasty).error().detail.rfind("peer_timeout", 0) == 0);
}

TEST_CASE("waiting acked messages get a definite answer when the sender stops") {
  // Proves no completion is silently dropped: stop() answers every pending one.
  Cluster cluster;
  auto& a = cluster.start("a");
  cluster.start_joined("b", a);
  a.inject_partition("b", std::nullopt);
  ForwardOptions acked;
  acked.ack = true;
  std::optional<Result<void>> outcome;
  REQUIRE(a.forward_message("b", "sink", bytes("x"), acked, [&](const Result<void>& r) { outcome = r; }).ok());
  bool stopped = false;
  a.stop([&] { stopped = true; });
  REQUIRE(cluster.wait([&] { return stopped && outcome.has_value(); }));
  CHECK(outcome->error().code == errc::shutting_down);
}

TEST_CASE("on_removed fires when another node removes us, not on our own leave, and callbacks may re-enter") {
  // Proves the removal callback's contract and that watchers can call back into the service.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start_joined("b", a);
  auto& c = cluster.start_joined("c", a);
  int b_removed = 0, c_removed = 0;
  b.on_removed([&] { ++b_removed; });
  c.on_removed([&] { ++c_removed; });
  // a removes whoever goes down, from inside its on_down callback.
  a.on_down("", [&](const std::string& node, const std::string&) { (void)a.leave(node); });
  c.leave();
  REQUIRE(cluster.wait([&] { return c.has_left() && cluster.all_see(2); }));
  REQUIRE(a.leave("b").ok());
  REQUIRE(cluster.wait([&] { return b.has_left(); }));
  CHECK(b_removed == 1);
  CHECK(c_removed == 0);
}

TEST_CASE("a monotonic channel that falls behind sends only the newest value per key") {
  // Proves monotonic channels: a backlog collapses to the latest value per key, never an older one after a newer.
  Cluster cluster;
  auto& a = cluster.start("a");
  cluster.start_joined("b", a);
  constexpr int rounds = 5000, keys = 10;
  // One synchronous burst: the writer cannot drain during it, so the outbox falls behind.
  for (int i = 0; i < rounds; ++i) {
    for (std::uint64_t k = 0; k < keys; ++k) {
      ForwardOptions options;
      options.channel = "state";
      options.partition_key = k;
      REQUIRE(a.forward_message("b", "sink", bytes(std::to_string(k) + ":" + std::to_string(i)), options).ok());
    }
  }
  auto latest_seen = [&] {
    std::map<int, int> last;
    for (const auto& r : cluster.sinks["b"]->copy()) {
      const std::string text(r.payload.begin(), r.payload.end());
      last[std::stoi(text.substr(0, text.find(':')))] = std::stoi(text.substr(text.find(':') + 1));
    }
    return last;
  };
  REQUIRE(cluster.wait([&] {
    auto last = latest_seen();
    return last.size() == keys && std::all_of(last.begin(), last.end(), [](auto& kv) { return kv.second == rounds - 1; });
  }));
  const auto received = cluster.sinks["b"]->copy();
  CHECK(received.size() < std::size_t(rounds * keys));
  CHECK(a.metrics().drops["monotonic_replaced"] > 0);
  std::map<int, int> last;
  for (const auto& r : received) {
    const std::string text(r.payload.begin(), r.payload.end());
    const int k = std::stoi(text.substr(0, text.find(':')));
    const int i = std::stoi(text.substr(text.find(':') + 1));
    if (last.count(k)) CHECK(i > last[k]);
    last[k] = i;
  }
}

TEST_CASE("causal order holds across three nodes when the first message is delayed") {
  // Proves causal_label: m1 (a->c) is held up by a partition; m3 (b->c) is caused by m2 (a->b),
  // which a sent after m1, so c must deliver m1 before m3 even though m3 arrives first.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start_joined("b", a);
  auto& c = cluster.start_joined("c", a);
  // b relays what it gets on "relay" to c, on the executor (handlers run on workers).
  REQUIRE(b.register_server("relay", [&](const Received& r) {
    asio::post(cluster.io, [&, payload = r.payload] {
      ForwardOptions causal;
      causal.causal_label = "orders";
      REQUIRE(b.forward_message("c", "sink", std::vector<std::uint8_t>{'m', '3'}, causal).ok());
      (void)payload;
    });
  }).ok());
  const auto cut = a.inject_partition("c", std::nullopt, Direction::outbound);
  ForwardOptions causal;
  causal.causal_label = "orders";
  REQUIRE(a.forward_message("c", "sink", bytes("m1"), causal).ok());
  REQUIRE(a.forward_message("b", "relay", bytes("m2"), causal).ok());
  // m3 reaches c and must wait for m1.
  REQUIRE(cluster.wait([&] { return b.metrics().messages_sent["c/default"] >= 1; }));
  REQUIRE(cluster.wait([&] { return c.metrics().messages_received["b/default"] >= 1; }));
  CHECK(cluster.sinks["c"]->size() == 0);
  REQUIRE(a.resolve_partition(cut).ok());
  REQUIRE(cluster.wait([&] { return cluster.sinks["c"]->size() == 2; }));
  auto got = cluster.sinks["c"]->copy();
  CHECK(std::string(got[0].payload.begin(), got[0].payload.end()) == "m1");
  CHECK(std::string(got[1].payload.begin(), got[1].payload.end()) == "m3");
}

TEST_CASE("a node restarted with its data directory rejoins without being told") {
  // Proves membership persistence: the restarted node dials its old members from disk.
  Cluster cluster;
  char tmpl[] = "/tmp/plexus-data-XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl);
  auto& a = cluster.start("a");
  auto config_b = cluster.config("b");
  config_b.data_dir = dir / "b";
  cluster.start("b", config_b);
  REQUIRE(cluster["b"].join(a.spec()).ok());
  REQUIRE(cluster.wait([&] { return cluster.all_see(2); }));
  cluster.nodes.erase("b");
  REQUIRE(cluster.wait([&] { return !a.member_status()[1].up; }));
  auto& b2 = cluster.start("b", config_b);  // no join
  REQUIRE(cluster.wait([&] { return cluster.all_see(2); }));
  CHECK(b2.members() == std::vector<std::string>{"a", "b"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("a server on the service executor runs inline and may answer and re-enter at once") {
  // Proves Placement::service_executor: the handler runs on the thread
  // running the io_context (not a worker), in arrival order, and a reply it
  // forwards from inside the handler — to another node and to its own node —
  // is delivered.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start_joined("b", a);
  const auto io_thread = std::this_thread::get_id();
  const ServerOptions on_executor{.placement = ServerOptions::Placement::service_executor};
  std::vector<std::string> echoed;  // touched only on the io thread
  bool off_thread = false;
  REQUIRE(b.register_server("echo", [&](const Received& r) {
              off_thread |= std::this_thread::get_id() != io_thread;
              echoed.emplace_back(r.payload.begin(), r.payload.end());
              CHECK(b.forward_message(r.from, "sink", r.payload).ok());      // answer the sender
              CHECK(b.forward_message("b", "local", r.payload).ok());        // and re-enter: to self
            }, on_executor).ok());
  std::vector<std::string> local;
  REQUIRE(b.register_server("local", [&](const Received& r) {
              off_thread |= std::this_thread::get_id() != io_thread;
              local.emplace_back(r.payload.begin(), r.payload.end());
            }, on_executor).ok());
  CHECK_FALSE(b.register_server("none", Handler{}).ok());
  for (int i = 0; i < 50; ++i) REQUIRE(a.forward_message("b", "echo", bytes("m" + std::to_string(i))).ok());
  REQUIRE(cluster.wait([&] { return cluster.sinks["a"]->size() == 50 && local.size() == 50; }));
  CHECK_FALSE(off_thread);
  const auto answers = cluster.sinks["a"]->copy();
  for (int i = 0; i < 50; ++i) {
    CHECK(echoed[i] == "m" + std::to_string(i));
    CHECK(local[i] == "m" + std::to_string(i));
    const auto& back = answers[i].payload;
    CHECK(std::string(back.begin(), back.end()) == "m" + std::to_string(i));
  }
}

TEST_CASE("an adaptively placed server moves onto the service executor while quick and off it after a slow call") {
  // Proves Placement::adaptive (the default): calls start on the worker pool,
  // run on the io thread once a streak of them proved quick, go back to the
  // pool after one call over the budget, and keep their order throughout.
  Cluster cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start_joined("b", a);
  const auto io_thread = std::this_thread::get_id();
  struct Call {
    std::string payload;
    bool on_io;
  };
  std::mutex mutex;
  std::vector<Call> calls;
  auto count = [&] {
    std::lock_guard lock(mutex);
    return calls.size();
  };
  auto inline_seen = [&] {
    std::lock_guard lock(mutex);
    return std::any_of(calls.begin(), calls.end(), [](const Call& c) { return c.on_io; });
  };
  ServerOptions options;  // adaptive by default
  options.inline_budget = std::chrono::milliseconds(20);  // loaded CI machines stall a quick call for a few ms
  REQUIRE(b.register_server("adaptive", [&](const Received& r) {
              std::string payload(r.payload.begin(), r.payload.end());
              if (payload == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(60));  // over the budget
              std::lock_guard lock(mutex);
              calls.push_back({std::move(payload), std::this_thread::get_id() == io_thread});
            }, options).ok());
  std::vector<std::string> sent;
  auto send = [&](const std::string& text) {
    REQUIRE(a.forward_message("b", "adaptive", bytes(text)).ok());
    sent.push_back(text);
  };
  // Quick calls, one at a time (a small batch, as a request/response
  // exchange brings), until one ran inline (bounded).
  for (int round = 0; round < 1000 && !inline_seen(); ++round) {
    send("q" + std::to_string(sent.size()));
    REQUIRE(cluster.wait([&] { return count() == sent.size(); }));
  }
  REQUIRE(inline_seen());
  {
    std::lock_guard lock(mutex);
    CHECK_FALSE(calls.front().on_io);  // it started on the worker pool
    CHECK(calls.size() >= 64);         // and needed a streak of quick calls first
  }
  const std::size_t slow_at = sent.size();
  send("slow");
  REQUIRE(cluster.wait([&] { return count() == sent.size(); }));
  for (int i = 0; i < 20; ++i) send("after" + std::to_string(i));
  REQUIRE(cluster.wait([&] { return count() == sent.size(); }));
  std::lock_guard lock(mutex);
  for (std::size_t i = 0; i < sent.size(); ++i) CHECK(calls[i].payload == sent[i]);
  CHECK(calls[slow_at].on_io);  // the slow call itself ran inline
  for (std::size_t i = slow_at + 1; i < sent.size(); ++i) CHECK_FALSE(calls[i].on_io);
}
