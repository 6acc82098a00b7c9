// The presence tracker of real plexusd processes, driven only through the
// plexus CLI (and, for malformed requests the CLI cannot send, raw HTTP with
// the admin token): track on one node and list on all; a partition hides the
// other side's presences and healing brings them back with the changes made
// meanwhile; an owner whose lease runs out is untracked everywhere; bad input
// is refused with a precise 4xx and changes nothing.
#include <httplib.h>

#include <set>

#include "node_harness.hpp"

using namespace plexus::testing;

namespace {

/// Presence timers small enough for a quick test (down >= 2 x broadcast).
std::vector<std::string> fast_presence() {
  return {"--presence-broadcast-period-ms", "50", "--presence-down-period-ms", "600"};
}

struct Cluster {
  TempDir dir;
  Cli cli;
  std::vector<std::unique_ptr<NodeProcess>> nodes;

  explicit Cluster(std::size_t size) {
    cli.secret_file = new_key(cli, dir.path);
    const std::vector<std::string> names{"a", "b", "c"};
    for (std::size_t i = 0; i < size; ++i) {
      std::vector<std::string> args{"--name", names[i], "--secret-file", cli.secret_file};
      for (const auto& a : fast_timers()) args.push_back(a);
      for (const auto& a : fast_presence()) args.push_back(a);
      nodes.push_back(NodeProcess::start(args));
    }
    if (size == 1) return;
    std::vector<std::string> update{"update-members"};
    for (std::size_t i = 1; i < size; ++i) update.push_back(nodes[i]->spec);
    const auto joined = cli.at(nodes[0]->admin, update);
    REQUIRE_MESSAGE(joined.exit_code == 0, joined.err);
    std::vector<const NodeProcess*> all;
    for (const auto& n : nodes) all.push_back(n.get());
    REQUIRE(eventually([&] { return all_up(cli, all, std::vector<std::string>(names.begin(), names.begin() + long(size))); }));
  }
  const std::string& admin(std::size_t i) const { return nodes.at(i)->admin; }
  json presence(std::size_t i, std::vector<std::string> args) const {
    args.insert(args.begin(), "presence");
    return cli.json_at(admin(i), args);
  }
  std::string open(std::size_t i, int ttl_ms = 60'000) const {
    return std::to_string(presence(i, {"open", "--ttl-ms", std::to_string(ttl_ms)}).at("owner").get<std::uint64_t>());
  }
  /// The keys `plexus presence list TOPIC` shows on node i (empty on failure).
  std::set<std::string> keys(std::size_t i, const std::string& topic) const {
    const auto result = cli.at(admin(i), {"presence", "list", topic});
    std::set<std::string> out;
    if (result.exit_code != 0) return out;
    const auto answer = json::parse(result.out);  // kept alive: the loop refers into it
    for (const auto& p : answer.at("presences")) out.insert(p.at("key").get<std::string>());
    return out;
  }
  bool everywhere(const std::string& topic, const std::set<std::string>& expected) const {
    for (std::size_t i = 0; i < nodes.size(); ++i) if (keys(i, topic) != expected) return false;
    return true;
  }
};

}  // namespace

