// Datastore contexts on a real PostgreSQL server in a real plexusd, through
// the plexus CLI (suite postgres; run.sh / pg_virtualenv set PG*): a
// datastore declared with an owner, a read-write and a read-only login
// context, whose database does not exist when the node starts, runs
// not_ready and comes up by itself once it is created by CLI; a tenant written through the
// read-write context is read through the read-only one, whose write is
// refused 403 permission_denied by the server; no password shows in any
// answer or log line; /metrics shows each context's pool and state. A
// datastore in no config file is declared at run time from posted options
// (create on one node, start on another), checked naming the field, dropped.
#include <cstdlib>
#include <fstream>
#include <random>

#include "node_harness.hpp"

using namespace plexus::testing;

TEST_CASE("postgres contexts through the CLI: create, start, write as read_write, refused as read_only") {
  // Proves the server's privileges reach the admin API and CLI through a node's contexts.
  if (std::getenv("PGHOST") == nullptr) {
    MESSAGE("no PostgreSQL server in the environment (PGHOST): run under pg_virtualenv or ./run.sh test");
    return;
  }
  const std::string d = "ctxcli_" + std::to_string(std::random_device{}() % 1'000'000);
  const std::string rw_pw = "rw-" + std::to_string(std::random_device{}()) + "-secret";
  const std::string ro_pw = "ro-" + std::to_string(std::random_device{}()) + "-secret";
  ::setenv("CTXCLI_RW_PW", rw_pw.c_str(), 1);  // inherited by plexusd: the credentials' source
  ::setenv("CTXCLI_RO_PW", ro_pw.c_str(), 1);
  const json config{{"datastores", json::array({json{
      {"name", d},
      {"backend", "postgres:dbname=" + std::string(std::getenv("PGDATABASE") ? std::getenv("PGDATABASE") : "postgres")},
      {"contexts", json::array({json{{"name", d + "_owner"}, {"kind", "owner"}},
                                json{{"name", d + "_rw"}, {"kind", "login"}, {"credential", {{"env", "CTXCLI_RW_PW"}}},
                                     {"pool_size", 2}},
                                json{{"name", d + "_ro"}, {"kind", "login"}, {"access", "read_only"},
                                     {"credential", {{"env", "CTXCLI_RO_PW"}}}, {"pool_size", 1}}})}}})}};
  NamedCluster cluster;
  const auto path = (cluster.dir.path / "ds.json").string();
  std::ofstream(path) << config.dump();
  auto& node = cluster.start("a", {"--datastore-config", path});
  // Its database does not exist yet: its contexts run not_ready with the reason, retrying, and the node keeps serving.
  REQUIRE(eventually([&] { return node.log_contains("datastore " + d + ": some_started"); }));
  const auto cli = [&](const std::vector<std::string>& args) { return cluster.cli.at(node.admin, args); };
  const auto ok = [&](const std::vector<std::string>& args) { return cluster.cli.json_at(node.admin, args); };
  CHECK(ok({"datastore", "list"}).at("datastores")[0].at("running") == true);
  const auto state = [&](const std::string& context) {
    const json document = ok({"datastore", "contexts", d});  // kept alive: the loop refers into it
    for (const auto& c : document.at("contexts")) {
      if (c.at("name") == context) return c.at("state").get<std::string>();
    }
    return std::string("missing");
  };
  CHECK(state(d + "_rw") == "not_ready");

  // Created while they retry: both contexts come up by themselves, no start needed.
  CHECK(ok({"datastore", "create", d}).at("created") == true);
  REQUIRE(eventually([&] { return state(d + "_rw") == "ready" && state(d + "_ro") == "ready"; }));
  CHECK(node.log_contains("context " + d + "/" + d + "_rw: not_ready -> ready"));
  CHECK(ok({"keyspace", "open", "acme", "--create", "--context", d + "_rw"}).at("context") == d + "_rw");
  CHECK(ok({"kv", "set", "acme", R"(["users", 1])", "alice", "--context", d + "_rw"}).at("set") == true);
  const auto read = ok({"kv", "get", "acme", R"(["users", 1])", "--context", d + "_ro"});
  CHECK(read.at("value") == "alice");
  const auto refused = cli({"kv", "set", "acme", R"(["users", 2])", "bob", "--context", d + "_ro"});
  CHECK(refused.exit_code == 1);
  CHECK_MESSAGE(refused.err.find("HTTP 403 permission_denied") != std::string::npos, refused.err);
  CHECK(ok({"kv", "get", "acme", R"(["users", 2])", "--context", d + "_rw"}).at("found") == false);

  const auto metrics = cli({"metrics"});
  REQUIRE(metrics.exit_code == 0);
  CHECK(metrics.out.find("plexus_context_pool_size{datastore=\"" + d + "\",context=\"" + d + "_rw\"} 2") != std::string::npos);
  CHECK(metrics.out.find("plexus_context_state{datastore=\"" + d + "\",context=\"" + d + "_ro\",state=\"ready\"} 1") !=
        std::string::npos);
  const auto listed = cli({"datastore", "list"});
  for (const auto& text : {listed.out, refused.err, metrics.out, node.log()}) {
    CHECK(text.find(rw_pw) == std::string::npos);
    CHECK(text.find(ro_pw) == std::string::npos);
    CHECK(text.find("CTXCLI_R") == std::string::npos);
  }
  CHECK(ok({"datastore", "stop", d}).at("stopped") == true);
  CHECK(ok({"datastore", "drop", d}).at("dropped") == true);
}

