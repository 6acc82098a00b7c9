// Presence trackers over three real PeerServices on 127.0.0.1 (one io_context):
// track on one node and list on all, partition through the peer service and
// heal, owners closing, graceful_permdown. Waits are on conditions with
// deadlines, never sleeps.
#include <doctest/doctest.h>

#include <asio/io_context.hpp>

#include "plexus/peer/peer_service.hpp"
#include "plexus/presence/presence.hpp"
#include "../support/loop.hpp"

using namespace plexus;
using namespace plexus::presence;
using plexus::testing::run_until;
using json = nlohmann::json;

namespace {

struct Node {
  std::shared_ptr<peer::PeerService> service;
  std::shared_ptr<Tracker> tracker;
  std::vector<std::tuple<std::string, bool, std::string>> diffs;  ///< (topic, join?, key)
  bool saw(const std::string& topic, bool join, const std::string& key) const {
    return std::find(diffs.begin(), diffs.end(), std::make_tuple(topic, join, key)) != diffs.end();
  }
};

struct Cluster {
  asio::io_context io;
  secure::ClusterKey key = secure::generate_cluster_key();
  std::map<std::string, Node> nodes;
  std::uint32_t pool_size;

  explicit Cluster(std::uint32_t pool = 1) : pool_size(pool) {
    for (const char* name : {"a", "b", "c"}) start(name);
    for (const char* name : {"b", "c"}) REQUIRE(nodes[name].service->join(nodes["a"].service->spec()).ok());
    REQUIRE(wait([&] { return all_up(); }));
  }
  ~Cluster() {
    for (auto& [name, node] : nodes) node.tracker.reset();
  }

  void start(const std::string& name) {
    peer::Config c;
    c.name = name;
    c.key = key;
    c.channels["_presence"] = ChannelSpec{pool_size, false};
    c.heartbeat_interval = peer::Millis(50);
    c.peer_timeout = peer::Millis(400);
    c.redial_max = peer::Millis(200);
    auto started = peer::PeerService::start(io.get_executor(), c);
    REQUIRE_MESSAGE(started.ok(), started.error().message());
    Node& node = nodes[name];
    node.service = *started;
    Options options;
    options.pool_size = pool_size;
    auto tracker = Tracker::start(io.get_executor(), node.service, options, [&node](const Diff& diff) {
      for (const auto& [topic, d] : diff) {
        for (const auto& p : d.joins) node.diffs.emplace_back(topic, true, p.key);
        for (const auto& p : d.leaves) node.diffs.emplace_back(topic, false, p.key);
      }
    });
    REQUIRE_MESSAGE(tracker.ok(), tracker.error().message());
    node.tracker = *tracker;
  }

