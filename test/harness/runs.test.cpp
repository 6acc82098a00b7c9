// plexus-harness end to end: real plexusd processes under each kind of
// fault give the verdict they should, a node built to break exactly-once
// makes the acked checker fail (exit 1), Ctrl-C leaves no process behind,
// and report.html draws its timeline in headless Chromium without errors.
// Binaries and the scenario library come in through the environment.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <algorithm>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "plexus/core/fault.hpp"
#include "tools/common/process.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE_MESSAGE(v != nullptr, name << " is not set (run through meson test)");
  return v;
}

fs::path fresh_dir(const std::string& name) {
  std::string tmpl = (fs::temp_directory_path() / ("plexus-harness-test-" + name + "-XXXXXX")).string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Run {
  int exit_code = -1;
  fs::path out;
  json report;
  std::vector<json> history;
  std::string stdout_text;
};

Run run_scenario(const std::string& scenario, std::uint64_t seed) {
  Run r;
  r.out = fresh_dir(scenario) / "out";
  const std::string command = env("PLEXUS_HARNESS") + " run " + env("PLEXUS_SCENARIOS") + "/" + scenario + ".json --seed " +
                              std::to_string(seed) + " --out " + r.out.string() + " --plexusd " + env("PLEXUSD") + " > " +
                              r.out.string() + ".stdout 2>&1";
  const int status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  r.exit_code = WEXITSTATUS(status);
  r.stdout_text = read_all(r.out.string() + ".stdout");
  MESSAGE(r.stdout_text);
  r.report = json::parse(read_all(r.out / "report.json"));
  std::ifstream h(r.out / "history.jsonl");
  for (std::string line; std::getline(h, line);) r.history.push_back(json::parse(line));
  return r;
}

std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of('\n');
  auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

void check_common(const Run& r) {
  const auto& c = r.report["checkers"];
  CHECK(c["membership"]["liveness"] == true);
  CHECK(c["membership"]["figures"]["detected"].get<int>() > 0);
  CHECK(c["acked"]["figures"]["lost"] == 0);
  CHECK(c["acked"]["figures"]["duplicated"] == 0);
  CHECK(c["acked"]["figures"]["ok"].get<int>() > 10);
  // History: monotonic timestamps, invokes with outcomes, nemesis steps.
  double t = 0;
  std::size_t invokes = 0, outcomes = 0, nemesis = 0;
  for (const auto& e : r.history) {
    CHECK(e["t_ms"].get<double>() >= t);
    t = e["t_ms"].get<double>();
    const std::string type = e["type"];
    invokes += type == "invoke";
    outcomes += type == "ok" || type == "fail" || type == "info";
    nemesis += type == "nemesis";
  }
  CHECK(invokes > 0);
  CHECK(invokes == outcomes);
  CHECK(nemesis >= 2);
  CHECK(fs::file_size(r.out / "logs" / "n1.log") > 0);
  CHECK(r.report["seed"].is_number());
  CHECK(!r.report["commit"].get<std::string>().empty());
}

std::vector<json> events(const Run& r, const std::string& type) {
  std::vector<json> out;
  for (const auto& e : r.history) if (e["type"] == type) out.push_back(e);
  return out;
}

// Chromium draws report.html: no script error, and the timeline's faults, lanes and ops are there.
void check_renders(const fs::path& html) {
  const fs::path dom = html.parent_path() / "dom.html";
  const std::string command = "timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom file://" + html.string() +
                              " > " + dom.string() + " 2> " + dom.string() + ".stderr";
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, read_all(dom.string() + ".stderr"));
  const std::string text = read_all(dom);
  CHECK(text.find("data-state=\"ok\"") != std::string::npos);
  CHECK(text.find("data-state=\"error\"") == std::string::npos);
  CHECK(text.find("class=\"fault\"") != std::string::npos);
  CHECK(text.find("class=\"lane\"") != std::string::npos);
  CHECK(text.find("class=\"op\"") != std::string::npos);
  CHECK(text.find("class=\"latency\"") != std::string::npos);
  CHECK(text.find("http://") == text.find("http://www.w3.org/2000/svg"));  // no other network address
}