TEST_CASE("tracked on one node, listed on all three; a partition hides the far side, healing restores it") {
  // Proves replication through plexusd: meta and owner carried as is, leaves
  // after a split, and after the heal the changes made during it.
  Cluster c(3);
  const auto oa = c.open(0);
  const auto oc = c.open(2);
  CHECK(c.presence(0, {"track", oa, "room", "k1", R"({"status":"online"})"}).contains("ref"));
  c.presence(0, {"track", oa, "room", "k2"});
  c.presence(2, {"track", oc, "room", "kc", "[1,2,3]"});
  REQUIRE(eventually([&] { return c.everywhere("room", {"k1", "k2", "kc"}); }));
  const auto on_b = c.presence(1, {"get", "room", "k1"}).at("presences");
  REQUIRE(on_b.size() == 1);
  CHECK(on_b[0]["meta"] == json{{"status", "online"}});
  CHECK(on_b[0]["owner"]["node"] == "a");
  CHECK(on_b[0]["owner"]["id"].get<std::uint64_t>() == std::stoull(oa));
  CHECK(c.presence(1, {"get", "room", "kc"})["presences"][0]["meta"] == json::array({1, 2, 3}));

  const auto cut_a = c.cli.json_at(c.admin(2), {"partition", "inject", "a"}).at("ref").get<std::uint64_t>();
  const auto cut_b = c.cli.json_at(c.admin(2), {"partition", "inject", "b"}).at("ref").get<std::uint64_t>();
  REQUIRE(eventually([&] {
    return c.keys(0, "room") == std::set<std::string>{"k1", "k2"} && c.keys(1, "room") == std::set<std::string>{"k1", "k2"} &&
           c.keys(2, "room") == std::set<std::string>{"kc"};
  }));
  // Changes on both sides during the split.
  c.presence(0, {"untrack", oa, "room", "k2"});
  c.presence(0, {"track", oa, "room", "k3"});
  c.presence(2, {"update", oc, "room", "kc", R"({"status":"away"})"});
  REQUIRE(eventually([&] { return c.keys(1, "room") == std::set<std::string>{"k1", "k3"}; }));

  c.cli.json_at(c.admin(2), {"partition", "resolve", std::to_string(cut_a)});
  c.cli.json_at(c.admin(2), {"partition", "resolve", std::to_string(cut_b)});
  REQUIRE(eventually([&] { return c.everywhere("room", {"k1", "k3", "kc"}); }));
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(c.presence(i, {"get", "room", "kc"})["presences"][0]["meta"] == json{{"status", "away"}});
  }
  const auto status = c.presence(1, {"status"});
  CHECK(status["presences"] == 3);
  CHECK(status["pool_size_mismatches"] == 0);
  CHECK(status["bad_messages"] == 0);
}

TEST_CASE("an owner whose lease runs out is untracked everywhere; close untracks at once") {
  // Proves the lease timer: renew shortens/extends it, expiry closes the owner on its node and the leaves replicate.
  Cluster c(3);
  const auto o = c.open(0);
  c.presence(0, {"track", o, "lobby", "x"});
  c.presence(0, {"track", o, "lobby", "y"});
  REQUIRE(eventually([&] { return c.everywhere("lobby", {"x", "y"}); }));
  CHECK(c.presence(0, {"owners"})["owners"].size() == 1);
  CHECK(c.presence(0, {"renew", o, "--ttl-ms", "300"})["ttl_ms"] == 300);
  REQUIRE(eventually([&] { return c.everywhere("lobby", {}); }));
  CHECK(c.presence(0, {"owners"})["owners"].empty());
  const auto late = c.cli.at(c.admin(0), {"presence", "renew", o});
  CHECK(late.exit_code == 1);
  CHECK(late.err.find("HTTP 404") != std::string::npos);
  CHECK(late.err.find("unknown_owner") != std::string::npos);
  CHECK(c.presence(0, {"status"})["owners_expired"] == 1);
  const auto metrics = c.cli.at(c.admin(0), {"metrics"});
  CHECK(metrics.out.find("plexus_presence_owners_expired_total 1") != std::string::npos);

  const auto o2 = c.open(1);
  c.presence(1, {"track", o2, "lobby", "z"});
  REQUIRE(eventually([&] { return c.everywhere("lobby", {"z"}); }));
  const auto closed = c.presence(1, {"close", o2});
  CHECK(closed["untracked"] == 1);
  REQUIRE(eventually([&] { return c.everywhere("lobby", {}); }));
}

