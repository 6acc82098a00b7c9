// The plexus CLI against a real plexusd: the token, error reporting (401,
// 400 naming the field, unreachable node), help for every command, and the
// membership commands (update-members, leave), and the bound on requests
// waiting for an outcome.
#include <fstream>
#include <future>

#include "node_harness.hpp"

using namespace plexus::testing;

namespace {

struct Setup {
  TempDir dir;
  Cli cli;
  Setup() { cli.secret_file = new_key(cli, dir.path); }
  std::unique_ptr<NodeProcess> node(const std::string& name, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"--name", name, "--secret-file", cli.secret_file};
    for (const auto& a : fast_timers()) args.push_back(a);
    args.insert(args.end(), extra.begin(), extra.end());
    return NodeProcess::start(args);
  }
};

}  // namespace

TEST_CASE("admin calls without the right token get 401") {
  // Proves the admin API refuses a missing or wrong bearer token, and a token file works.
  Setup s;
  auto a = s.node("a");
  const auto none = s.cli.run({"--admin", a->admin, "spec"});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("HTTP 401") != std::string::npos);
  CHECK(none.err.find("unauthorized") != std::string::npos);

  const auto wrong_key = new_key(s.cli, s.dir.path, "wrong.key");
  const auto wrong = s.cli.run({"--admin", a->admin, "--secret-file", wrong_key, "metrics"});
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("HTTP 401") != std::string::npos);

  const auto token = s.cli.run({"--secret-file", s.cli.secret_file, "token"});
  REQUIRE(token.exit_code == 0);
  std::ofstream(s.dir.path / "admin.token") << token.out;
  const auto with_token = s.cli.run({"--admin", a->admin, "--token-file", (s.dir.path / "admin.token").string(), "spec"});
  REQUIRE_MESSAGE(with_token.exit_code == 0, with_token.err);
  CHECK(json::parse(with_token.out)["name"] == "a");
}

TEST_CASE("malformed requests get 400 naming the field") {
  // Proves bad input is refused with the field named, never half-applied.
  Setup s;
  auto a = s.node("a");
  const auto bad_spec = s.cli.at(a->admin, {"join", R"({"name": "x", "listen_addrs": [], "bogus": 1})"});
  CHECK(bad_spec.exit_code == 1);
  CHECK(bad_spec.err.find("HTTP 400") != std::string::npos);
  CHECK(bad_spec.err.find("bogus") != std::string::npos);
  const auto bad_address = s.cli.at(a->admin, {"join", "127.0.0.1:0"});
  CHECK(bad_address.exit_code == 1);
  CHECK(bad_address.err.find("'address'") != std::string::npos);
  const auto bad_list = s.cli.at(a->admin, {"update-members", R"([{"name": "y", "instance_id": "zz"}])"});
  CHECK(bad_list.exit_code == 1);
  CHECK(bad_list.err.find("specs[0]") != std::string::npos);
  CHECK(s.cli.json_at(a->admin, {"members"})["members"].size() == 1);
}

TEST_CASE("an unreachable node is one clear line and exit code 3") {
  // Proves the CLI tells a dead or wrong address apart from a refused request.
  Setup s;
  const auto result = s.cli.at("127.0.0.1:1", {"status"});
  CHECK(result.exit_code == 3);
  CHECK(line_count(result.err) == 1);
  CHECK(result.err.find("cannot reach the admin API at 127.0.0.1:1") != std::string::npos);
  const auto no_admin = s.cli.run({"--secret-file", s.cli.secret_file, "status"});
  CHECK(no_admin.exit_code == 2);
  CHECK(no_admin.err.find("--admin") != std::string::npos);
}

