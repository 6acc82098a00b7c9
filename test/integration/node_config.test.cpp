// plexusd configuration as an operator meets it: every bad setting is one
// line on stderr naming the problem, exit code 2 and no ready line; a config
// file works and flags override it.
#include <fstream>

#include "node_harness.hpp"

using namespace plexus::testing;

namespace {

struct Setup {
  TempDir dir;
  Cli cli;
  Setup() { cli.secret_file = new_key(cli, dir.path); }

  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir.path / name) << text;
    return dir.path / name;
  }
  CommandResult plexusd(std::vector<std::string> args) const {
    args.insert(args.begin(), binary("PLEXUSD"));
    return run_command(args);
  }
  std::vector<std::string> base(const std::string& name = "n1") const {
    return {"--name", name, "--secret-file", cli.secret_file};
  }
};

void check_refused(const CommandResult& result, const std::string& named) {
  INFO("stderr: " << result.err);
  CHECK(result.exit_code == 2);
  CHECK(result.out.empty());
  CHECK(line_count(result.err) == 1);
  CHECK(result.err.starts_with("plexusd: "));
  CHECK(result.err.find(named) != std::string::npos);
}

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("an unknown key in the config file is refused, naming the key") {
  // Proves a typo in the file stops plexusd with one line that names the key.
  Setup s;
  const auto file = s.write("node.json", R"({"name": "n1", "secret_file": "cluster.key", "colour": "red"})");
  check_refused(s.plexusd({"--config", file.string()}), "unknown key 'colour'");
  check_refused(s.plexusd({"--config", s.write("bad.json", "{").string()}), "not valid JSON");
  check_refused(s.plexusd({"--config", (s.dir.path / "absent.json").string()}), "absent.json");
}

TEST_CASE("bad addresses are refused, naming the flag") {
  // Proves --listen, --admin and --join check their addresses before anything starts.
  Setup s;
  check_refused(s.plexusd(plus(s.base(), {"--listen", "127.0.0.1:99999"})), "--listen");
  check_refused(s.plexusd(plus(s.base(), {"--admin", "localhost:80"})), "--admin");
  check_refused(s.plexusd(plus(s.base(), {"--join", "nowhere"})), "--join");
  check_refused(s.plexusd(plus(s.base(), {"--join", R"({"name": "x", "extra": 1})"})), "--join");
}

TEST_CASE("a missing or unsafe key file is refused, naming the file") {
  // Proves the key file is read and checked at start.
  Setup s;
  const auto missing = (s.dir.path / "missing.key").string();
  check_refused(s.plexusd({"--name", "n1", "--secret-file", missing}), "missing.key");
  const auto open_key = s.write("open.key", std::string(64, 'a'));
  fs::permissions(open_key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  check_refused(s.plexusd({"--name", "n1", "--secret-file", open_key.string()}), "--secret-file");
  check_refused(s.plexusd({"--name", "n1"}), "--secret-file");
  check_refused(s.plexusd({"--secret-file", s.cli.secret_file}), "--name");
}

TEST_CASE("a port in use is refused for both the peer and the admin address") {
  // Proves a second node cannot take a port already bound, and says which.
  Setup s;
  auto first = NodeProcess::start(s.base("first"));
  check_refused(s.plexusd(plus(s.base(), {"--listen", first->address})), "Address already in use");
  check_refused(s.plexusd(plus(s.base(), {"--admin", first->admin})), "--admin");
  const auto admin_taken = s.plexusd(plus(s.base(), {"--admin", first->admin}));
  CHECK(admin_taken.err.find("in use") != std::string::npos);
}

TEST_CASE("an unusable data dir is refused, naming it") {
  // Proves --data-dir is checked: a plain file, and a corrupt membership file inside.
  Setup s;
  const auto file = s.write("not-a-dir", "x");
  check_refused(s.plexusd(plus(s.base(), {"--data-dir", file.string()})), "not a directory");
  fs::create_directories(s.dir.path / "data");
  s.write("data/membership.json", "{ not json");
  check_refused(s.plexusd(plus(s.base(), {"--data-dir", (s.dir.path / "data").string()})), "membership.json");
}

TEST_CASE("bad values and unknown flags are refused in one line") {
  // Proves timers, channels, log options and unknown flags are checked up front.
  Setup s;
  check_refused(s.plexusd(plus(s.base(), {"--heartbeat-ms", "500", "--peer-timeout-ms", "600"})), "--peer-timeout-ms");
  check_refused(s.plexusd(plus(s.base(), {"--channel", "bulk:0"})), "--channel");
  check_refused(s.plexusd(plus(s.base(), {"--source-address", "not-an-ip"})), "--source-address");
  check_refused(s.plexusd(plus(s.base(), {"--log-format", "xml"})), "--log-format");
  check_refused(s.plexusd(plus(s.base(), {"--log-level", "loud"})), "--log-level");
  check_refused(s.plexusd(plus(s.base(), {"--colour", "red"})), "--colour");
}

TEST_CASE("a config file starts a node and flags given on the command line override it") {
  // Proves the JSON file is equivalent to the flags, with flags winning, and JSON logs are JSON.
  Setup s;
  const auto file = s.write("node.json", R"({"name": "from-file", "secret_file": "cluster.key",
      "channels": ["bulk:3"], "log_format": "json", "heartbeat_ms": 100, "peer_timeout_ms": 1000})");
  auto node = NodeProcess::start({"--config", file.string(), "--name", "from-flag"});
  CHECK(node->ready["spec"]["name"] == "from-flag");
  CHECK(node->ready["spec"]["channels"]["bulk"]["parallelism"] == 3);
  CHECK(s.cli.json_at(node->admin, {"spec"})["name"] == "from-flag");
  REQUIRE(eventually([&] { return node->log_contains("\n"); }));
  const auto first_line = node->log().substr(0, node->log().find('\n'));
  const auto parsed = json::parse(first_line, nullptr, false);
  REQUIRE_MESSAGE(parsed.is_object(), first_line);
  CHECK(parsed["node"] == "from-flag");
  CHECK(parsed.contains("level"));
  CHECK(node->stop() == 0);
}

TEST_CASE("docs/operations.md's option tables are exactly what plexusd --options-markdown prints") {
  // Proves the configuration reference cannot drift from the option tables: regenerate it with
  // plexusd --options-markdown between the doc's markers when an option changes.
  const Setup setup;
  const auto printed = setup.plexusd({"--options-markdown"});
  REQUIRE(printed.exit_code == 0);
  CHECK(printed.out.find("`--heartbeat-ms` / `heartbeat_ms` | `500` | 1..60000 ms |") != std::string::npos);
  std::ifstream in(binary("PLEXUS_OPERATIONS_DOC"));
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- options:begin (generated by plexusd --options-markdown) -->\n\n";
  const std::string end = "<!-- options:end -->";
  const auto from = doc.find(begin);
  const auto to = doc.find(end);
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  CHECK(doc.substr(from + begin.size(), to - from - begin.size()) == printed.out);
}
