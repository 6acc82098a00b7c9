// The durable lifecycle event log of a real plexusd (--tenants), read only
// through the plexus CLI (and raw HTTP for a malformed query): install,
// update and uninstall of a counter tenant are logged in order with their
// idempotency keys; a long poll waits for the next event and wakes when it
// is logged; after a graceful restart the same events are read again from
// seq 0 (the log lives in the tenant datastore's LMDB files), also as a
// bounded --follow.
#include <httplib.h>

#include <future>
#include <sstream>

#include "node_harness.hpp"

using namespace plexus::testing;

namespace {

struct Node {
  TempDir dir;
  Cli cli;
  std::unique_ptr<NodeProcess> process;

  Node() { cli.secret_file = new_key(cli, dir.path); }
  void start() {
    std::vector<std::string> args{"--name", "a", "--secret-file", cli.secret_file, "--data-dir", (dir.path / "a").string(),
                                  "--tenants", "--tenant-stable-after-ms", "200", "--tenant-events-keep", "100"};
    for (const auto& a : fast_timers()) args.push_back(a);
    process = NodeProcess::start(args);
  }
  CommandResult tenant(std::vector<std::string> args) const {
    args.insert(args.begin(), "tenant");
    return cli.at(process->admin, args);
  }
  json events(std::uint64_t after, int wait_ms = 0) const {
    const auto r = tenant({"events", "--after", std::to_string(after), "--wait-ms", std::to_string(wait_ms)});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return json::parse(r.out);
  }
  /// Every event logged, once `count` are there (long polls, bounded by a deadline).
  json all_events(std::size_t count) const {
    json seen = json::array();
    std::uint64_t after = 0;
    eventually([&] {
      const auto page = events(after, 1000);
      for (const auto& e : page.at("events")) seen.push_back(e);
      after = page.at("next").get<std::uint64_t>();
      return seen.size() >= count;
    }, Millis(15'000));
    return seen;
  }
};

void ok_command(const Node& n, std::vector<std::string> args) {
  const auto r = n.tenant(std::move(args));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(json::parse(r.out).at("outcome") == "ok");
}

}  // namespace

TEST_CASE("install, update, uninstall are logged in order with idempotency keys, long-polled, and kept across a restart") {
  // Proves the event log is complete, ordered, wakes long polls, and is durable across a node restart.
  Node n;
  n.start();
  ok_command(n, {"install", "counter", "t1", "--deadline-ms", "10000"});
  ok_command(n, {"update", "t1", "--config", R"({"step":2})", "--deadline-ms", "10000"});
  ok_command(n, {"uninstall", "t1", "--deadline-ms", "10000"});
  const auto logged = n.all_events(3);
  REQUIRE(logged.size() == 3);
  const std::vector<std::string> kinds{"install", "update", "uninstall"};
  std::set<std::string> keys;
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(logged[i].at("seq") == i + 1);
    CHECK(logged[i].at("tenant") == "t1");
    CHECK(logged[i].at("kind") == kinds[i]);
    CHECK(logged[i].at("ok") == true);
    const auto key = logged[i].at("key").get<std::string>();
    CHECK(key.starts_with("t1:"));
    keys.insert(key);
  }
  CHECK(keys.size() == 3);

  // Nothing after 3: the long poll waits its wait_ms, then answers empty.
  const auto start = std::chrono::steady_clock::now();
  const auto empty = n.events(3, 300);
  CHECK(empty.at("events").empty());
  CHECK(empty.at("next") == 3);
  CHECK(std::chrono::steady_clock::now() - start >= Millis(300));

  // A waiting poll wakes when the next event is logged, long before its wait_ms.
  auto waiting = std::async(std::launch::async, [&n] { return n.events(3, 20'000); });
  ok_command(n, {"install", "counter", "t2", "--deadline-ms", "10000"});
  REQUIRE(waiting.wait_for(std::chrono::seconds(15)) == std::future_status::ready);
  const auto woke = waiting.get();
  REQUIRE(woke.at("events").size() == 1);
  CHECK(woke.at("events")[0].at("tenant") == "t2");
  CHECK(woke.at("events")[0].at("seq") == 4);

  httplib::Client http("http://" + n.process->admin);
  http.set_bearer_token_auth(n.cli.run({"--secret-file", n.cli.secret_file, "token"}).out.substr(0, 64));
  const auto bad = http.Get("/v1/tenants/events?after=x");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(bad->body.find("after") != std::string::npos);

  REQUIRE(n.process->stop() == 0);
  n.start();
  const auto again = n.events(0);
  REQUIRE(again.at("events").size() >= 4);
  for (std::size_t i = 0; i < 3; ++i) CHECK(again.at("events")[i] == logged[i]);  // the same seqs, keys, times
  CHECK(again.at("events")[3].at("key") == woke.at("events")[0].at("key"));

  // --follow prints one event per line from --after on and ends at --count; unbounded it is refused.
  const auto followed = n.tenant({"events", "--follow", "--after", "1", "--count", "3", "--seconds", "10"});
  REQUIRE_MESSAGE(followed.exit_code == 0, followed.err);
  std::vector<json> lines;
  std::istringstream text(followed.out);
  for (std::string line; std::getline(text, line) && lines.size() < 10;) lines.push_back(json::parse(line));
  REQUIRE(lines.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(lines[i] == again.at("events")[i + 1]);
  CHECK(n.tenant({"events", "--follow"}).exit_code == 2);
}
