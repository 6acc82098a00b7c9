#include "tools/harness/checkers.hpp"

#include <algorithm>
#include <cmath>

namespace plexus::harness {
using nlohmann::json;

namespace {

double round1(double v) { return std::round(v * 10) / 10; }

/// An incarnation of `node` ended (killed, left, crashed) at or after `t_ms`:
/// what it held in memory and had not yet shown in its sink is gone with it.
bool ended_after(const RunData& data, const std::string& node, double t_ms) {
  return std::any_of(data.processes.begin(), data.processes.end(), [&](const ProcessEvent& p) {
    return p.node == node && p.t_ms >= t_ms && (p.event == "killed" || p.event == "left" || p.event == "exited");
  });
}

std::map<std::uint64_t, std::vector<const Delivery*>> deliveries_by_op(const RunData& data, const std::string& workload) {
  std::map<std::uint64_t, std::vector<const Delivery*>> out;
  for (const auto& d : data.deliveries) {
    if (d.workload == workload) out[d.op_id].push_back(&d);
  }
  return out;
}

json delivery_json(const Delivery& d) {
  return {{"node", d.node}, {"instance", d.instance}, {"seq", d.seq}, {"from", d.from}, {"from_instance", d.from_instance}};
}

}  // namespace

json quantiles(std::vector<double> values) {
  json out = json::object();
  std::sort(values.begin(), values.end());
  for (const double q : {0.0, 0.5, 0.95, 0.99, 1.0}) {
    const std::string key = q == 0 ? "0" : q == 1 ? "1" : json(q).dump();
    if (values.empty()) {
      out[key] = nullptr;
      continue;
    }
    const auto rank = std::size_t(std::ceil(q * double(values.size())));
    out[key] = round1(values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)]);
  }
  return out;
}

json check_acked(const RunData& data) {
  const auto delivered = deliveries_by_op(data, "acked");
  std::size_t attempted = 0, ok = 0, fail = 0, info = 0, lost = 0, excused = 0, duplicated = 0, fail_delivered = 0,
              info_delivered = 0;
  std::vector<double> ack_latency, delivery_latency, lost_at;
  json lost_examples = json::array(), duplicate_examples = json::array();
  for (const auto& op : data.ops) {
    if (op.workload != "acked") continue;
    ++attempted;
    auto it = delivered.find(op.id);
    const std::size_t copies = it == delivered.end() ? 0 : it->second.size();
    if (copies > 1) {
      ++duplicated;
      if (duplicate_examples.size() < 10) {
        json where = json::array();
        for (const auto* d : it->second) where.push_back(delivery_json(*d));
        duplicate_examples.push_back({{"op", op.id}, {"from", op.from}, {"to", op.to}, {"deliveries", where}});
      }
    }
    if (copies > 0) delivery_latency.push_back(it->second.front()->received_wall_ms - op.invoke_wall_ms);
    if (op.outcome == "ok") {
      ++ok;
      ack_latency.push_back(op.complete_ms - op.invoke_ms);
      if (copies == 0) {
        if (ended_after(data, op.to, op.invoke_ms)) {
          ++excused;
        } else {
          ++lost;
          if (lost_examples.size() < 10) {
            lost_examples.push_back({{"op", op.id}, {"from", op.from}, {"to", op.to}, {"invoke_ms", round1(op.invoke_ms)},
                                     {"ok_ms", round1(op.complete_ms)}});
          }
        }
      }
    } else if (op.outcome == "fail") {
      ++fail;
      if (copies > 0) ++fail_delivered;
    } else {
      ++info;
      if (copies > 0) ++info_delivered;
    }
  }
  const bool valid = lost == 0 && duplicated == 0 && fail_delivered == 0;
  json out{{"valid", attempted == 0 ? json("unknown") : json(valid)},
           {"figures", {{"attempted", attempted}, {"ok", ok}, {"fail", fail}, {"info", info},
                        {"lost", lost}, {"lost_with_receiver_crash", excused}, {"duplicated", duplicated},
                        {"failed_but_delivered", fail_delivered}, {"info_delivered", info_delivered},
                        {"ack_latency_ms", quantiles(ack_latency)},
                        {"delivery_latency_ms", quantiles(delivery_latency)}}}};
  if (!lost_examples.empty()) out["lost_examples"] = lost_examples;
  if (!duplicate_examples.empty()) out["duplicate_examples"] = duplicate_examples;
  if (!valid) {
    std::string why;
    if (lost) why += std::to_string(lost) + " acknowledged message(s) never delivered; ";
    if (duplicated) why += std::to_string(duplicated) + " message(s) delivered more than once; ";
    if (fail_delivered) why += std::to_string(fail_delivered) + " refused send(s) delivered anyway; ";
    out["failure"] = why.substr(0, why.size() - 2);
  }
  return out;
}

