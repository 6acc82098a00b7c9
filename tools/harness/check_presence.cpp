// The presence checker, after Jepsen's set-full: an element is one
// (topic, key, owner). Its ground truth is what the last decisive op said
// (track or update ok: present with that op's meta; untrack ok, or refused
// as not_tracked: absent), or absent from the moment its owner ended (the
// owner's node instance was killed or left, or the owner's lease ran out).
// An op with no known outcome (info) after the last decisive one makes the
// element indeterminate: it is counted but not judged. Every read of the
// element's topic that began after the truth was known either agrees or not;
//   never-read  no such read;
//   lost        the last such read on some node disagrees;
//   stable      otherwise; its latency runs from the truth being known to the
//               last disagreeing read (0 when none), and it is stale when > 0.
// The final reads (after the liveness phase) must list exactly the ground truth.
#include <algorithm>
#include <cmath>

#include "tools/harness/checkers.hpp"

namespace plexus::harness {
using nlohmann::json;

namespace {

double round1(double v) { return std::round(v * 10) / 10; }

using Element = std::tuple<std::string, std::string, std::string>;  // topic, key, owner

struct Truth {
  bool present = false;
  std::uint64_t meta_op = 0;
  double known_ms = 0;
  bool determinate = true;
  bool decided = false;  ///< some op on it succeeded, or its owner ended after one did
  bool owner_ended = false;
};

// When the owner stopped holding presences: its instance ended or its lease ran out.
std::optional<double> owner_end(const RunData& data, const std::string& tag) {
  auto it = data.presence_owners.find(tag);
  if (it == data.presence_owners.end()) return std::nullopt;
  const PresenceOwner& o = it->second;
  std::optional<double> end;
  if (o.lost_ms >= 0) end = o.lost_ms;
  for (const auto& p : data.processes) {
    if (p.node == o.node && p.instance == o.instance && p.t_ms >= o.opened_ms &&
        (p.event == "killed" || p.event == "left" || p.event == "exited")) {
      end = std::min(end.value_or(p.t_ms), p.t_ms);
    }
  }
  return end;
}

std::map<Element, Truth> ground_truth(const RunData& data) {
  std::map<std::uint64_t, const Op*> ops;
  for (const auto& op : data.ops) ops[op.id] = &op;
  std::map<Element, std::vector<std::pair<const PresenceOp*, const Op*>>> by_element;
  for (const auto& p : data.presence_ops) {
    auto it = ops.find(p.op_id);
    if (it != ops.end()) by_element[{p.topic, p.key, p.owner}].emplace_back(&p, it->second);
  }
  std::map<Element, Truth> out;
  for (auto& [element, list] : by_element) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.second->invoke_ms < b.second->invoke_ms; });
    Truth t;
    for (const auto& [p, op] : list) {
      if (op->outcome == "ok") {
        t = {p->action != "untrack", p->action == "untrack" ? 0 : op->id, op->complete_ms, true, true, false};
      } else if (op->outcome == "fail") {
        if (p->action == "untrack" && op->error.find("not_tracked") != std::string::npos) {
          t = {false, 0, op->complete_ms, true, t.decided, false};
        }
      } else {
        t.determinate = false;  // it may have happened
        t.decided = true;
      }
    }
    if (auto end = owner_end(data, std::get<2>(element)); end && t.decided) t = {false, 0, *end, true, true, true};
    if (t.decided) out[element] = t;
  }
  return out;
}

bool agrees(const Truth& t, const PresenceRead& r, const Element& e) {
  auto it = r.listed.find({std::get<1>(e), std::get<2>(e)});
  return t.present ? it != r.listed.end() && it->second == t.meta_op : it == r.listed.end();
}

json element_json(const Element& e, const Truth& t) {
  return {{"topic", std::get<0>(e)}, {"key", std::get<1>(e)}, {"owner", std::get<2>(e)}, {"present", t.present},
          {"meta_op", t.meta_op}, {"known_ms", round1(t.known_ms)}};
}