TEST_CASE("plexus --help and every subcommand's --help describe it") {
  // Proves the help is complete: each command answers --help with its usage and exit 0.
  Setup s;
  const auto top = s.cli.run({"--help"});
  CHECK(top.exit_code == 0);
  const std::vector<std::vector<std::string>> commands{
      {"keygen"}, {"token"}, {"spec"}, {"members"}, {"status"}, {"health"}, {"state"}, {"metrics"},
      {"capability"}, {"join"}, {"leave"}, {"update-members"}, {"connect"}, {"reserve"}, {"partitions"},
      {"partition"}, {"partition", "inject"}, {"partition", "resolve"}, {"partition", "list"}, {"send"},
      {"sink"}, {"sink", "read"}, {"sink", "clear"}};
  for (const auto& command : commands) {
    if (command.size() == 1) CHECK_MESSAGE(top.out.find(command[0]) != std::string::npos, command[0]);
    auto args = command;
    args.push_back("--help");
    const auto help = s.cli.run(args);
    CHECK_MESSAGE(help.exit_code == 0, command[0]);
    CHECK_MESSAGE(help.out.find("Usage") != std::string::npos, command[0]);
  }
  CHECK(s.cli.run({"send", "--help"}).out.find("--partition-key") != std::string::npos);
}

TEST_CASE("update-members and leave change the membership through the CLI") {
  // Proves update-members joins and removes by spec, leave NODE removes another node, and leave stops this node.
  Setup s;
  auto a = s.node("a");
  auto b = s.node("b");
  auto c = s.node("c");
  const auto updated = s.cli.at(a->admin, {"update-members", b->spec, c->spec});
  REQUIRE_MESSAGE(updated.exit_code == 0, updated.err);
  REQUIRE(eventually([&] { return all_up(s.cli, {a.get(), b.get(), c.get()}, {"a", "b", "c"}); }));
  CHECK(s.cli.json_at(a->admin, {"leave", "c"})["removed"] == "c");
  REQUIRE(eventually([&] { return all_up(s.cli, {a.get(), b.get()}, {"a", "b"}); }));
  CHECK(c->stop() == 0);  // a removed node stops by itself; stop() reaps it
  CHECK(c->log_contains("removed"));
  CHECK(s.cli.json_at(b->admin, {"leave"})["left"] == "b");
  REQUIRE(eventually([&] { return all_up(s.cli, {a.get()}, {"a"}); }));
  CHECK(b->stop() == 0);
  const auto pretty = s.cli.at(a->admin, {"--pretty", "status"});
  CHECK(line_count(pretty.out) > 3);
}

TEST_CASE("acked sends waiting for an outcome cannot take every admin thread") {
  // Proves a fourth waiting request gets 429 without sending anything, and
  // other requests are still served while three acked sends wait.
  Setup s;
  auto a = s.node("a");
  auto b = s.node("b");
  REQUIRE(s.cli.at(a->admin, {"update-members", b->spec}).exit_code == 0);
  REQUIRE(eventually([&] { return all_up(s.cli, {a.get(), b.get()}, {"a", "b"}); }));
  REQUIRE(s.cli.at(a->admin, {"partition", "inject", "b", "--direction", "outbound"}).exit_code == 0);
  const auto acked_send = [&](const std::string& timeout_ms) {
    return s.cli.at(a->admin, {"send", "b", "sink", "held", "--ack", "--timeout-ms", timeout_ms});
  };
  std::vector<std::future<CommandResult>> waiting;
  for (int i = 0; i < 3; ++i) waiting.push_back(std::async(std::launch::async, acked_send, "4000"));
  const auto entries = [&] { return s.cli.json_at(a->admin, {"status"})["ack_table_entries"].get<int>(); };
  REQUIRE(eventually([&] { return entries() == 3; }, Millis(3000)));

  const auto refused = acked_send("4000");
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("HTTP 429") != std::string::npos);
  CHECK(refused.err.find("too_many_waits") != std::string::npos);
  CHECK(entries() == 3);  // nothing was sent for it
  CHECK(s.cli.json_at(a->admin, {"spec"})["name"] == "a");

  for (auto& w : waiting) {
    const auto result = w.get();
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("HTTP 504") != std::string::npos);
  }
  const auto later = acked_send("100");  // the waits are over: accepted again
  CHECK(later.err.find("HTTP 504") != std::string::npos);
}
