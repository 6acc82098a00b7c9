// Real plexusd processes on 127.0.0.1, driven only through the plexus CLI:
// joining, messaging through the built-in servers, partitions, restarts and
// an outsider with the wrong key.
#include "node_harness.hpp"

using namespace plexus::testing;

TEST_CASE("three nodes started with --join SPEC converge to one cluster") {
  // Proves plexusd joins by node spec and every node sees every member up on every channel.
  NamedCluster c;
  auto& a = c.start("a", {"--channel", "bulk:2"});
  c.start("b", {"--channel", "bulk:2", "--join", a.spec});
  c.start("c", {"--channel", "bulk:2", "--join", a.spec});
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "b", "c"}); }));
  const auto status = c.cli.json_at(c["b"].admin, {"status"});
  CHECK(status["members"] == 3);
  CHECK(status["up"] == json::array({"a", "c"}));
  CHECK(status["down"].empty());
  const auto members = c.cli.json_at(c["c"].admin, {"members"});
  for (const auto& m : members["members"]) {
    if (!m["self"].get<bool>()) CHECK(m["channels"].contains("bulk"));
  }
}

TEST_CASE("a message sent with --ack reaches the sink and reads back; echo replies to the sender") {
  // Proves send (forward, ack, base64) and sink read/clear through the CLI, and the echo server's reply_to rule.
  NamedCluster c;
  auto& a = c.start("a");
  auto& b = c.start("b", {"--join", a.address});
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "b"}); }));

  const auto sent = c.cli.json_at(a.admin, {"send", "b", "sink", "hello from a", "--ack"});
  CHECK(sent["status"] == "delivered");
  const auto read = c.cli.json_at(b.admin, {"sink", "read"});
  REQUIRE(read["messages"].size() == 1);
  CHECK(read["messages"][0]["payload"] == "hello from a");
  CHECK(read["messages"][0]["from"] == "a");
  CHECK(read["messages"][0]["channel"] == "default");
  CHECK(read["messages"][0]["seq"] == 1);
  CHECK(read["counters"]["received"] == 1);

  // Binary payloads travel as base64 and come back as base64.
  CHECK(c.cli.json_at(a.admin, {"send", "b", "sink", "--base64", "AP8A/w==", "--ack", "--cast"})["status"] == "delivered");
  const auto binary = c.cli.json_at(b.admin, {"sink", "read", "--after", "1"});
  REQUIRE(binary["messages"].size() == 1);
  CHECK(binary["messages"][0]["payload_base64"] == "AP8A/w==");
  CHECK(binary["messages"][0]["cast"] == true);

  CHECK(c.cli.json_at(b.admin, {"sink", "clear"})["cleared"] == 2);
  CHECK(c.cli.json_at(b.admin, {"sink", "read"})["messages"].empty());

  // echo on b sends the payload back to a's sink.
  CHECK(c.cli.json_at(a.admin, {"send", "b", "echo", R"({"reply_to": "sink", "n": 7})", "--ack"})["status"] == "delivered");
  REQUIRE(eventually([&] { return !c.cli.json_at(a.admin, {"sink", "read"})["messages"].empty(); }));
  const auto echoed = c.cli.json_at(a.admin, {"sink", "read"})["messages"][0];
  CHECK(echoed["from"] == "b");
  CHECK(json::parse(echoed["payload"].get<std::string>())["n"] == 7);

  // A send to a node that is not a member fails with the reason.
  const auto nowhere = c.cli.at(a.admin, {"send", "zed", "sink", "x"});
  CHECK(nowhere.exit_code == 1);
  CHECK(nowhere.err.find("unknown_node") != std::string::npos);
  const auto metrics = c.cli.at(a.admin, {"metrics"});
  REQUIRE(metrics.exit_code == 0);
  CHECK(metrics.out.find("plexus_messages_sent_total{peer=\"b\",channel=\"default\"}") != std::string::npos);
}

