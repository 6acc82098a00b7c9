// The global context registry (context::Registry carried by replica::Host)
// over three real PeerServices on 127.0.0.1 (one io_context): a registration
// is seen on every node, a duplicate is refused, a name registered on both
// sides of a partition resolves to the same winner everywhere on heal with
// the loser told, and a stopped node's names stop resolving on the others
// (the live ones still do). Waits are on
// conditions with deadlines, never sleeps.
#include <doctest/doctest.h>

#include <asio/io_context.hpp>

#include <filesystem>
#include <future>
#include <random>

#include "plexus/context/host_registrar.hpp"
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

  // b stops: once the others see it down its names no longer resolve there; a's still do.
  cluster.nodes["b"].host->stop();
  cluster.nodes["b"].service->stop();
  REQUIRE(cluster.wait([&] {
    for (const auto& member : cluster.nodes["a"].service->member_status()) {
      if (member.spec.name == "b") return !member.up;
    }
    return true;
  }));
  REQUIRE(cluster.wait([&] { return cluster.where("a", "orders") == "-" && cluster.where("c", "orders") == "-"; }));
  CHECK(cluster.where("c", "billing") == "a/app_api");
}

namespace {

/// Runs `work` on a thread while this thread runs the io_context (the
/// registrar posts to it), until `work` is done or 10 s pass.
template <class F>
auto off_io(Cluster& cluster, F&& work) {
  auto future = std::async(std::launch::async, std::forward<F>(work));
  REQUIRE(cluster.wait([&] { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
  return future.get();
}

std::vector<context::DatastoreOptions> one_datastore(const std::filesystem::path& dir, const std::string& name) {
  nlohmann::json config{{"datastores",
                         {{{"name", name},
                           {"backend", "lmdb:" + dir.string()},
                           {"contexts", {{{"name", name + "_owner"}, {"kind", "owner"}},
                                         {{"name", "shared_api"}, {"kind", "login"}, {"registry", "global"}}}}}}}};
  auto parsed = context::parse_datastore_config(config.dump());
  REQUIRE(parsed.ok());
  return *parsed;
}

}  // namespace

TEST_CASE("contexts of two nodes register globally through the host: seen on a third, a clash refused, a stop unregisters") {
  // Proves HostRegistrar carries Contexts' registrations over real peer services.
  Cluster cluster;
  for (const char* name : {"a", "b", "c"}) cluster.start(name);
  cluster.join("b");
  cluster.join("c");
  REQUIRE(cluster.wait([&] { return cluster.all_up(); }));
  const auto root = std::filesystem::temp_directory_path() / ("plexus_ctx_int_" + std::to_string(std::random_device{}()));
  auto on_a = std::make_shared<context::Contexts>(one_datastore(root / "a", "ds_a"),
                                                  std::make_shared<context::HostRegistrar>(cluster.io, cluster.nodes["a"].host));
  auto on_b = std::make_shared<context::Contexts>(one_datastore(root / "b", "ds_b"),
                                                  std::make_shared<context::HostRegistrar>(cluster.io, cluster.nodes["b"].host));
  REQUIRE(off_io(cluster, [&] { return on_a->create("ds_a").ok() && on_b->create("ds_b").ok(); }));
  CHECK(off_io(cluster, [&] { return on_a->start_all(); })["ds_a"].value("outcome", "") == "all_started");
  REQUIRE(cluster.wait([&] {
    return cluster.where("b", "shared_api") == "a/shared_api" && cluster.where("c", "shared_api") == "a/shared_api";
  }));
  CHECK(cluster.registry("c").whereis("shared_api")->datastore == "ds_a");
  CHECK(off_io(cluster, [&] { return on_b->start_all(); })["ds_b"].value("outcome", "") == "all_started");
  const auto status_b = off_io(cluster, [&] { return on_b->status_json(); });
  CHECK(status_b[0]["contexts"][1].value("registration_error", "").find("held by a (ds_a/shared_api)") !=
        std::string::npos);
  REQUIRE(off_io(cluster, [&] { return on_a->stop_context("ds_a", "shared_api").ok(); }));
  REQUIRE(cluster.wait([&] { return cluster.where("c", "shared_api") == "-"; }));
  CHECK(off_io(cluster, [&] { return on_a->whereis("shared_api").ok(); }) == false);
  off_io(cluster, [&] {
    on_a.reset();
    on_b.reset();
    return true;
  });
  std::filesystem::remove_all(root);
}