TEST_CASE("bad presence requests get a precise 4xx and change nothing") {
  // Proves each malformed or impossible request is refused with the reason, and the tracker keeps its state.
  Cluster c(1);
  const auto o = c.open(0);
  c.presence(0, {"track", o, "t", "k", R"({"status":"online"})"});

  const auto bad_meta = c.cli.at(c.admin(0), {"presence", "track", o, "t", "k2", "{not json"});
  CHECK(bad_meta.exit_code == 2);
  CHECK(bad_meta.err.find("META: not valid JSON") != std::string::npos);
  const auto unknown = c.cli.at(c.admin(0), {"presence", "track", "999", "t", "k"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("HTTP 404 unknown_owner: owner 999") != std::string::npos);
  const auto twice = c.cli.at(c.admin(0), {"presence", "track", o, "t", "k"});
  CHECK(twice.exit_code == 1);
  CHECK(twice.err.find("HTTP 409 already_tracked") != std::string::npos);
  const auto absent = c.cli.at(c.admin(0), {"presence", "untrack", o, "t", "nope"});
  CHECK(absent.err.find("HTTP 404 not_tracked") != std::string::npos);
  CHECK(c.cli.at(c.admin(0), {"presence", "update", o, "t", "nope", "{}"}).err.find("not_tracked") != std::string::npos);
  CHECK(c.cli.at(c.admin(0), {"presence", "untrack", o, "t"}).exit_code == 2);
  CHECK(c.cli.at(c.admin(0), {"presence", "close", "12345"}).err.find("unknown_owner") != std::string::npos);
  CHECK(c.cli.at(c.admin(0), {"presence", "open", "--ttl-ms", "5"}).exit_code == 2);

  // What the CLI cannot send: raw bodies, with the admin token.
  const auto token = c.cli.run({"--secret-file", c.cli.secret_file, "token"}).out.substr(0, 64);
  const auto colon = c.admin(0).rfind(':');
  httplib::Client http(c.admin(0).substr(0, colon), std::stoi(c.admin(0).substr(colon + 1)));
  http.set_bearer_token_auth(token);
  const auto post = [&](const std::string& path, const std::string& body) {
    auto response = http.Post(path, body, "application/json");
    REQUIRE(response);
    return std::pair{response->status, response->body};
  };
  const std::vector<std::tuple<std::string, std::string, int, std::string>> cases{
      {"/v1/presence/track", "{not json", 400, "body: not valid JSON"},
      {"/v1/presence/track", R"({"owner":")" + o + R"(","topic":"t","key":"k9"})", 400, "field 'owner'"},
      {"/v1/presence/track", R"({"owner":)" + o + R"(,"topic":5,"key":"k9"})", 400, "field 'topic': expected a string"},
      {"/v1/presence/track", R"({"owner":)" + o + R"(,"topic":"t"})", 400, "field 'key': required"},
      {"/v1/presence/track", R"({"owner":)" + o + R"(,"topic":"t","key":"k9","color":1})", 400, "field 'color': unknown"},
      {"/v1/presence/track", R"({"owner":)" + o + R"(,"topic":"t","key":"k9","meta":)" + std::string(40, '[') +
                                 std::string(40, ']') + "}",
       400, "field 'meta': nested deeper than 32"},
      {"/v1/presence/track", R"({"owner":)" + o + R"(,"topic":"t","key":")" + std::string(2000, 'x') + R"("})", 400,
       "field 'key': longer than 1024 bytes"},
      {"/v1/presence/untrack", R"({"owner":)" + o + R"(,"topic":"t"})", 400, "give both 'topic' and 'key'"},
      {"/v1/presence/owners", R"({"ttl_ms":-1})", 400, "field 'ttl_ms'"},
      {"/v1/presence/owners/0/renew", "{}", 400, "owner '0'"},
  };
  for (const auto& [path, body, status, reason] : cases) {
    const auto [got, answer] = post(path, body);
    CHECK_MESSAGE(got == status, path << " " << body.substr(0, 80) << " -> " << answer);
    CHECK_MESSAGE(answer.find(reason) != std::string::npos, answer);
  }
  const auto list = c.presence(0, {"list", "t"});
  REQUIRE(list["count"] == 1);
  CHECK(list["presences"][0]["key"] == "k");
  CHECK(list["presences"][0]["meta"] == json{{"status", "online"}});
  CHECK(c.presence(0, {"owners"})["owners"].size() == 1);
}

TEST_CASE("plexus presence --help and each presence subcommand's --help describe it") {
  // Proves the help is complete for the presence commands.
  Cluster c(1);
  const auto top = c.cli.run({"presence", "--help"});
  CHECK(top.exit_code == 0);
  for (const std::string sub : {"open", "renew", "close", "owners", "track", "untrack", "update", "list", "get",
                                "permdown", "status"}) {
    CHECK_MESSAGE(top.out.find(sub) != std::string::npos, sub);
    const auto help = c.cli.run({"presence", sub, "--help"});
    CHECK_MESSAGE(help.exit_code == 0, sub);
    CHECK_MESSAGE(help.out.find("Usage") != std::string::npos, sub);
  }
}

TEST_CASE("presence permdown drops this node's presences everywhere at once") {
  // Proves graceful_permdown through the CLI: the other nodes drop them without waiting for a timeout.
  Cluster c(2);
  const auto o = c.open(1);
  c.presence(1, {"track", o, "p", "gone-soon"});
  REQUIRE(eventually([&] { return c.everywhere("p", {"gone-soon"}); }));
  CHECK(c.presence(1, {"permdown"})["permdown"] == true);
  REQUIRE(eventually([&] { return c.everywhere("p", {}); }));
  const auto after = c.cli.at(c.admin(1), {"presence", "track", o, "p", "again"});
  CHECK(after.exit_code == 1);
  CHECK(after.err.find("HTTP 409 stopped") != std::string::npos);
}
