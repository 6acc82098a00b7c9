// The global context registry across three real plexusd processes on
// 127.0.0.1, driven only through the plexus CLI: a name registered on one node
// resolves on the other two; a second registration of it elsewhere is refused
// (already_registered, shown by the context's start); a name registered on both
// sides of a partition (injected with `plexus partition inject`) resolves to
// one winner on every node after the heal, the loser told in its log; after a
// kill -9 of the holder its names stop resolving on the others within the
// peer timeout, and another node may take them.
#include <signal.h>

#include <fstream>

#include "node_harness.hpp"

using namespace plexus::testing;

namespace {

/// LMDB datastore ds_NODE with two global login contexts, `shared` and `split`, started by hand.
std::string node_config(const fs::path& dir, const std::string& node) {
  const json context_shared{{"name", "shared"}, {"kind", "login"}, {"registry", "global"}, {"start", false}};
  const json context_split{{"name", "split"}, {"kind", "login"}, {"registry", "global"}, {"start", false}};
  const json datastore{{"name", "ds_" + node},
                       {"backend", "lmdb:" + (dir / ("ds_" + node)).string()},
                       {"contexts", json::array({json{{"name", "ds_" + node + "_owner"}, {"kind", "owner"}},
                                                 context_shared, context_split})}};
  const auto path = dir / (node + ".json");
  std::ofstream(path) << json{{"datastores", json::array({datastore})}}.dump();
  return path.string();
}

/// The node `name` resolves to as seen from `admin` ("-" with the error text when it does not resolve).
std::string holder(const Cli& cli, const std::string& admin, const std::string& name) {
  const auto found = cli.at(admin, {"context", "whereis", name});
  if (found.exit_code != 0) return "-" + found.err;
  return json::parse(found.out).at("node").get<std::string>();
}

}  // namespace

TEST_CASE("global context names on three plexusd: resolved, duplicate refused, a split healed to one winner, a crash") {
  // Proves the global registry end to end through real nodes, partitions and a SIGKILL.
  NamedCluster cluster;
  const auto& cli = cluster.cli;
  auto& a = cluster.start("a", {"--datastore-config", node_config(cluster.dir.path, "a")});
  auto& b = cluster.start("b", {"--datastore-config", node_config(cluster.dir.path, "b"), "--join", a.address});
  auto& c = cluster.start("c", {"--datastore-config", node_config(cluster.dir.path, "c"), "--join", a.address});
  REQUIRE(eventually([&] { return all_up(cli, cluster.all(), {"a", "b", "c"}); }));
  for (auto* node : {&a, &b, &c}) {
    const auto ds = "ds_" + node->ready.at("spec").at("name").get<std::string>();
    REQUIRE(eventually([&] { return cli.at(node->admin, {"datastore", "contexts", ds}).exit_code == 0; }));
  }

  // Registered on a, resolved from b and c.
  const auto on_a = cli.json_at(a.admin, {"context", "start", "shared"});
  CHECK(on_a.at("started") == true);
  CHECK_FALSE(on_a.contains("registration_error"));
  REQUIRE(eventually([&] { return holder(cli, b.admin, "shared") == "a" && holder(cli, c.admin, "shared") == "a"; }));
  // A second registration on b is refused: its context runs, its name is not taken.
  const auto on_b = cli.json_at(b.admin, {"context", "start", "shared"});
  REQUIRE(on_b.contains("registration_error"));
  CHECK_MESSAGE(on_b.at("registration_error").get<std::string>().find("already registered") != std::string::npos,
                on_b.dump());
  CHECK(on_b.at("registration_error").get<std::string>().find("held by a") != std::string::npos);
  CHECK(holder(cli, c.admin, "shared") == "a");
  CHECK(holder(cli, b.admin, "shared") == "a");

  // Partition {a} | {b, c}; `split` registered on both sides.
  std::vector<std::string> cuts;
  for (const char* other : {"b", "c"}) {
    cuts.push_back(std::to_string(cli.json_at(a.admin, {"partition", "inject", other}).at("ref").get<std::uint64_t>()));
  }
  REQUIRE(eventually([&] {
    auto seen_a = members_up(cli, a.admin), seen_b = members_up(cli, b.admin);
    return !seen_a["b"] && !seen_a["c"] && !seen_b["a"] && seen_b["c"] && !members_up(cli, c.admin)["a"];
  }));
  CHECK_FALSE(cli.json_at(a.admin, {"context", "start", "split"}).contains("registration_error"));
  CHECK_FALSE(cli.json_at(b.admin, {"context", "start", "split"}).contains("registration_error"));
  CHECK(holder(cli, a.admin, "split") == "a");
  REQUIRE(eventually([&] { return holder(cli, c.admin, "split") == "b"; }));

  // Heal: every node ends with the same winner; the loser's log says it lost the name.
  for (const auto& ref : cuts) CHECK(cli.at(a.admin, {"partition", "resolve", ref}).exit_code == 0);
  REQUIRE(eventually([&] { return all_up(cli, cluster.all(), {"a", "b", "c"}); }));
  std::string winner;
  REQUIRE(eventually([&] {
    winner = holder(cli, a.admin, "split");
    return (winner == "a" || winner == "b") && holder(cli, b.admin, "split") == winner &&
           holder(cli, c.admin, "split") == winner;
  }));
  auto& loser = winner == "a" ? b : a;
  const std::string loser_name = winner == "a" ? "b" : "a";
  CHECK(eventually([&] { return loser.log_contains("context registry: split lost name split to " + winner + "/"); }));
  CHECK_FALSE((winner == "a" ? a : b).log_contains("lost name split"));
  MESSAGE("split: won by ", winner, ", lost by ", loser_name);
  CHECK(holder(cli, c.admin, "shared") == "a");

  // kill -9 of a: its names stop resolving on b and c within the peer timeout (1 s here), then b may take one.
  REQUIRE(::kill(a.pid(), SIGKILL) == 0);
  const auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] {
    return holder(cli, b.admin, "shared").starts_with("-") && holder(cli, c.admin, "shared").starts_with("-");
  }));
  const auto gone_after = std::chrono::steady_clock::now() - killed_at;
  MESSAGE("a's names gone from b and c after ", std::chrono::duration_cast<Millis>(gone_after).count(), " ms");
  CHECK(gone_after < Millis(1'000 + 2'000));  // the bound (peer timeout) plus the CLI calls' own time
  CHECK(holder(cli, c.admin, "shared").find("context_not_found") != std::string::npos);
  CHECK(cli.json_at(b.admin, {"context", "stop", "shared"}).at("stopped") == true);
  CHECK_FALSE(cli.json_at(b.admin, {"context", "start", "shared"}).contains("registration_error"));
  REQUIRE(eventually([&] { return holder(cli, c.admin, "shared") == "b"; }));
  CHECK(a.try_wait().has_value());
}
