// plexus-harness's net fault mode end to end: a short scenario whose halves
// are cut by nftables (packets dropped, no RST) is valid, sees the partition
// and converges after the heal; a stale table left by a crashed run is
// removed at start; Ctrl-C in the middle of a net fault leaves no table and
// no process behind. Without root or a working nft the whole program skips
// (exit 77, the reason printed), never passes silently.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tools/common/process.hpp"
#include "tools/harness/netfilter.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int exit_skip = 77;  // meson: the test was skipped

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

std::vector<json> history_of(const fs::path& out) {
  std::vector<json> events;
  std::ifstream h(out / "history.jsonl");
  for (std::string line; std::getline(h, line);) events.push_back(json::parse(line));
  return events;
}

// A table by the harness's name holding a rule that would cut n1 (127.0.0.2) from n2: what a crashed net run leaves.
void leave_stale_table() {
  const std::string t = std::string("inet ") + plexus::harness::net_table;
  const std::string command = "nft add table " + t + " && nft 'add chain " + t +
                              " input { type filter hook input priority 0; policy accept; }' && nft add rule " + t +
                              " input ip saddr 127.0.0.2 ip daddr 127.0.0.3 drop";
  REQUIRE(std::system(command.c_str()) == 0);
  REQUIRE(plexus::harness::net_table_exists());
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

TEST_CASE("net drop halves + heal: valid, detected, converged; a stale table is replaced and none is left") {
  const fs::path out = fresh_dir("net-halves") / "out";
  const std::string command = env("PLEXUS_HARNESS") + " run " + env("PLEXUS_SCENARIOS") + "/net-halves-heal.json --seed 11 --out " +
                              out.string() + " --plexusd " + env("PLEXUSD") + " > " + out.string() + ".stdout 2>&1";
  leave_stale_table();  // only once nothing can stop the run from starting (and removing it)
  const int status = std::system(command.c_str());
  MESSAGE(read_all(out.string() + ".stdout"));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_FALSE(plexus::harness::net_table_exists());
  const json report = json::parse(read_all(out / "report.json"));
  const auto& c = report["checkers"];
  CHECK(c["acked"]["valid"] == true);
  CHECK(c["causal"]["valid"] == true);
  CHECK(c["acked"]["figures"]["lost"] == 0);
  CHECK(c["membership"]["liveness"] == true);
  CHECK(c["membership"]["figures"]["detected"].get<int>() > 0);  // the cut was real: peers went down
  std::size_t cuts = 0;
  for (const auto& e : history_of(out)) {
    if (e["type"] != "nemesis" || !e.contains("action")) continue;
    CHECK_FALSE(e.contains("errors"));
    if (e["action"] == "cut") {
      ++cuts;
      CHECK(e["mode"] == "net drop");
      CHECK(e["fault"] == "partition:halves (net drop)");
    }
  }
  CHECK(cuts > 0);
  // The last script applied is the heal: an empty chain.
  CHECK(read_all(out / "nftables.nft") == std::string("flush chain inet ") + plexus::harness::net_table + " input\n");
}

TEST_CASE("Ctrl-C during a net drop: exit 2, the table deleted, no plexusd left") {
  const fs::path out = fresh_dir("net-interrupt") / "out";
  auto child = plexus::tools::Child::spawn({env("PLEXUS_HARNESS"), "run", env("PLEXUS_SCENARIOS") + "/net-long-drop.json", "--seed",
                                           "3", "--out", out.string(), "--plexusd", env("PLEXUSD")});
  REQUIRE(child.ok());
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (read_all(out / "history.jsonl").find("\"action\":\"cut\"") == std::string::npos) {
    REQUIRE(std::chrono::steady_clock::now() < until);
    REQUIRE_FALSE(child->try_wait());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a file with a deadline
  }
  CHECK(plexus::harness::net_table_exists());
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
  CHECK_FALSE(plexus::harness::net_table_exists());
  CHECK(running_nodes(out) == 0);
}

int main(int argc, char** argv) {
  if (const auto why = plexus::harness::net_unavailable()) {
    std::cout << "SKIPPED: the harness's net mode cannot run here: " << *why << "\n";
    return exit_skip;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
