// The global context registry (context::Registry carried by replica::Host)
// over three real PeerServices on 127.0.0.1 (one io_context): a registration
// is seen on every node, a duplicate is refused, a name registered on both
// sides of a partition resolves to the same winner everywhere on heal with
// the loser told, and lookups still answer after a node stops. Waits are on
// conditions with deadlines, never sleeps.
#include <doctest/doctest.h>

#include <asio/io_context.hpp>

#include "plexus/context/registry.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/replica/host.hpp"
#include "../support/loop.hpp"

using namespace plexus;
using context::Registry;
using context::Scope;
using plexus::testing::run_until;
using RegistryHost = replica::Host<Registry>;

namespace {

struct Node {
  std::shared_ptr<peer::PeerService> service;
  std::shared_ptr<RegistryHost> host;
  std::vector<Registry::Lost> lost;
};

struct Cluster {
  asio::io_context io;
  secure::ClusterKey key = secure::generate_cluster_key();
  std::map<std::string, Node> nodes;

  void start(const std::string& name) {
    peer::Config c;
    c.name = name;
    c.key = key;
    c.channels["_contexts"] = ChannelSpec{1, false};
    c.heartbeat_interval = peer::Millis(50);
    c.peer_timeout = peer::Millis(400);
    c.redial_max = peer::Millis(200);
    auto started = peer::PeerService::start(io.get_executor(), c);
    if (!started) FAIL(started.error().message());
    Node& node = nodes[name];
    node.service = *started;
    std::vector<std::unique_ptr<Registry>> cores;
    context::RegistryOptions options;
    options.anti_entropy_period = std::chrono::milliseconds(100);
    cores.push_back(std::make_unique<Registry>(name, RegistryHost::now(), options));
    auto host = RegistryHost::start(io.get_executor(), node.service,
                                    replica::HostOptions{"_contexts", {"contexts.0"}, "contexts"}, std::move(cores),
                                    [&node](std::uint32_t, Registry::Output& out) {
                                      for (auto& lost : out.lost) node.lost.push_back(std::move(lost));
                                    });
    if (!host) FAIL(host.error().message());
    node.host = *host;
  }
  void join(const std::string& name) { REQUIRE(nodes[name].service->join(nodes["a"].service->spec()).ok()); }
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
  Result<void> register_global(const std::string& node, const std::string& name, const std::string& ctx,
                               std::uint64_t at) {
    auto done = registry(node).register_context(name, "app", ctx, Scope::global, at);
    nodes[node].host->drain(0);
    return done;
  }
  std::string where(const std::string& node, const std::string& name) {
    auto found = registry(node).whereis(name);
    return found ? found->node + "/" + found->context : "-";
  }
  ~Cluster() {
    for (auto& [name, node] : nodes) node.host.reset();
  }
};

}  // namespace

TEST_CASE("context registry on 3 nodes: seen everywhere, duplicates refused, a partition resolved alike, lookups after a stop") {
  // Proves the global scope over real peer services end to end.
  Cluster cluster;
  for (const char* name : {"a", "b", "c"}) cluster.start(name);
  cluster.join("b");
  cluster.join("c");
  REQUIRE(cluster.wait([&] { return cluster.all_up(); }));

  REQUIRE(cluster.register_global("a", "billing", "app_api", 1000).ok());
  REQUIRE(cluster.wait([&] { return cluster.where("b", "billing") == "a/app_api" && cluster.where("c", "billing") == "a/app_api"; }));
  auto duplicate = cluster.register_global("c", "billing", "app_ui", 2000);
  REQUIRE_FALSE(duplicate.ok());
  CHECK(is(duplicate.error(), context::errc::already_registered));
  CHECK(is(cluster.registry("b").whereis("nope").error(), context::errc::context_not_found));

  // {a} | {b, c}: both sides register "orders"; b's is earlier and must win everywhere.
  std::vector<std::pair<std::string, std::uint64_t>> refs;
  for (const char* other : {"b", "c"}) {
    refs.emplace_back("a", cluster.nodes["a"].service->inject_partition(other, std::nullopt));
    refs.emplace_back(other, cluster.nodes[other].service->inject_partition("a", std::nullopt));
  }
  REQUIRE(cluster.register_global("a", "orders", "from_a", 5000).ok());
  REQUIRE(cluster.register_global("b", "orders", "from_b", 4000).ok());
  REQUIRE(cluster.wait([&] { return cluster.where("c", "orders") == "b/from_b"; }));
  CHECK(cluster.where("a", "orders") == "a/from_a");
  for (const auto& [node, ref] : refs) REQUIRE(cluster.nodes[node].service->resolve_partition(ref).ok());
  REQUIRE(cluster.wait([&] {
    return cluster.where("a", "orders") == "b/from_b" && cluster.where("b", "orders") == "b/from_b" &&
           cluster.where("c", "orders") == "b/from_b";
  }));
  REQUIRE(cluster.wait([&] { return !cluster.nodes["a"].lost.empty(); }));
  CHECK(cluster.nodes["a"].lost[0].name == "orders");
  CHECK(cluster.nodes["a"].lost[0].winner.node == "b");
  CHECK(cluster.nodes["b"].lost.empty());
  CHECK(cluster.registry("a").map().entries() == cluster.registry("c").map().entries());

  // b stops: the others still resolve its names (it registered them; membership says it is down).
  cluster.nodes["b"].host->stop();
  cluster.nodes["b"].service->stop();
  REQUIRE(cluster.wait([&] {
    for (const auto& member : cluster.nodes["a"].service->member_status()) {
      if (member.spec.name == "b") return !member.up;
    }
    return true;
  }));
  CHECK(cluster.where("a", "orders") == "b/from_b");
  CHECK(cluster.where("c", "billing") == "a/app_api");
}
