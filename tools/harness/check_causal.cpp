// The causal checker. The harness knows part of the causal order for sure:
// m1 happened before m2 when m1 was in the causal past of m2's sender when
// m2 was sent (the sender sent m1 itself and was answered before sending
// m2, or the harness had read m1 — or something m1 preceded — from the
// sender's sink before sending m2). A receiver incarnation that delivers m2
// before m1, both addressed to it, violates causal order.
#include <algorithm>

#include "tools/harness/checkers.hpp"

namespace plexus::harness {
using nlohmann::json;

namespace {

json message_json(const Op& op, const Delivery* d) {
  json out{{"op", op.id}, {"from", op.from}, {"to", op.to}, {"invoke_ms", std::round(op.invoke_ms * 10) / 10}};
  if (d) out["delivered_seq"] = d->seq;
  return out;
}

// One short sentence on why m1 -> m2, naming an intermediate message if there is one.
std::string explain(const RunData& data, const std::map<std::uint64_t, const Op*>& ops, const Op& m1, const Op& m2) {
  if (m1.from == m2.from) return "both sent by " + m1.from + "; m1 was answered before m2 was sent";
  for (const auto& d : data.deliveries) {
    if (d.op_id == m1.id && d.node == m2.from) return "m1 was delivered at " + m2.from + " (seq " + std::to_string(d.seq) + ") before it sent m2";
  }
  const auto& past = data.causal_deps.at(m2.id);
  for (const auto id : past) {
    auto it = data.causal_deps.find(id);
    if (it != data.causal_deps.end() && it->second.count(m1.id) && ops.count(id)) {
      return "m1 preceded op " + std::to_string(id) + " (from " + ops.at(id)->from + "), which preceded m2 at " + m2.from;
    }
  }
  return "m1 was in " + m2.from + "'s causal past when it sent m2";
}

}  // namespace

json check_causal(const RunData& data) {
  std::map<std::uint64_t, const Op*> ops;
  for (const auto& op : data.ops) {
    if (op.workload == "causal") ops[op.id] = &op;
  }
  // Per receiver incarnation, the causal deliveries in delivery (seq) order.
  std::map<std::pair<std::string, std::string>, std::vector<const Delivery*>> by_receiver;
  std::map<std::uint64_t, std::size_t> copies;
  for (const auto& d : data.deliveries) {
    if (d.workload != "causal") continue;
    by_receiver[{d.node, d.instance}].push_back(&d);
    ++copies[d.op_id];
  }
  std::size_t violations = 0, pairs_checked = 0, without_predecessor = 0, duplicated = 0;
  std::optional<json> witness;
  double witness_t = 0;
  for (auto& [receiver, list] : by_receiver) {
    std::sort(list.begin(), list.end(), [](const Delivery* a, const Delivery* b) { return a->seq < b->seq; });
    std::map<std::uint64_t, std::size_t> position;
    for (std::size_t i = 0; i < list.size(); ++i) position.emplace(list[i]->op_id, i);
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto past = data.causal_deps.find(list[i]->op_id);
      if (past == data.causal_deps.end() || !ops.count(list[i]->op_id)) continue;
      for (const auto m1 : past->second) {
        auto op1 = ops.find(m1);
        if (op1 == ops.end() || op1->second->to != receiver.first) continue;
        ++pairs_checked;
        auto at = position.find(m1);
        if (at == position.end()) {
          ++without_predecessor;  // lost with a crash or sent to an earlier incarnation: not an order question
          continue;
        }
        if (at->second < i) continue;
        ++violations;
        const Delivery* later = list[at->second];
        if (!witness || list[i]->observed_ms < witness_t) {
          const Op& a = *op1->second;
          const Op& b = *ops.at(list[i]->op_id);
          witness_t = list[i]->observed_ms;
          witness = json{{"receiver", receiver.first}, {"receiver_instance", receiver.second},
                         {"m1", message_json(a, later)}, {"m2", message_json(b, list[i])},
                         {"m1_happened_before_m2", explain(data, ops, a, b)},
                         {"but", receiver.first + " delivered m2 (seq " + std::to_string(list[i]->seq) + ") before m1 (seq " +
                                     std::to_string(later->seq) + ")"}};
        }
      }
    }
  }
  std::size_t ok = 0, delivered = 0;
  for (const auto& [id, op] : ops) {
    ok += op->outcome == "ok" ? 1 : 0;
    delivered += copies.count(id) ? 1 : 0;
    duplicated += copies.count(id) && copies[id] > 1 ? 1 : 0;
  }
  const bool valid = violations == 0 && duplicated == 0;
  json out{{"valid", ops.empty() ? json("unknown") : json(valid)},
           {"figures", {{"attempted", ops.size()}, {"ok", ok}, {"delivered", delivered}, {"duplicated", duplicated},
                        {"ordered_pairs_checked", pairs_checked}, {"violations", violations},
                        {"delivered_without_predecessor", without_predecessor}}}};
  if (witness) out["first_violation"] = *witness;
  if (!valid) {
    out["failure"] = violations ? std::to_string(violations) + " causal order violation(s)"
                                : std::to_string(duplicated) + " causal message(s) delivered twice";
  }
  return out;
}

}  // namespace plexus::harness