TEST_CASE("a partition injected through the CLI takes both sides down within the peer timeout, and heals") {
  // Proves partition inject/list/resolve: each side reports the other down, then up again.
  NamedCluster c;
  auto& a = c.start("a");
  auto& b = c.start("b", {"--join", a.address});
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "b"}); }));

  const auto injected_at = Clock::now();
  const auto injected = c.cli.json_at(a.admin, {"partition", "inject", "b"});
  const auto ref = injected["ref"].get<std::uint64_t>();
  // Peer timeout 1000 ms; the rest of the bound is for CLI polling on a loaded machine.
  REQUIRE(eventually([&] { return !members_up(c.cli, a.admin)["b"] && !members_up(c.cli, b.admin)["a"]; }, Millis(4000)));
  const auto took = std::chrono::duration_cast<Millis>(Clock::now() - injected_at);
  MESSAGE("both sides down after " << took.count() << " ms (peer timeout 1000 ms)");
  const auto listed = c.cli.json_at(a.admin, {"partition", "list"});
  REQUIRE(listed["partitions"].size() == 1);
  CHECK(listed["partitions"][0]["node"] == "b");
  CHECK(listed["partitions"][0]["direction"] == "both");

  CHECK(c.cli.json_at(a.admin, {"partition", "resolve", std::to_string(ref)})["resolved"] == ref);
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "b"}); }));
  CHECK(c.cli.json_at(a.admin, {"partition", "list"})["partitions"].empty());
  const auto again = c.cli.at(a.admin, {"partition", "resolve", std::to_string(ref)});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("HTTP 404") != std::string::npos);
}

TEST_CASE("a node restarted with its data dir rejoins without --join") {
  // Proves membership persistence end to end: stop b gracefully, start it again with only its data dir.
  NamedCluster c;
  auto& a = c.start("a", {"--data-dir", (c.dir.path / "a").string()});
  const std::vector<std::string> b_args{"--data-dir", (c.dir.path / "b").string()};
  auto with_join = b_args;
  with_join.insert(with_join.end(), {"--join", a.address});
  c.start("b", with_join);
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "b"}); }));

  CHECK(c["b"].stop() == 0);
  REQUIRE(eventually([&] { return !members_up(c.cli, a.admin)["b"]; }));
  auto& b = c.start("b", b_args);
  REQUIRE(eventually([&] { return all_up(c.cli, c.all(), {"a", "b"}); }));
  CHECK(b.log_contains("rejoining 1 members"));
}

TEST_CASE("a node with the wrong cluster key is refused and the logs say why") {
  // Proves the handshake keeps an outsider out: neither side takes the other as a member, the
  // outsider's failed join is logged, and the side that checked the other's proof first logs
  // "wrong cluster key" and counts auth_failed (which side that is depends on timing: the
  // first to fail closes the connection, and the other may only see the close).
  NamedCluster c;
  auto& a = c.start("a");
  const auto other_key = new_key(c.cli, c.dir.path, "other.key");
  auto mallory = NodeProcess::start({"--name", "mallory", "--secret-file", other_key, "--join", a.address});
  REQUIRE(eventually([&] { return mallory->log_contains("join " + a.address + ": "); }));
  REQUIRE(eventually([&] { return a.log_contains("wrong cluster key") || mallory->log_contains("wrong cluster key"); }));
  INFO("a: " << a.log() << "\nmallory: " << mallory->log());
  CHECK(members_up(c.cli, a.admin).size() == 1);
  Cli outsider{other_key};
  CHECK(members_up(outsider, mallory->admin).size() == 1);
  const auto refusals = [](const std::string& metrics) {
    const std::string name = "plexus_handshake_rejections_total{reason=\"auth_failed\"} ";
    const auto at = metrics.find(name);
    return at == std::string::npos ? 0 : std::stoi(metrics.substr(at + name.size()));
  };
  CHECK(refusals(c.cli.at(a.admin, {"metrics"}).out) + refusals(outsider.at(mallory->admin, {"metrics"}).out) >= 1);
}
