// The checkers on hand-made histories: each failure they exist to catch is
// caught and counted, and a clean history passes.
#include <doctest/doctest.h>

#include "tools/harness/checkers.hpp"

using namespace plexus::harness;

namespace {

Op op(std::uint64_t id, const std::string& w, const std::string& from, const std::string& to, double t,
      const std::string& outcome = "ok") {
  return Op{id, w, from, to, t, t + 5, 0, outcome, ""};
}

Delivery at(const std::string& node, std::uint64_t seq, std::uint64_t id, const std::string& w, const std::string& from) {
  Delivery d;
  d.node = node;
  d.instance = "i-" + node;
  d.seq = seq;
  d.op_id = id;
  d.workload = w;
  d.from = from;
  d.observed_ms = double(seq);
  return d;
}

}  // namespace

TEST_CASE("acked: a clean history is valid") {
  RunData data;
  data.ops = {op(1, "acked", "n1", "n2", 0), op(2, "acked", "n2", "n1", 1)};
  data.deliveries = {at("n2", 1, 1, "acked", "n1"), at("n1", 1, 2, "acked", "n2")};
  const auto r = check_acked(data);
  CHECK(r["valid"] == true);
  CHECK(r["figures"]["lost"] == 0);
  CHECK(r["figures"]["ack_latency_ms"]["0.5"] == 5.0);
}

TEST_CASE("acked: lost, duplicated and refused-but-delivered messages fail it") {
  RunData data;
  data.ops = {op(1, "acked", "n1", "n2", 0), op(2, "acked", "n1", "n2", 1), op(3, "acked", "n1", "n3", 2, "fail"),
              op(4, "acked", "n1", "n3", 3, "info")};
  data.deliveries = {at("n2", 1, 2, "acked", "n1"), at("n2", 2, 2, "acked", "n1"), at("n3", 1, 3, "acked", "n1")};
  const auto r = check_acked(data);
  CHECK(r["valid"] == false);
  CHECK(r["figures"]["lost"] == 1);
  CHECK(r["figures"]["duplicated"] == 1);
  CHECK(r["figures"]["failed_but_delivered"] == 1);
  CHECK(r["lost_examples"][0]["op"] == 1);
  CHECK(r["duplicate_examples"][0]["deliveries"].size() == 2);
}

TEST_CASE("acked: a message missing after its receiver was killed is not counted lost") {
  RunData data;
  data.ops = {op(1, "acked", "n1", "n2", 10)};
  data.processes = {{20, "n2", "killed", "i-n2"}};
  const auto r = check_acked(data);
  CHECK(r["valid"] == true);
  CHECK(r["figures"]["lost_with_receiver_crash"] == 1);
}

TEST_CASE("causal: a receiver delivering m2 before m1 when m1 -> m2 is a violation, with a witness") {
  RunData data;
  // n1 sends m1 to n3, then m2 to n3 (same sender, m1 answered first): m1 -> m2.
  data.ops = {op(1, "causal", "n1", "n3", 0), op(2, "causal", "n1", "n3", 10), op(3, "causal", "n2", "n3", 20)};
  data.causal_deps = {{1, {}}, {2, {1}}, {3, {}}};
  SUBCASE("in order: valid") {
    data.deliveries = {at("n3", 1, 1, "causal", "n1"), at("n3", 2, 3, "causal", "n2"), at("n3", 3, 2, "causal", "n1")};
    const auto r = check_causal(data);
    CHECK(r["valid"] == true);
    CHECK(r["figures"]["ordered_pairs_checked"] == 1);
  }
  SUBCASE("reversed: invalid, the witness names both messages and why") {
    data.deliveries = {at("n3", 1, 2, "causal", "n1"), at("n3", 2, 1, "causal", "n1")};
    const auto r = check_causal(data);
    CHECK(r["valid"] == false);
    CHECK(r["figures"]["violations"] == 1);
    CHECK(r["first_violation"]["m1"]["op"] == 1);
    CHECK(r["first_violation"]["m2"]["op"] == 2);
    CHECK(r["first_violation"]["m1_happened_before_m2"].get<std::string>().find("both sent by n1") == 0);
  }
}

TEST_CASE("membership: liveness, detection latency and false downs") {
  RunData data;
  data.names = {"n1", "n2"};
  data.peer_timeout_ms = 600;
  data.fault_phase_end_ms = 10'000;
  data.faults = {{1, "kill", 1000, 3000, {{"n1", "n2"}}}};
  data.observations = {{1700, "n1", "n2", false}, {3200, "n1", "n2", true}, {8000, "n2", "n1", false}};
  SUBCASE("converged") {
    data.converged_after_heal_ms = 120;
    const auto r = check_membership(data);
    CHECK(r["liveness"] == true);
    CHECK(r["figures"]["detection_latency_ms"]["0.5"] == 700.0);
    CHECK(r["figures"]["recovery_after_fault_ms"]["0.5"] == 200.0);
    CHECK(r["figures"]["false_downs"] == 1);  // n2 saw n1 down with no fault
    CHECK(r["figures"]["time_to_converge_ms"] == 120.0);
  }
  SUBCASE("not converged: liveness failure, exit 3") {
    const auto r = check_membership(data);
    CHECK(r["liveness"] == false);
    data.workloads = {};
    CHECK(check_all(data).exit_code == 3);
  }
}

TEST_CASE("the verdict: a safety failure is exit 1 even when liveness also failed") {
  RunData data;
  data.workloads = {"acked"};
  data.ops = {op(1, "acked", "n1", "n2", 0)};
  const auto v = check_all(data);
  CHECK(v.exit_code == 1);
  CHECK(v.summary == "INVALID: acked checker failed");
}

TEST_CASE("quantiles use the nearest rank") {
  const auto q = quantiles({5, 1, 4, 2, 3});
  CHECK(q["0"] == 1.0);
  CHECK(q["0.5"] == 3.0);
  CHECK(q["1"] == 5.0);
  CHECK(quantiles({})["0.5"].is_null());
}
