// Datastores and tenant key spaces of real plexusd processes, driven through
// the plexus CLI (and raw HTTP with the admin token for requests the CLI
// refuses to send): two nodes sharing one LMDB datastore see each other's
// writes; every key-space call answers its documented outcome; data survives
// kill -9 and a restart; bad tuples, bad values, unknown tenants and
// datastores and oversized keys are refused with a precise 4xx naming the
// field, and the node keeps serving; bad --datastore settings stop plexusd
// with exit code 2. With a PostgreSQL server in the environment (./run.sh
// test starts one), the same calls run against a postgres datastore.
#include <httplib.h>

#include <cstdlib>

#include "node_harness.hpp"

using namespace plexus::testing;

namespace {

struct StoreNodes {
  TempDir dir;
  Cli cli;
  std::vector<std::unique_ptr<NodeProcess>> nodes;

  explicit StoreNodes(std::size_t size, const std::vector<std::string>& extra = {}) {
    cli.secret_file = new_key(cli, dir.path);
    for (std::size_t i = 0; i < size; ++i) nodes.push_back(start(i, extra));
  }
  std::unique_ptr<NodeProcess> start(std::size_t i, const std::vector<std::string>& extra) const {
    const std::string name = std::string(1, char('a' + i));
    std::vector<std::string> args{"--name", name, "--secret-file", cli.secret_file, "--data-dir",
                                  (dir.path / name).string(), "--datastore",
                                  "main=lmdb:" + (dir.path / "shared-store").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return NodeProcess::start(args);
  }
  const std::string& admin(std::size_t i) const { return nodes.at(i)->admin; }
  json ok(std::size_t i, const std::vector<std::string>& args) const { return cli.json_at(admin(i), args); }
  CommandResult raw(std::size_t i, const std::vector<std::string>& args) const { return cli.at(admin(i), args); }
};

std::string token_of(const Cli& cli) {
  const auto result = cli.run({"--secret-file", cli.secret_file, "token"});
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  auto token = result.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  return token;
}

httplib::Client http_client(const std::string& admin, const std::string& token) {
  const auto colon = admin.rfind(':');
  httplib::Client client(admin.substr(0, colon), std::stoi(admin.substr(colon + 1)));
  client.set_bearer_token_auth(token);
  client.set_read_timeout(10, 0);
  return client;
}

}  // namespace

TEST_CASE("two nodes on one LMDB datastore: a key written through one is read through the other") {
  StoreNodes s(2);
  CHECK(s.ok(0, {"keyspace", "create", "acme"}).at("created") == true);
  CHECK(s.ok(1, {"keyspace", "exists", "acme"}).at("exists") == true);
  s.ok(0, {"kv", "set", "acme", R"(["users", 1])", "alice"});
  s.ok(0, {"kv", "set", "acme", R"(["users", 2])", "bob"});
  s.ok(0, {"kv", "set", "acme", R"(["blob"])", "00ff10", "--hex"});
  const auto got = s.ok(1, {"kv", "get", "acme", R"(["users", 1])"});
  CHECK(got.at("found") == true);
  CHECK(got.at("value") == "alice");
  CHECK(s.ok(1, {"kv", "get", "acme", R"(["blob"])"}).at("value") == json{{"bytes", "00ff10"}});
  const auto range = s.ok(1, {"kv", "range", "acme", R"(["users"])"});
  REQUIRE(range.at("rows").size() == 2);
  CHECK(range.at("rows")[0].at("key") == json::array({"users", 1}));
  CHECK(range.at("rows")[1].at("value") == "bob");
  CHECK(range.at("more") == false);
  const auto reversed = s.ok(1, {"kv", "range", "acme", "--reverse", "--limit", "1"});
  REQUIRE(reversed.at("rows").size() == 1);
  CHECK(reversed.at("more") == true);
  CHECK(s.ok(0, {"keyspace", "list"}).at("tenants") == json::array({"acme"}));
}

TEST_CASE("key-space calls answer the seed's outcomes through the CLI") {
  StoreNodes s(1);
  s.ok(0, {"keyspace", "create", "t1"});
  auto again = s.raw(0, {"keyspace", "create", "t1"});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("tenant_already_exists") != std::string::npos);
  auto missing = s.raw(0, {"keyspace", "open", "nobody"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("tenant_not_found") != std::string::npos);
  CHECK(s.ok(0, {"keyspace", "open", "nobody", "--create"}).at("tenant") == "nobody");
  s.ok(0, {"kv", "set", "t1", R"(["k"])", "v"});
  auto full = s.raw(0, {"keyspace", "delete", "t1"});
  CHECK(full.exit_code == 1);
  CHECK(full.err.find("tenant_not_empty") != std::string::npos);
  s.ok(0, {"keyspace", "clear", "t1"});
  CHECK(s.ok(0, {"kv", "get", "t1", R"(["k"])"}).at("found") == false);
  CHECK(s.ok(0, {"keyspace", "delete", "t1"}).at("deleted") == true);
  CHECK(s.ok(0, {"keyspace", "delete", "t1"}).at("deleted") == true);  // a missing tenant is fine
  s.ok(0, {"kv", "set", "nobody", R"(["k"])", "v"});
  CHECK(s.ok(0, {"keyspace", "clear-delete", "nobody"}).at("deleted") == true);
  CHECK(s.ok(0, {"keyspace", "exists", "nobody"}).at("exists") == false);
  CHECK(s.ok(0, {"keyspace", "clear-delete", "nobody"}).at("deleted") == true);  // no-op when missing
}

TEST_CASE("acknowledged writes survive kill -9 of the node") {
  StoreNodes s(1);
  s.ok(0, {"keyspace", "create", "durable"});
  for (int i = 0; i < 20; ++i) s.ok(0, {"kv", "set", "durable", "[" + std::to_string(i) + "]", "v" + std::to_string(i)});
  REQUIRE(::kill(s.nodes[0]->pid(), SIGKILL) == 0);
  s.nodes[0]->stop();
  s.nodes[0] = s.start(0, {});
  const auto range = s.ok(0, {"kv", "range", "durable", "--limit", "100"});
  REQUIRE(range.at("rows").size() == 20);
  CHECK(range.at("rows")[19].at("value") == "v19");
}

TEST_CASE("bad input is refused with a precise reason and the node keeps serving") {
  StoreNodes s(1);
  s.ok(0, {"keyspace", "create", "acme"});
  // The CLI checks tuples before sending: a usage error naming the argument.
  auto not_json = s.raw(0, {"kv", "get", "acme", "[users"});
  CHECK(not_json.exit_code == 2);
  CHECK(not_json.err.find("KEY") != std::string::npos);
  auto bad_bytes = s.raw(0, {"kv", "get", "acme", R"([{"bytes": "abc"}])"});
  CHECK(bad_bytes.exit_code == 2);
  CHECK(bad_bytes.err.find("[0]") != std::string::npos);
  // The node checks them too.
  auto client = http_client(s.admin(0), token_of(s.cli));
  auto bad_key = client.Post("/v1/kv/set", R"({"tenant": "acme", "key": [{"uuid": "nope"}], "value": "x"})",
                             "application/json");
  REQUIRE(bad_key);
  CHECK(bad_key->status == 400);
  CHECK(bad_key->body.find("field 'key'") != std::string::npos);
  auto bad_value = client.Post("/v1/kv/set", R"({"tenant": "acme", "key": ["k"], "value": 12})", "application/json");
  REQUIRE(bad_value);
  CHECK(bad_value->status == 400);
  CHECK(bad_value->body.find("field 'value'") != std::string::npos);
  auto unknown_field = client.Post("/v1/keyspace/create", R"({"tenant": "x", "bogus": 1})", "application/json");
  REQUIRE(unknown_field);
  CHECK(unknown_field->status == 400);
  CHECK(unknown_field->body.find("bogus") != std::string::npos);
  auto no_tenant = s.raw(0, {"kv", "get", "ghost", R"(["k"])"});
  CHECK(no_tenant.exit_code == 1);
  CHECK(no_tenant.err.find("tenant_not_found") != std::string::npos);
  auto no_store = s.raw(0, {"kv", "get", "acme", R"(["k"])", "--datastore", "elsewhere"});
  CHECK(no_store.exit_code == 1);
  CHECK(no_store.err.find("unknown_datastore") != std::string::npos);
  auto huge = s.raw(0, {"kv", "set", "acme", "[\"" + std::string(600, 'k') + "\"]", "v"});
  CHECK(huge.exit_code == 1);
  CHECK(huge.err.find("key_too_large") != std::string::npos);
  // Nothing of the refused requests was written, and the node still answers.
  CHECK(s.ok(0, {"kv", "range", "acme"}).at("rows").empty());
  CHECK(s.raw(0, {"status"}).exit_code == 0);
}

TEST_CASE("bad --datastore settings stop plexusd with exit code 2 and name the flag") {
  TempDir dir;
  Cli cli;
  const auto key = new_key(cli, dir.path);
  for (const std::string bad : {"nameonly", "x=sqlite:/tmp/db", "bad name=lmdb:/tmp/x",
                                "pg=postgres:host=db password=hunter2"}) {
    const auto result = run_command({binary("PLEXUSD"), "--name", "a", "--secret-file", key, "--datastore", bad});
    CHECK_MESSAGE(result.exit_code == 2, bad);
    CHECK_MESSAGE(result.err.find("--datastore") != std::string::npos, result.err);
    CHECK_MESSAGE(result.err.find("hunter2") == std::string::npos, result.err);
  }
}

TEST_CASE("a postgres datastore answers the same calls (with the test server from ./run.sh test)") {
  if (std::getenv("PGHOST") == nullptr) {
    MESSAGE("no PostgreSQL server in the environment (PGHOST): ./run.sh test starts one");
    return;
  }
  StoreNodes s(1, {"--datastore", "pg=postgres:dbname=" + std::string(std::getenv("PGDATABASE") ? std::getenv("PGDATABASE") : "postgres")});
  const std::string tenant = "pg-it-" + std::to_string(::getpid());
  s.ok(0, {"keyspace", "create", tenant, "--datastore", "pg"});
  s.ok(0, {"kv", "set", tenant, R"(["a", 1])", "one", "--datastore", "pg"});
  CHECK(s.ok(0, {"kv", "get", tenant, R"(["a", 1])", "--datastore", "pg"}).at("value") == "one");
  const auto in_main = s.raw(0, {"kv", "get", tenant, R"(["a", 1])"});  // main is another datastore
  CHECK(in_main.exit_code == 1);
  CHECK(in_main.err.find("tenant_not_found") != std::string::npos);
  CHECK(s.ok(0, {"keyspace", "clear-delete", tenant, "--datastore", "pg"}).at("deleted") == true);
}