// plexusd processes whose command line names this run's directory.
std::size_t running_nodes(const fs::path& out) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string cmdline = read_all(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(out.string() + "/") != std::string::npos && cmdline.find("plexusd") != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("halves + heal: valid, with detection, convergence and a page that draws") {
  const Run r = run_scenario("halves-heal", 1);
  CHECK(r.exit_code == 0);
  check_common(r);
  CHECK(r.report["checkers"]["causal"]["valid"] == true);
  CHECK(r.report["checkers"]["causal"]["figures"]["ordered_pairs_checked"].get<int>() > 0);
  CHECK(last_line(r.stdout_text).starts_with("report: "));
  check_renders(r.out / "report.html");
}

TEST_CASE("presence + halves + heal: set-full valid, the partition seen in the reads, final lists equal") {
  const Run r = run_scenario("presence-halves", 3);
  CHECK(r.exit_code == 0);
  const auto& p = r.report["checkers"]["presence"];
  CHECK(p["valid"] == true);
  const auto& f = p["figures"];
  CHECK(f["ok"].get<int>() > 30);
  CHECK(f["lost"] == 0);
  CHECK(f["final_differences"] == 0);
  CHECK(f["stable"].get<int>() > 5);
  CHECK(f["final_reads"].get<int>() == 4 * 3);  // every node, every topic
  CHECK(f["stable_latency_ms"]["1"].is_number());
  CHECK(r.report["checkers"]["membership"]["liveness"] == true);
  // History: every presence invoke has an outcome; reads on every node; owners opened on every node.
  std::size_t invokes = 0, outcomes = 0;
  std::set<std::string> read_nodes, owner_nodes;
  for (const auto& e : r.history) {
    if (e.value("f", "") != "presence") continue;
    invokes += e["type"] == "invoke";
    outcomes += e["type"] == "ok" || e["type"] == "fail" || e["type"] == "info";
    if (e["type"] == "read") read_nodes.insert(e["node"].get<std::string>());
  }
  for (const auto& e : events(r, "owner")) owner_nodes.insert(e["node"].get<std::string>());
  CHECK(invokes == outcomes);
  CHECK(read_nodes.size() == 4);
  CHECK(owner_nodes.size() == 4);
  CHECK(read_all(r.out / "report.html").find("id=presence") != std::string::npos);
  check_renders(r.out / "report.html");
}

TEST_CASE("one-way partition: transitive sends across the cut are relayed and delivered") {
  const Run r = run_scenario("one-way-transitive", 7);
  CHECK(r.exit_code == 0);
  check_common(r);
  const auto cuts = events(r, "nemesis");
  REQUIRE(!cuts.empty());
  const json cut = cuts.front();
  REQUIRE(cut["action"] == "cut");
  REQUIRE(cut["grudge"].size() == 1);
  const std::string from = cut["grudge"][0]["node"], to = cut["grudge"][0]["peer"];
  CHECK(cut["grudge"][0]["direction"] == "outbound");
  // Acked sends from the cut node to its victim, made while the cut held, were acknowledged.
  double heal_at = 1e18;
  for (const auto& e : cuts) if (e["action"] == "heal") heal_at = std::min(heal_at, e["t_ms"].get<double>());
  std::set<std::uint64_t> across;
  for (const auto& e : r.history) {
    if (e["type"] == "invoke" && e["f"] == "acked" && e["from"] == from && e["to"] == to &&
        e["t_ms"].get<double>() > cut["t_ms"].get<double>() + 100 && e["t_ms"].get<double>() < heal_at) {
      across.insert(e["op"].get<std::uint64_t>());
    }
  }
  CHECK(across.size() > 3);
  std::size_t ok = 0, delivered = 0;
  for (const auto& e : r.history) {
    if (!e.contains("op") || !across.count(e["op"].get<std::uint64_t>())) continue;
    ok += e["type"] == "ok";
    delivered += e["type"] == "delivered";
  }
  CHECK(ok == across.size());
  CHECK(delivered == across.size());
}

TEST_CASE("kill -9 and restart with the same data dir: a new incarnation rejoins, nothing acked is lost") {
  const Run r = run_scenario("kill-restart", 7);
  CHECK(r.exit_code == 0);
  check_common(r);
  std::map<std::string, std::set<std::string>> instances;
  std::size_t kills = 0, restarts = 0;
  for (const auto& e : events(r, "process")) {
    instances[e["node"]].insert(e["instance"].get<std::string>());
    kills += e["event"] == "killed";
    restarts += e["event"] == "restarted";
  }
  CHECK(kills >= 1);
  CHECK(restarts == kills);
  const bool some_node_restarted = std::any_of(instances.begin(), instances.end(), [](const auto& p) { return p.second.size() > 1; });
  CHECK(some_node_restarted);
}

TEST_CASE("pause: SIGSTOP longer than the peer timeout is detected, SIGCONT recovers") {
  const Run r = run_scenario("pause", 7);
  CHECK(r.exit_code == 0);
  check_common(r);
  std::size_t paused = 0, resumed = 0;
  for (const auto& e : events(r, "process")) {
    paused += e["event"] == "paused";
    resumed += e["event"] == "resumed";
  }
  CHECK(paused >= 1);
  CHECK(resumed == paused);
}

TEST_CASE("churn: a node leaves, exits, comes back as a new member, and the cluster converges") {
  const Run r = run_scenario("churn", 2);
  CHECK(r.exit_code == 0);
  CHECK(r.report["checkers"]["membership"]["liveness"] == true);
  CHECK(r.report["checkers"]["acked"]["figures"]["lost"] == 0);
  std::map<std::string, std::string> left;
  std::size_t rejoined = 0;
  for (const auto& e : events(r, "process")) {
    if (e["event"] == "left") left[e["node"]] = e["instance"];
    if (e["event"] == "rejoined") {
      REQUIRE(left.count(e["node"]));
      CHECK(left[e["node"]] != e["instance"]);  // a new incarnation
      ++rejoined;
    }
  }
  CHECK(rejoined >= 1);
  CHECK(rejoined == left.size());
}

TEST_CASE("a node built without dedupe makes the acked checker fail: exit 1, replay command last") {
  // The switch exists only in builds with fault points (peer::TestHooks).
  if (!plexus::fault::compiled_in) return;
  const Run r = run_scenario("broken-dedupe", 3);
  CHECK(r.exit_code == 1);
  const auto& acked = r.report["checkers"]["acked"];
  CHECK(acked["valid"] == false);
  CHECK(acked["figures"]["duplicated"].get<int>() > 0);
  CHECK(r.report["checkers"]["membership"]["valid"] == true);
  const std::string last = last_line(r.stdout_text);
  CHECK(last.starts_with("replay: "));
  CHECK(last.find(" --seed 3 ") != std::string::npos);
  CHECK(last.find("broken-dedupe.json") != std::string::npos);
}

TEST_CASE("Ctrl-C: exit 2 and no plexusd left running") {
  const fs::path out = fresh_dir("interrupt") / "out";
  auto child = plexus::tools::Child::spawn({env("PLEXUS_HARNESS"), "run", env("PLEXUS_SCENARIOS") + "/halves-heal.json",
                                           "--seed", "5", "--duration-s", "30", "--out", out.string(), "--plexusd", env("PLEXUSD")});
  REQUIRE(child.ok());
  // Wait (with a deadline) until the fault phase began: every node is up by then.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (read_all(out / "history.jsonl").find("\"phase\":\"faults\"") == std::string::npos) {
    REQUIRE(std::chrono::steady_clock::now() < until);
    REQUIRE_FALSE(child->try_wait());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a file with a deadline
  }
  CHECK(running_nodes(out) == 4);  // halves-heal runs 4 nodes
  child->signal(SIGINT);
  std::optional<int> status;
  const auto stop_until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!(status = child->try_wait()) && std::chrono::steady_clock::now() < stop_until) {
    char buffer[4096];
    while (::read(child->stdout_fd(), buffer, sizeof buffer) > 0 && !child->try_wait()) {}  // keep the pipe drained
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 2);
  CHECK(running_nodes(out) == 0);
}
