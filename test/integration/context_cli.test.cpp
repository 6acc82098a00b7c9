// Datastore contexts in real plexusd processes, driven through the plexus
// CLI: LMDB contexts declared by --datastore-config are started at node
// start and listed, stopped, started and found by name (whereis) with their
// states; a global-scope name registered on one node is found from another;
// a bad config stops plexusd with exit code 2 naming the field; /metrics
// shows each running context; a datastore whose server is down is
// reported some_started, its context not_ready and retried (no credential in
// the log), and the node keeps serving.
#include <httplib.h>

#include <cstdlib>
#include <fstream>

#include "node_harness.hpp"

using namespace plexus::testing;

namespace {

/// An LMDB datastore `name` in `dir` with an owner, a read-write context
/// `<name>_api` registered in `scope`, and a read-only `<name>_reports`.
json lmdb_datastore(const std::string& name, const fs::path& dir, const std::string& scope) {
  return json{{"name", name},
              {"backend", "lmdb:" + (dir / name).string()},
              {"contexts", json::array({json{{"name", name + "_owner"}, {"kind", "owner"}},
                                        json{{"name", name + "_api"}, {"kind", "login"}, {"registry", scope}},
                                        json{{"name", name + "_reports"}, {"kind", "login"}, {"access", "read_only"},
                                             {"start", false}}})}};
}

std::string write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

/// The state of `context` as `plexus datastore contexts DATASTORE` shows it.
std::string state_of(const Cli& cli, const std::string& admin, const std::string& datastore, const std::string& context) {
  const auto result = cli.at(admin, {"datastore", "contexts", datastore});
  if (result.exit_code != 0) return "error: " + result.err;
  const auto document = json::parse(result.out);  // kept alive: the loop refers into it
  for (const auto& c : document.at("contexts")) {
    if (c.at("name") == context) return c.at("state").get<std::string>();
  }
  return "missing";
}

}  // namespace

TEST_CASE("LMDB contexts from --datastore-config: list, contexts, stop, start and whereis through the CLI") {
  // Proves the contexts service starts the configured datastore at node start and drives it by name.
  // A second datastore's server is down (nothing listens on 127.0.0.1:1): reported, and the node keeps serving.
  ::setenv("CONTEXT_CLI_DOWN_PW", "never-shown-pw", 1);
  const json down{{"name", "down"},
                  {"backend", "postgres:host=127.0.0.1 port=1 dbname=postgres connect_timeout=2"},
                  {"contexts", json::array({json{{"name", "down_owner"}, {"kind", "owner"}},
                                            json{{"name", "down_api"}, {"kind", "login"},
                                                 {"credential", {{"env", "CONTEXT_CLI_DOWN_PW"}}}}})}};
  NamedCluster cluster;
  const auto config = write_file(cluster.dir.path / "ds.json",
                                 json{{"datastores", json::array({lmdb_datastore("app", cluster.dir.path, "local"), down})}}.dump());
  auto& node = cluster.start("a", {"--datastore-config", config});
  REQUIRE(eventually([&] { return state_of(cluster.cli, node.admin, "app", "app_api") == "ready"; }));
  CHECK(eventually([&] { return node.log_contains("datastore app: all_started"); }));
  REQUIRE(eventually([&] { return node.log_contains("datastore down: "); }));
  CHECK(node.log_contains("datastore down: some_started"));
  // Supervised, not given up: the context retries its connection with backoff.
  CHECK(eventually([&] { return node.log_contains("context down/down_api: started -> not_ready"); }));
  const std::string down_state = state_of(cluster.cli, node.admin, "down", "down_api");
  CHECK((down_state == "not_ready" || down_state == "parked"));
  CHECK_FALSE(node.log_contains("never-shown-pw"));
  CHECK_FALSE(node.log_contains("CONTEXT_CLI_DOWN_PW"));
  const auto retry = cluster.cli.at(node.admin, {"datastore", "start", "down"});
  CHECK(retry.exit_code == 1);
  CHECK_MESSAGE(retry.err.find("HTTP 409 already_started") != std::string::npos, retry.err);
  CHECK(retry.err.find("never-shown-pw") == std::string::npos);

  const auto list = cluster.cli.json_at(node.admin, {"datastore", "list"});
  REQUIRE(list.at("datastores").size() == 2);
  CHECK(list.at("datastores")[1].at("running") == true);
  CHECK(list.at("datastores")[1].at("backend") == "postgres:host=127.0.0.1 port=1 dbname=postgres");
  const auto& app = list.at("datastores")[0];
  CHECK(app.at("name") == "app");
  CHECK(app.at("running") == true);
  CHECK(app.at("backend").get<std::string>().starts_with("lmdb:"));
  CHECK(state_of(cluster.cli, node.admin, "app", "app_owner") == "not_started");
  CHECK(state_of(cluster.cli, node.admin, "app", "app_reports") == "not_started");

  const auto where = cluster.cli.json_at(node.admin, {"context", "whereis", "app_api"});
  CHECK(where.at("node") == "a");
  CHECK(where.at("datastore") == "app");
  CHECK(where.at("context") == "app_api");

  CHECK(cluster.cli.json_at(node.admin, {"context", "stop", "app_api"}).at("state") == "not_started");
  const auto gone = cluster.cli.at(node.admin, {"context", "whereis", "app_api"});
  CHECK(gone.exit_code != 0);
  CHECK(gone.err.find("context_not_found") != std::string::npos);
  const auto again = cluster.cli.at(node.admin, {"context", "stop", "app_api"});
  CHECK(again.exit_code != 0);
  CHECK(again.err.find("not_started") != std::string::npos);
  CHECK(cluster.cli.json_at(node.admin, {"context", "start", "app_api"}).at("started") == true);
  REQUIRE(eventually([&] { return state_of(cluster.cli, node.admin, "app", "app_api") == "ready"; }));
  CHECK(cluster.cli.json_at(node.admin, {"context", "whereis", "app_api"}).at("node") == "a");
  CHECK(cluster.cli.json_at(node.admin, {"context", "start", "app_reports"}).at("started") == true);

  const auto owner = cluster.cli.at(node.admin, {"context", "start", "app_owner"});
  CHECK(owner.exit_code != 0);
  CHECK(owner.err.find("not_login") != std::string::npos);
  const auto unknown = cluster.cli.at(node.admin, {"datastore", "contexts", "nope"});
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.err.find("context_not_found") != std::string::npos);

  const auto metrics = cluster.cli.at(node.admin, {"metrics"});
  REQUIRE(metrics.exit_code == 0);
  CHECK(metrics.out.find("plexus_context_state{datastore=\"app\",context=\"app_api\",state=\"ready\"} 1") != std::string::npos);
  CHECK(metrics.out.find("plexus_context_pool_size{datastore=\"app\",context=\"app_reports\"}") != std::string::npos);
  CHECK(metrics.out.find("plexus_context_reconnects_total{datastore=\"app\",context=\"app_api\"} 0") != std::string::npos);

  const auto running = cluster.cli.at(node.admin, {"datastore", "drop", "app"});
  CHECK(running.exit_code != 0);
  CHECK(running.err.find("already_started") != std::string::npos);
  CHECK(cluster.cli.json_at(node.admin, {"datastore", "stop", "app"}).at("stopped") == true);
  CHECK(state_of(cluster.cli, node.admin, "app", "app_api") == "not_started");
  CHECK(cluster.cli.json_at(node.admin, {"datastore", "drop", "app"}).at("dropped") == true);
  CHECK_FALSE(fs::exists(cluster.dir.path / "app" / "data.mdb"));
  CHECK(cluster.cli.json_at(node.admin, {"datastore", "create", "app"}).at("created") == true);
  CHECK(cluster.cli.json_at(node.admin, {"datastore", "start", "app"}).at("outcome") == "all_started");
  CHECK(node.stop() == 0);
}