json check_unacked(const RunData& data) {
  const auto delivered = deliveries_by_op(data, "unacked");
  std::size_t attempted = 0, ok = 0, got = 0, duplicated = 0;
  for (const auto& op : data.ops) {
    if (op.workload != "unacked") continue;
    ++attempted;
    if (op.outcome == "ok") ++ok;
    auto it = delivered.find(op.id);
    if (it != delivered.end()) {
      ++got;
      if (it->second.size() > 1) ++duplicated;
    }
  }
  json out{{"valid", attempted == 0 ? json("unknown") : json(duplicated == 0)},
           {"figures", {{"attempted", attempted}, {"ok", ok}, {"delivered", got}, {"duplicated", duplicated},
                        {"delivered_share_of_ok", ok == 0 ? json(nullptr) : json(round1(100.0 * double(got) / double(ok)) / 100)}}}};
  if (duplicated) out["failure"] = std::to_string(duplicated) + " unacknowledged message(s) delivered more than once";
  return out;
}

json check_cost(const RunData& data) {
  // Per incarnation, its last sample, minus the counters it had when the fault phase began.
  std::map<std::pair<std::string, std::string>, const MetricsSample*> last, first;
  for (const auto& s : data.metrics_end) last[{s.node, s.instance}] = &s;
  for (const auto& s : data.metrics_start) first[{s.node, s.instance}] = &s;
  std::map<std::string, double> total;
  for (const auto& [key, sample] : last) {
    for (const auto& [name, value] : sample->values) {
      const bool wanted = name.starts_with("plexus_messages_sent_total") || name.starts_with("plexus_bytes_sent_total") ||
                          name.starts_with("plexus_retransmits_total") || name.starts_with("plexus_drops_total");
      if (!wanted) continue;
      double base = 0;
      if (auto f = first.find(key); f != first.end()) {
        if (auto v = f->second->values.find(name); v != f->second->values.end()) base = v->second;
      }
      total[name] += value - base;
    }
  }
  std::size_t ops = 0;
  for (const auto& op : data.ops) ops += op.outcome == "ok" ? 1 : 0;
  json per_op = json::object(), totals = json::object();
  for (const auto& [name, value] : total) {
    totals[name] = value;
    per_op[name] = ops == 0 ? json(nullptr) : json(round1(value / double(ops)));
  }
  return {{"valid", true}, {"figures", {{"ops_ok", ops}, {"incarnations_scraped", last.size()}, {"totals", totals}, {"per_op", per_op}}}};
}

Verdict check_all(const RunData& data) {
  Verdict v;
  v.checkers = {{"membership", check_membership(data)}};
  if (data.workloads.count("acked")) v.checkers["acked"] = check_acked(data);
  if (data.workloads.count("unacked")) v.checkers["unacked"] = check_unacked(data);
  if (data.workloads.count("causal")) v.checkers["causal"] = check_causal(data);
  if (data.workloads.count("presence")) v.checkers["presence"] = check_presence(data);
  v.checkers["cost"] = check_cost(data);
  bool safety_failed = false, unknown = false;
  std::string failed;
  for (const char* name : {"acked", "unacked", "causal", "presence"}) {
    if (!v.checkers.contains(name)) continue;
    const auto& c = v.checkers[name];
    if (c["valid"] == false) {
      safety_failed = true;
      failed += std::string(failed.empty() ? "" : ", ") + name;
    }
    unknown = unknown || c["valid"] == "unknown";  // a workload that ran but left nothing to judge
  }
  const bool live = v.checkers["membership"]["liveness"] == true;
  if (safety_failed) {
    v.exit_code = 1;
    v.summary = "INVALID: " + failed + " checker failed";
  } else if (!live) {
    v.exit_code = 3;
    v.summary = "LIVENESS FAILURE: no convergence within the bound after the heal";
  } else if (unknown) {
    v.exit_code = 2;
    v.summary = "UNKNOWN: no checker could decide";
  } else {
    v.exit_code = 0;
    v.summary = "VALID";
  }
  return v;
}

}  // namespace plexus::harness