namespace {

/// `psql -tAc SQL` against the test server (PG*): its output, trimmed.
std::string psql(const std::string& sql) {
  const std::string command = "psql -X -tAc \"" + sql + "\" 2>&1";
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("a datastore not in the config file: created on one node and started on another from posted options, then dropped") {
  // Proves run-time declaration through the admin API and CLI: bad options refused naming the field, a taken
  // name refused, the database really created and dropped, and no password in any answer or log line.
  if (std::getenv("PGHOST") == nullptr) {
    MESSAGE("no PostgreSQL server in the environment (PGHOST): run under pg_virtualenv or ./run.sh test");
    return;
  }
  const std::string d = "ctxrt_" + std::to_string(std::random_device{}() % 1'000'000);
  const std::string pw = "rt-" + std::to_string(std::random_device{}()) + "-secret";
  ::setenv("CTXRT_PW", pw.c_str(), 1);  // inherited by both nodes
  NamedCluster cluster;
  const auto empty = (cluster.dir.path / "empty.json").string();
  std::ofstream(empty) << R"({"datastores": []})";
  auto& a = cluster.start("a", {"--datastore-config", empty});
  auto& b = cluster.start("b", {"--datastore-config", empty});
  const std::string backend =
      "postgres:dbname=" + std::string(std::getenv("PGDATABASE") ? std::getenv("PGDATABASE") : "postgres");
  json options{{"name", d},
               {"backend", backend},
               {"contexts", json::array({json{{"name", d + "_owner"}, {"kind", "owner"}},
                                         json{{"name", d + "_api"}, {"kind", "sideways"},
                                              {"credential", {{"env", "CTXRT_PW"}}}}})}};
  const auto bad = cluster.cli.at(a.admin, {"datastore", "create", "--options", options.dump()});
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.err.find("HTTP 400 invalid_field") != std::string::npos, bad.err);
  CHECK_MESSAGE(bad.err.find("options.contexts[1].kind") != std::string::npos, bad.err);
  CHECK(cluster.cli.json_at(a.admin, {"datastore", "list"}).at("datastores").empty());
  const auto neither = cluster.cli.at(a.admin, {"datastore", "create"});
  CHECK(neither.exit_code != 0);

  options["contexts"][1]["kind"] = "login";
  const auto file = (cluster.dir.path / "rt.json").string();
  std::ofstream(file) << options.dump();
  const auto created = cluster.cli.json_at(a.admin, {"datastore", "create", "--options", "@" + file});
  CHECK(created.at("created") == true);
  CHECK(psql("SELECT count(*) FROM pg_database WHERE datname = '" + d + "'") == "1");
  const auto taken = cluster.cli.at(a.admin, {"datastore", "create", "--options", "@" + file});
  CHECK(taken.exit_code == 1);
  CHECK_MESSAGE(taken.err.find("HTTP 409 already_declared") != std::string::npos, taken.err);
  CHECK(taken.err.find("options.name") != std::string::npos);

  CHECK(cluster.cli.json_at(a.admin, {"datastore", "start", d}).at("outcome") == "all_started");
  CHECK(cluster.cli.json_at(a.admin, {"keyspace", "open", "acme", "--create", "--context", d + "_api"})
            .at("context") == d + "_api");
  CHECK(cluster.cli.json_at(a.admin, {"kv", "set", "acme", R"(["k"])", "v", "--context", d + "_api"}).at("set") == true);
  // Node b never heard of it: it declares and starts it from the same options, and reads a's write.
  const auto started_b = cluster.cli.json_at(b.admin, {"datastore", "start", "--options", "@" + file});
  CHECK(started_b.at("outcome") == "all_started");
  CHECK(cluster.cli.json_at(b.admin, {"kv", "get", "acme", R"(["k"])", "--context", d + "_api"}).at("value") == "v");

  const auto listed = cluster.cli.at(b.admin, {"datastore", "list"});
  for (const auto& text : {listed.out, created.dump(), started_b.dump(), a.log(), b.log()}) {
    CHECK(text.find(pw) == std::string::npos);
    CHECK(text.find("CTXRT_PW") == std::string::npos);
  }
  CHECK(cluster.cli.json_at(b.admin, {"datastore", "stop", d}).at("stopped") == true);
  CHECK(cluster.cli.json_at(a.admin, {"datastore", "stop", d}).at("stopped") == true);
  CHECK(cluster.cli.json_at(a.admin, {"datastore", "drop", d}).at("dropped") == true);
  CHECK(psql("SELECT count(*) FROM pg_database WHERE datname = '" + d + "'") == "0");
  CHECK(psql("SELECT count(*) FROM pg_roles WHERE rolname LIKE '" + d + "%'") == "0");
  // Dropped and forgotten on a: the name can be declared again.
  CHECK(cluster.cli.json_at(a.admin, {"datastore", "list"}).at("datastores").empty());
}