TEST_CASE("a global context name registered on one node is found by whereis on the other") {
  // Proves the contexts service registers global names through the registry over the peer service.
  NamedCluster cluster;
  const auto a_config = write_file(cluster.dir.path / "a.json",
                                   json{{"datastores", json::array({lmdb_datastore("billing", cluster.dir.path, "global")})}}.dump());
  const auto b_config = write_file(cluster.dir.path / "b.json", R"({"datastores": []})");
  auto& a = cluster.start("a", {"--datastore-config", a_config});
  auto& b = cluster.start("b", {"--datastore-config", b_config, "--join", a.address});
  REQUIRE(eventually([&] { return all_up(cluster.cli, cluster.all(), {"a", "b"}); }));
  REQUIRE(eventually([&] {
    const auto found = cluster.cli.at(b.admin, {"context", "whereis", "billing_api"});
    return found.exit_code == 0 && json::parse(found.out).at("node") == "a";
  }));
  CHECK(cluster.cli.json_at(b.admin, {"context", "whereis", "billing_api"}).at("datastore") == "billing");
  CHECK(cluster.cli.json_at(a.admin, {"context", "stop", "billing_api"}).at("stopped") == true);
  CHECK(eventually([&] {
    const auto found = cluster.cli.at(b.admin, {"context", "whereis", "billing_api"});
    return found.exit_code != 0 && found.err.find("context_not_found") != std::string::npos;
  }));
}

TEST_CASE("a bad --datastore-config stops plexusd with exit code 2 naming the field") {
  // Proves config errors are refused at start with the offending field named, and nothing serves.
  TempDir dir;
  Cli cli;
  const auto key = new_key(cli, dir.path);
  const std::pair<std::string, std::string> cases[] = {
      {R"({"datastores": [{"name": "app", "backend": "lmdb:/tmp/x", "contexts": [{"name": "c", "kind": "boss"}]}]})",
       "datastores[0].contexts[0].kind"},
      {R"({"datastores": [], "extra": 1})", "extra: unknown field"},
      {"not json", "not valid JSON"},
  };
  for (const auto& [text, field] : cases) {
    const auto config = write_file(dir.path / "ds.json", text);
    const auto result = run_command({binary("PLEXUSD"), "--name", "a", "--secret-file", key, "--datastore-config", config});
    CHECK_MESSAGE(result.exit_code == 2, text);
    CHECK_MESSAGE(result.err.find("--datastore-config") != std::string::npos, result.err);
    CHECK_MESSAGE(result.err.find(field) != std::string::npos, result.err);
  }
  const auto missing = run_command({binary("PLEXUSD"), "--name", "a", "--secret-file", key, "--datastore-config",
                                    (dir.path / "none.json").string()});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("none.json") != std::string::npos);
}
