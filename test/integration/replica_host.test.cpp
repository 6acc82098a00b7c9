// replica::Host carrying the example registry core (a replicated key ->
// string map) over three real PeerServices on 127.0.0.1 (one io_context):
// a put on one node reaches the others, a node started later catches up when
// its channel comes up, a partition heals by anti-entropy, and the host's
// start refuses a channel the service does not serve. Waits are on
// conditions with deadlines, never sleeps.
#include <doctest/doctest.h>

#include <asio/io_context.hpp>

#include "plexus/peer/peer_service.hpp"
#include "plexus/replica/example_registry.hpp"
#include "plexus/replica/host.hpp"
#include "../support/loop.hpp"

using namespace plexus;
using plexus::replica::example::Registry;
using plexus::testing::run_until;
using RegistryHost = replica::Host<Registry>;

namespace {

struct Node {
  std::shared_ptr<peer::PeerService> service;
  std::shared_ptr<RegistryHost> host;
  std::vector<Registry::Change> changes;
};

struct Cluster {
  asio::io_context io;
  secure::ClusterKey key = secure::generate_cluster_key();
  std::map<std::string, Node> nodes;

  Result<std::shared_ptr<RegistryHost>> start(const std::string& name, const std::string& channel = "_registry") {
    peer::Config c;
    c.name = name;
    c.key = key;
    c.channels["_registry"] = ChannelSpec{1, false};
    c.heartbeat_interval = peer::Millis(50);
    c.peer_timeout = peer::Millis(400);
    c.redial_max = peer::Millis(200);
    auto started = peer::PeerService::start(io.get_executor(), c);
    // Not REQUIRE_MESSAGE: doctest -s would format error() of a success.
    if (!started) FAIL(started.error().message());
    Node& node = nodes[name];
    node.service = *started;
    std::vector<std::unique_ptr<Registry>> cores;
    cores.push_back(std::make_unique<Registry>(name, RegistryHost::now(), std::chrono::milliseconds(100)));
    auto host = RegistryHost::start(io.get_executor(), node.service,
                                    replica::HostOptions{channel, {"registry.0"}, "registry"}, std::move(cores),
                                    [&node](std::uint32_t, Registry::Output& out) {
                                      for (auto& change : out.changes) node.changes.push_back(std::move(change));
                                    });
    if (host) node.host = *host;
    return host;
  }
  void join(const std::string& name) { REQUIRE(nodes[name].service->join(nodes["a"].service->spec()).ok()); }
  /// Every node sees every other up, with its channels.
  bool all_up() {
    for (auto& [name, node] : nodes) {
      const auto status = node.service->member_status();
      if (status.size() != nodes.size()) return false;
      for (const auto& member : status) {
        if (!member.up) return false;
        for (const auto& [channel, up] : member.channels_up) {
          if (!up) return false;
        }
      }
    }
    return true;
  }
  bool wait(auto&& condition) { return run_until(io, condition, std::chrono::seconds(10)); }
  Registry& registry(const std::string& name) { return nodes[name].host->core(0); }
  std::string value(const std::string& name, const std::string& key) {
    const std::string* value = registry(name).get(key);
    return value ? *value : "-";
  }
  void put(const std::string& name, const std::string& key, const std::string& value) {
    REQUIRE(registry(name).put(key, value, RegistryHost::now()).ok());
    nodes[name].host->drain(0);
  }
  ~Cluster() {
    for (auto& [name, node] : nodes) node.host.reset();
  }
};

}  // namespace

TEST_CASE("replica host: a put reaches every node, and a late node catches up when it comes up") {
  // Proves the host forwards a core's sends, feeds received messages and up events, and drains outputs.
  Cluster cluster;
  REQUIRE(cluster.start("a").ok());
  REQUIRE(cluster.start("b").ok());
  cluster.join("b");
  REQUIRE(cluster.wait([&] { return cluster.all_up(); }));
  cluster.put("a", "tenant-1", "module-x");
  REQUIRE(cluster.wait([&] { return cluster.value("b", "tenant-1") == "module-x"; }));
  CHECK(cluster.nodes["b"].changes == std::vector<Registry::Change>{{"tenant-1", "module-x"}});

  REQUIRE(cluster.start("c").ok());
  cluster.join("c");
  REQUIRE(cluster.wait([&] { return cluster.value("c", "tenant-1") == "module-x"; }));
  cluster.put("c", "tenant-2", "module-y");
  REQUIRE(cluster.wait([&] {
    return cluster.value("a", "tenant-2") == "module-y" && cluster.value("b", "tenant-2") == "module-y";
  }));
  CHECK(cluster.nodes["a"].host->send_failures() == 0);
}

TEST_CASE("replica host: writes on both sides of a partition converge after it heals") {
  // Proves the one timer ticks the core (periodic digests) so a healed split converges.
  Cluster cluster;
  for (const char* name : {"a", "b"}) REQUIRE(cluster.start(name).ok());
  cluster.join("b");
  REQUIRE(cluster.wait([&] { return cluster.all_up(); }));
  cluster.put("a", "k", "v0");
  REQUIRE(cluster.wait([&] { return cluster.value("b", "k") == "v0"; }));
  const auto ref_a = cluster.nodes["a"].service->inject_partition("b", std::nullopt);
  const auto ref_b = cluster.nodes["b"].service->inject_partition("a", std::nullopt);
  cluster.put("a", "only-a", "x");
  cluster.put("b", "only-b", "y");
  REQUIRE(cluster.registry("b").remove("k", RegistryHost::now()).ok());
  cluster.nodes["b"].host->drain(0);
  REQUIRE(cluster.nodes["a"].service->resolve_partition(ref_a).ok());
  REQUIRE(cluster.nodes["b"].service->resolve_partition(ref_b).ok());
  REQUIRE(cluster.wait([&] {
    return cluster.value("a", "only-b") == "y" && cluster.value("b", "only-a") == "x" && cluster.value("a", "k") == "-";
  }));
  CHECK(cluster.registry("a").map().entries() == cluster.registry("b").map().entries());
}

TEST_CASE("replica host: start refuses a channel the peer service does not serve") {
  // Proves the host checks its channel before registering anything.
  Cluster cluster;
  auto host = cluster.start("a", "_nope");
  REQUIRE_FALSE(host.ok());
  CHECK(host.error().code == plexus::errc::invalid_field);
  CHECK(host.error().detail.starts_with("channel:"));
}