// The final reads against the ground truth: one line per (node, topic) that differs.
json final_differences(const RunData& data, const std::map<Element, Truth>& truth, std::size_t& final_reads) {
  json out = json::array();
  for (const auto& r : data.presence_reads) {
    if (!r.final) continue;
    ++final_reads;
    std::map<std::pair<std::string, std::string>, std::uint64_t> expected, listed;
    for (const auto& [e, t] : truth) {
      if (std::get<0>(e) != r.topic) continue;
      if (t.determinate && t.present) expected[{std::get<1>(e), std::get<2>(e)}] = t.meta_op;
    }
    for (const auto& [ko, op] : r.listed) {
      auto t = truth.find({r.topic, ko.first, ko.second});
      if (t == truth.end() || t->second.determinate) listed[ko] = op;
    }
    if (expected == listed) continue;
    json missing = json::array(), unexpected = json::array();
    for (const auto& [ko, op] : expected) {
      auto it = listed.find(ko);
      if (it == listed.end() || it->second != op) missing.push_back({ko.first, ko.second, op});
    }
    for (const auto& [ko, op] : listed) {
      auto it = expected.find(ko);
      if (it == expected.end() || it->second != op) unexpected.push_back({ko.first, ko.second, op});
    }
    if (out.size() < 10) out.push_back({{"node", r.node}, {"topic", r.topic}, {"missing", missing}, {"unexpected", unexpected}});
  }
  return out;
}

}  // namespace

json check_presence(const RunData& data) {
  const auto truth = ground_truth(data);
  std::size_t attempted = 0, ok = 0, fail = 0, info = 0;
  for (const auto& op : data.ops) {
    if (op.workload != "presence") continue;
    ++attempted;
    (op.outcome == "ok" ? ok : op.outcome == "fail" ? fail : info) += 1;
  }
  std::map<std::string, std::vector<const PresenceRead*>> reads_by_topic;
  for (const auto& r : data.presence_reads) reads_by_topic[r.topic].push_back(&r);
  std::size_t stable = 0, lost = 0, stale = 0, never_read = 0, indeterminate = 0, present = 0, absent = 0, owner_ended = 0;
  std::vector<double> latency;
  json lost_examples = json::array(), stale_examples = json::array();
  for (const auto& [e, t] : truth) {
    if (!t.determinate) {
      ++indeterminate;
      continue;
    }
    (t.present ? present : absent) += 1;
    owner_ended += t.owner_ended ? 1 : 0;
    std::map<std::string, bool> last_on_node;  // node -> its last read (by start) agreed
    std::map<std::string, double> last_start;
    double last_disagree = -1;
    std::size_t seen = 0;
    for (const auto* r : reads_by_topic[std::get<0>(e)]) {
      if (r->start_ms < t.known_ms) continue;
      ++seen;
      const bool agree = agrees(t, *r, e);
      if (!agree) last_disagree = std::max(last_disagree, r->start_ms);
      if (!last_start.count(r->node) || r->start_ms >= last_start[r->node]) {
        last_start[r->node] = r->start_ms;
        last_on_node[r->node] = agree;
      }
    }
    if (seen == 0) {
      ++never_read;
      continue;
    }
    const bool is_lost = std::any_of(last_on_node.begin(), last_on_node.end(), [](const auto& n) { return !n.second; });
    if (is_lost) {
      ++lost;
      if (lost_examples.size() < 10) lost_examples.push_back(element_json(e, t));
      continue;
    }
    ++stable;
    const double l = last_disagree < 0 ? 0 : std::max(0.0, last_disagree - t.known_ms);
    latency.push_back(l);
    if (l > 0) {
      ++stale;
      if (stale_examples.size() < 5) {
        auto j = element_json(e, t);
        j["stable_after_ms"] = std::ceil(l * 10) / 10;  // a read that began just after the ok shows as 0.1, not 0
        stale_examples.push_back(j);
      }
    }
  }
  std::size_t final_reads = 0;
  const json differences = final_differences(data, truth, final_reads);
  const bool judged = !truth.empty() && final_reads > 0;
  const bool valid = lost == 0 && differences.empty();
  json out{{"valid", judged ? json(valid) : json("unknown")},
           {"figures", {{"attempted", attempted}, {"ok", ok}, {"fail", fail}, {"info", info},
                        {"elements", truth.size()}, {"expected_present", present}, {"expected_absent", absent},
                        {"owner_ended", owner_ended}, {"indeterminate", indeterminate},
                        {"stable", stable}, {"lost", lost}, {"stale", stale}, {"never_read", never_read},
                        {"reads", data.presence_reads.size()}, {"final_reads", final_reads},
                        {"final_differences", differences.size()},
                        {"stable_latency_ms", quantiles(latency)}}}};
  if (!lost_examples.empty()) out["lost_examples"] = lost_examples;
  if (!stale_examples.empty()) out["stale_examples"] = stale_examples;
  if (!differences.empty()) out["final_differences"] = differences;
  if (judged && !valid) {
    std::string why;
    if (lost) why += std::to_string(lost) + " presence element(s) lost (the last read on some node disagrees with the ground truth); ";
    if (!differences.empty()) why += std::to_string(differences.size()) + " final list(s) differ from the ground truth; ";
    out["failure"] = why.substr(0, why.size() - 2);
  }
  return out;
}

}  // namespace plexus::harness
