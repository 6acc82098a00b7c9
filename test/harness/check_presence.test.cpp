// The presence checker (set-full) on hand-made histories: a clean one is
// valid, a lost element and a differing final list fail it, a late read
// makes an element stale (still valid), a killed owner's presences must go.
#include <doctest/doctest.h>

#include "tools/harness/checkers.hpp"

using namespace plexus::harness;

namespace {

const std::string A = "n1/i1/1";  // an owner on n1's first instance

struct Builder {
  RunData data;
  Builder() {
    data.names = {"n1", "n2"};
    data.workloads = {"presence"};
    data.presence_owners[A] = PresenceOwner{"n1", "i1", 0, -1};
    data.liveness_bound_ms = 1000;
    data.converged_after_heal_ms = 10;  // membership converged: only presence decides
  }
  // An op on (topic t0, key, owner A) invoked at t, completed at t + 5.
  void op(std::uint64_t id, const std::string& action, const std::string& key, double t, const std::string& outcome = "ok",
          const std::string& error = "") {
    data.ops.push_back(Op{id, "presence", "n1", "n1", t, t + 5, 0, outcome, error});
    data.presence_ops.push_back({id, action, A, "t0", key});
  }
  // `node` listed t0 at t: the keys of owner A, with the op that wrote each meta.
  void read(const std::string& node, double t, std::map<std::string, std::uint64_t> keys, bool final = false) {
    PresenceRead r{node, "i-" + node, "t0", t, t + 1, final, {}};
    for (const auto& [key, op] : keys) r.listed[{key, A}] = op;
    data.presence_reads.push_back(r);
  }
};

}  // namespace

TEST_CASE("presence: a clean history is valid, every element stable at once") {
  Builder b;
  b.op(1, "track", "k0", 0);
  b.op(2, "track", "k1", 10);
  b.op(3, "untrack", "k1", 20);
  b.op(4, "track", "k2", 30);
  b.op(5, "update", "k2", 40);
  b.op(6, "track", "k3", 50, "info", "timeout");  // unknown outcome: counted, not judged
  for (const char* node : {"n1", "n2"}) {
    b.read(node, 60, {{"k0", 1}, {"k2", 5}});
    b.read(node, 100, {{"k0", 1}, {"k2", 5}, {"k3", 6}}, true);
  }
  const auto r = check_presence(b.data);
  CHECK(r["valid"] == true);
  const auto& f = r["figures"];
  CHECK(f["attempted"] == 6);
  CHECK(f["elements"] == 4);
  CHECK(f["stable"] == 3);
  CHECK(f["indeterminate"] == 1);
  CHECK(f["lost"] == 0);
  CHECK(f["stale"] == 0);
  CHECK(f["final_differences"] == 0);
  CHECK(f["stable_latency_ms"]["1"] == 0.0);
  CHECK(check_all(b.data).exit_code == 0);
}

TEST_CASE("presence: an element missing from a node's last reads is lost, and the run invalid") {
  Builder b;
  b.op(1, "track", "k0", 0);
  b.read("n1", 30, {{"k0", 1}});
  b.read("n2", 30, {{"k0", 1}});
  b.read("n2", 40, {});
  b.read("n1", 100, {{"k0", 1}}, true);
  b.read("n2", 100, {}, true);
  const auto r = check_presence(b.data);
  CHECK(r["valid"] == false);
  CHECK(r["figures"]["lost"] == 1);
  CHECK(r["figures"]["stable"] == 0);
  CHECK(r["figures"]["final_differences"] == 1);
  REQUIRE(r["final_differences"].size() == 1);
  CHECK(r["final_differences"][0]["node"] == "n2");
  CHECK(r["final_differences"][0]["missing"].size() == 1);
  CHECK(r["lost_examples"][0]["key"] == "k0");
  const auto v = check_all(b.data);
  CHECK(v.exit_code == 1);
  CHECK(v.summary == "INVALID: presence checker failed");
}

TEST_CASE("presence: a removed element still listed at the end is lost too") {
  Builder b;
  b.op(1, "track", "k0", 0);
  b.op(2, "untrack", "k0", 10);
  b.read("n1", 50, {});
  b.read("n2", 50, {{"k0", 1}}, true);
  b.read("n1", 60, {}, true);
  const auto r = check_presence(b.data);
  CHECK(r["valid"] == false);
  CHECK(r["figures"]["lost"] == 1);
  CHECK(r["final_differences"][0]["unexpected"].size() == 1);
}

TEST_CASE("presence: a read after the ok that misses the element makes it stale, with its latency") {
  Builder b;
  b.op(1, "track", "k0", 0);  // ok at 5
  b.read("n1", 10, {{"k0", 1}});
  b.read("n2", 10, {});         // after the ok, not yet there
  b.read("n2", 47, {{"k0", 1}});
  b.read("n2", 30, {});
  b.read("n1", 100, {{"k0", 1}}, true);
  b.read("n2", 100, {{"k0", 1}}, true);
  const auto r = check_presence(b.data);
  CHECK(r["valid"] == true);
  CHECK(r["figures"]["stable"] == 1);
  CHECK(r["figures"]["stale"] == 1);
  CHECK(r["figures"]["stable_latency_ms"]["0.5"] == 25.0);  // last disagreeing read at 30, ok at 5
  CHECK(r["stale_examples"][0]["stable_after_ms"] == 25.0);
}

TEST_CASE("presence: an element showing an old meta after an update disagrees") {
  Builder b;
  b.op(1, "track", "k0", 0);
  b.op(2, "update", "k0", 10);
  b.read("n1", 100, {{"k0", 1}}, true);
  const auto r = check_presence(b.data);
  CHECK(r["valid"] == false);
  CHECK(r["figures"]["lost"] == 1);
}

TEST_CASE("presence: a killed owner's presences must be gone; a read from before the kill does not count") {
  Builder b;
  b.op(1, "track", "k0", 0);
  b.data.processes.push_back({20, "n1", "killed", "i1"});
  b.read("n2", 15, {{"k0", 1}});
  b.read("n2", 25, {{"k0", 1}});  // after the kill, still shown: a stale read
  b.read("n2", 100, {}, true);
  auto r = check_presence(b.data);
  CHECK(r["valid"] == true);
  CHECK(r["figures"]["owner_ended"] == 1);
  CHECK(r["figures"]["stale"] == 1);
  b.data.presence_reads.back().listed[{"k0", A}] = 1;  // still listed at the very end: lost
  r = check_presence(b.data);
  CHECK(r["valid"] == false);
}

TEST_CASE("presence: no final reads leaves the verdict unknown") {
  Builder b;
  b.op(1, "track", "k0", 0);
  b.read("n1", 10, {{"k0", 1}});
  CHECK(check_presence(b.data)["valid"] == "unknown");
}
