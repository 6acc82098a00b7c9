// The workloads: sends through the admin API at a rate, from the planned
// node to the planned node, each recorded as invoke then ok/fail/info:
//   ok    the node did it (acked: delivered and acknowledged; others: queued)
//   fail  it certainly did not happen (refused at once, node unreachable)
//   info  unknown: it may still happen (timeout, ack lost to a restart)
// A new workload kind is one more branch in run_workload() with its own op
// function (presence: workload_presence.cpp).
#include <thread>

#include "plexus/core/errors.hpp"
#include "tools/harness/runner.hpp"

namespace plexus::harness {
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

/// How long one admin call may take beyond the node's own deadline.
constexpr auto admin_slack = 1500ms;
/// Causal ops are tracked with their whole causal past; this bounds that memory.
constexpr std::size_t causal_ops_max = 3000;

// A definite refusal: the node answered at once that it would not send.
bool refused(int status, const std::string& body) {
  if (status == 400 || status == 404) return true;
  const auto reply = json::parse(body, nullptr, false);
  const std::string code = reply.is_object() ? reply.value("code", "") : "";
  return code == "ack_table_full" || code == "outbox_full" || code == "partitioned" || code == "not_connected" ||
         code == "shutting_down";
}

std::string error_text(int status, const std::string& body) {
  const auto reply = json::parse(body, nullptr, false);
  if (reply.is_object() && reply.contains("code")) return std::to_string(status) + " " + reply.value("code", "");
  return "HTTP " + std::to_string(status);
}

}  // namespace

void Runner::run_workload(std::size_t index, const std::vector<PlannedOp>& plan) {
  const Workload& w = options_.scenario.workloads[index];
  std::atomic<std::size_t> next{0};
  const std::size_t limit = w.kind == WorkloadKind::causal ? std::min(plan.size(), causal_ops_max) : plan.size();
  std::vector<std::thread> workers;
  for (int i = 0; i < w.concurrency; ++i) {
    workers.emplace_back([&] {
      for (std::size_t k = next++; k < limit && !interrupted; k = next++) {
        if (!wait_until(phase_start_ms_ + plan[k].at_ms)) return;
        if (w.kind == WorkloadKind::presence) {
          do_presence(w, plan[k], k);
        } else {
          do_send(w, plan[k]);
        }
      }
    });
  }
  for (auto& t : workers) t.join();
}

void Runner::do_send(const Workload& w, const PlannedOp& op) {
  const std::string& from = names_[std::size_t(op.from)];
  const std::string& to = names_[std::size_t(op.to)];
  const std::string kind = to_string(w.kind);
  const bool causal = w.kind == WorkloadKind::causal;
  std::set<std::uint64_t> deps;
  if (causal) {
    std::lock_guard lock(causal_mutex_);
    deps = known_[from];
  }
  const auto id = history_.invoke(kind, from, to, causal ? json{{"label", w.label}} : json::object());
  if (causal) history_.causal_past(id, deps);
  json body{{"node", to}, {"server", "sink"}, {"payload", json{{"id", id}, {"w", kind}}.dump()},
            {"transitive", w.transitive}};
  auto wait = admin_slack;
  if (w.kind == WorkloadKind::acked) {
    body["ack"] = true;
    body["timeout_ms"] = w.timeout_ms;
    wait += std::chrono::milliseconds(w.timeout_ms);
  }
  if (causal) body["causal_label"] = w.label;
  const NodeView node = cluster_.node(from);
  if (node.state != NodeState::running || !node.admin) {
    history_.complete(id, "fail", "sender " + from + " is not running");
    return;
  }
  auto answer = node.admin->post("/v1/send", body, std::chrono::duration_cast<std::chrono::milliseconds>(wait));
  if (!answer) {
    // Not reached at all: nothing was sent. No answer in time: it may have been.
    const bool unreached = answer.error().code == make_error_code(errc::dial_failed);
    history_.complete(id, unreached ? "fail" : "info", answer.error().detail);
    return;
  }
  if (answer->status == 200) {
    history_.complete(id, "ok", "");
    if (causal) {
      std::lock_guard lock(causal_mutex_);
      auto& mine = known_[from];
      mine.insert(deps.begin(), deps.end());
      mine.insert(id);
    }
    return;
  }
  history_.complete(id, refused(answer->status, answer->body) ? "fail" : "info", error_text(answer->status, answer->body));
}

}  // namespace plexus::harness