  bool all_up() {
    for (auto& [name, node] : nodes) {
      auto status = node.service->member_status();
      if (status.size() != nodes.size()) return false;
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
  std::vector<std::string> keys(const std::string& node, const std::string& topic) {
    std::vector<std::string> out;
    for (const auto& p : nodes[node].tracker->list(topic)) out.push_back(p.key.str());
    std::sort(out.begin(), out.end());
    return out;
  }
  Tracker& operator[](const std::string& name) { return *nodes[name].tracker; }
};

using Keys = std::vector<std::string>;

}  // namespace

TEST_CASE("a track on one node is listed on all three, with its owner and meta") {
  // Proves replication through the peer service and handle_diff on every node.
  Cluster cluster;
  Owner owner = cluster["a"].open_owner();
  const json meta = {{"status", "online"}};
  auto ref = cluster["a"].track(owner, "room", "alice", meta);
  REQUIRE(ref.ok());
  CHECK(cluster["a"].track(owner, "room", "alice", meta).error().code == presence::errc::already_tracked);
  REQUIRE(cluster.wait([&] { return cluster.keys("b", "room") == Keys{"alice"} && cluster.keys("c", "room") == Keys{"alice"}; }));
  for (const char* n : {"a", "b", "c"}) {
    auto found = cluster[n].get_by_key("room", "alice");
    REQUIRE(found.size() == 1);
    CHECK(*found[0].meta == meta);
    CHECK(found[0].ref == *ref);
    CHECK(found[0].owner == OwnerId{"a", owner.id()});
    REQUIRE(cluster.wait([&] { return cluster.nodes[n].saw("room", true, "alice"); }));
  }
  auto updated = cluster["a"].update(owner, "room", "alice", [](const json& m) { json n = m; n["status"] = "away"; return n; });
  REQUIRE(updated.ok());
  REQUIRE(cluster.wait([&] {
    auto l = cluster["c"].list("room");
    return l.size() == 1 && (*l[0].meta)["status"] == "away" && l[0].ref == *updated;
  }));
}

TEST_CASE("a partition injected through the peer service hides, and healing restores") {
  // Proves liveness from the peer service: leaves on the cut side, joins after resolve, changes merged.
  Cluster cluster;
  Owner owner = cluster["a"].open_owner();
  REQUIRE(cluster["a"].track(owner, "room", "x", json::object()).ok());
  REQUIRE(cluster["a"].track(owner, "room", "y", json::object()).ok());
  REQUIRE(cluster.wait([&] { return cluster.keys("c", "room") == Keys{"x", "y"}; }));
  cluster.nodes["c"].diffs.clear();

  const auto ref_a = cluster.nodes["a"].service->inject_partition("c", std::nullopt);
  const auto ref_c = cluster.nodes["c"].service->inject_partition("a", std::nullopt);
  REQUIRE(cluster.wait([&] { return cluster.keys("c", "room").empty(); }));
  CHECK(cluster.wait([&] { return cluster.nodes["c"].saw("room", false, "x"); }));
  CHECK(cluster.wait([&] { return cluster.nodes["c"].saw("room", false, "y"); }));
  CHECK(cluster.keys("b", "room") == Keys{"x", "y"});

  REQUIRE(cluster["a"].untrack(owner, "room", "x").ok());
  REQUIRE(cluster["a"].track(owner, "room", "z", json::object()).ok());
  REQUIRE(cluster.wait([&] { return cluster.keys("b", "room") == Keys{"y", "z"}; }));
  CHECK(cluster.keys("c", "room").empty());
  cluster.nodes["c"].diffs.clear();

  REQUIRE(cluster.nodes["a"].service->resolve_partition(ref_a).ok());
  REQUIRE(cluster.nodes["c"].service->resolve_partition(ref_c).ok());
  REQUIRE(cluster.wait([&] { return cluster.keys("c", "room") == Keys{"y", "z"}; }));
  CHECK(cluster.wait([&] { return cluster.nodes["c"].saw("room", true, "y"); }));
  CHECK(cluster.wait([&] { return cluster.nodes["c"].saw("room", true, "z"); }));
  CHECK_FALSE(cluster.nodes["c"].saw("room", true, "x"));
}

TEST_CASE("closing an owner untracks its presences on every node") {
  // Proves Owner::close (a dying process): leaves everywhere.
  Cluster cluster;
  {
    Owner owner = cluster["b"].open_owner();
    REQUIRE(cluster["b"].track(owner, "t1", "k1", json::object()).ok());
    REQUIRE(cluster["b"].track(owner, "t2", "k2", json::object()).ok());
    REQUIRE(cluster.wait([&] { return cluster.keys("a", "t1") == Keys{"k1"} && cluster.keys("c", "t2") == Keys{"k2"}; }));
  }  // destroyed: closed
  REQUIRE(cluster.wait([&] {
    return cluster.keys("a", "t1").empty() && cluster.keys("c", "t2").empty() && cluster.keys("b", "t1").empty();
  }));
  CHECK(cluster.wait([&] { return cluster.nodes["a"].saw("t1", false, "k1"); }));
  CHECK(cluster.wait([&] { return cluster.nodes["c"].saw("t2", false, "k2"); }));
}

TEST_CASE("graceful_permdown drops a node's presences everywhere at once") {
  // Proves Permdown over the wire, with pool_size 2 (each shard on its own partition key).
  Cluster cluster(2);
  Owner owner = cluster["c"].open_owner();
  Owner other = cluster["a"].open_owner();
  for (int i = 0; i < 8; ++i) REQUIRE(cluster["c"].track(owner, "topic" + std::to_string(i), "k", json::object()).ok());
  REQUIRE(cluster["a"].track(other, "topic0", "stays", json::object()).ok());
  REQUIRE(cluster.wait([&] {
    for (int i = 0; i < 8; ++i) if (cluster.keys("a", "topic" + std::to_string(i)).empty()) return false;
    return cluster.keys("b", "topic0") == Keys{"k", "stays"};
  }));
  cluster["c"].graceful_permdown();
  REQUIRE(cluster.wait([&] {
    for (int i = 0; i < 8; ++i) {
      for (const char* n : {"a", "b"}) {
        auto keys = cluster.keys(n, "topic" + std::to_string(i));
        if (std::find(keys.begin(), keys.end(), "k") != keys.end()) return false;
      }
    }
    return true;
  }));
  CHECK(cluster.keys("b", "topic0") == Keys{"stays"});
  CHECK(cluster["c"].track(owner, "topic0", "again", json::object()).error().code == presence::errc::stopped);
  CHECK(cluster.nodes["c"].service->member_status().size() == 3);  // still a member, just no presences
}

TEST_CASE("each tracker life numbers its owners from a random start") {
  // Proves ids count up within a tracker life from a random start below 2^52
  // (JSON-exact), so an id kept from an earlier life (a node restart) does not
  // name an owner of a new tracker.
  Cluster cluster;
  Owner first = cluster["a"].open_owner();
  Owner second = cluster["a"].open_owner();
  CHECK(second.id() == first.id() + 1);
  CHECK(second.id() < (std::uint64_t{1} << 52));
  const auto before = second.id();
  cluster.start("a2");  // a new tracker, as after a restart
  Owner after = cluster["a2"].open_owner();
  CHECK(after.id() != before);
  CHECK(after.id() != first.id());
  CHECK(after.id() < (std::uint64_t{1} << 52));
}
