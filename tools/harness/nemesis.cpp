// Playing the nemesis steps against the processes. Partitions (api mode: the
// node's own partition API; net mode: nftables rules on address pairs, one
// transaction per step) are reference counted per (node, peer, direction): a swizzle's overlapping isolations or
// a flap's repeated cuts inject each partition once and resolve it when the
// last step that wanted it is undone. A node that restarts gets back the
// partitions still in force against it, so a shape stays whole.
#include <cmath>
#include <thread>

#include "tools/harness/runner.hpp"

namespace plexus::harness {
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr auto nemesis_call_timeout = 1500ms;

std::set<std::pair<std::string, std::string>> affected_by(const Step& step, const std::vector<std::string>& names) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& c : step.grudge) {
    // A net cut breaks TCP both ways even when one way: the side whose packets still arrive
    // gets no ACKs or replies, and its connection dies too. So both sides may see the other down.
    const bool both = step.mode == FaultMode::net;
    if (both || c.direction != "inbound") out.insert({c.peer, c.node});    // the peer stops hearing the node
    if (both || c.direction != "outbound") out.insert({c.node, c.peer});   // the node stops hearing the peer
  }
  if (step.action == Action::kill || step.action == Action::pause || step.action == Action::leave) {
    for (const auto& target : step.targets) {
      for (const auto& o : names) {
        if (o == target) continue;
        out.insert({o, target});
        if (step.action == Action::leave) out.insert({target, o});
      }
    }
  }
  return out;
}

bool is_undo(Action a) {
  return a == Action::heal || a == Action::restart || a == Action::resume || a == Action::rejoin;
}

}  // namespace

void Runner::nemesis_loop(const std::vector<Step>& steps) {
  std::map<int, std::size_t> last_step;  // fault id -> index of its last step
  for (std::size_t i = 0; i < steps.size(); ++i) last_step[steps[i].fault_id] = i;
  std::set<int> started;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    if (!wait_until(phase_start_ms_ + step.at_ms)) return;
    if (started.insert(step.fault_id).second) {
      auto affected = affected_by(step, names_);
      // A swizzle or flap affects, over its life, every pair any of its steps cuts.
      for (std::size_t j = i + 1; j <= last_step[step.fault_id]; ++j) {
        if (steps[j].fault_id == step.fault_id && !is_undo(steps[j].action)) {
          auto more = affected_by(steps[j], names_);
          affected.insert(more.begin(), more.end());
        }
      }
      history_.fault_started(step.fault, step.fault_id, affected);
    }
    execute(step);
    if (i == last_step[step.fault_id]) history_.fault_ended(step.fault_id);
  }
}

void Runner::execute(const Step& step) {
  json event = to_json(step);
  event["type"] = "nemesis";
  event["planned_ms"] = step.at_ms;
  event["started_ms"] = std::round((history_.now_ms() - phase_start_ms_) * 10) / 10;  // t_ms is when it was done
  std::vector<std::string> errors;
  const std::string target = step.targets.empty() ? "" : step.targets.front();
  Result<void> done;
  switch (step.action) {
    case Action::cut: errors = step.mode == FaultMode::net ? apply_net(step, true) : apply_cuts(step.grudge, true); break;
    case Action::heal: errors = step.mode == FaultMode::net ? apply_net(step, false) : apply_cuts(step.grudge, false); break;
    case Action::kill: before_stop(target); done = cluster_.kill(target); break;
    case Action::pause: done = cluster_.pause(target); break;
    case Action::resume: done = cluster_.resume(target); break;
    case Action::leave: before_stop(target); done = cluster_.leave(target); break;
    case Action::restart:
    case Action::rejoin: {
      done = step.action == Action::restart ? cluster_.restart(target) : cluster_.rejoin(target);
      {
        std::lock_guard lock(causal_mutex_);
        known_[target].clear();  // a new incarnation remembers nothing of the old one's past
      }
      if (done) reapply_cuts(target);
      break;
    }
  }
  if (!done) errors.push_back(done.error().detail.empty() ? done.error().message() : done.error().detail);
  if (!errors.empty()) event["errors"] = errors;
  history_.record(std::move(event));
}

// Read what the node holds before it goes: its sink and its counters.
void Runner::before_stop(const std::string& node) {
  const NodeView view = cluster_.node(node);
  if (view.state != NodeState::running) return;
  poll_sink(view);
  std::vector<MetricsSample> samples;
  scrape(view, samples);
  std::lock_guard lock(cut_mutex_);
  for (auto& s : samples) history_.data().metrics_end.push_back(std::move(s));
}

namespace {

/// A node's admin threads can all be busy with acked sends waiting for their acks, so a
/// partition call is tried a few times before it counts as failed.
constexpr int partition_call_attempts = 4;

// POST /v1/partitions; the partition's ref, or -1. The TTL is a safety net: even if every
// resolve failed, the cut ends on its own soon after the fault should have.
std::int64_t inject(const NodeView& node, const Cut& c, int ttl_ms, std::vector<std::string>& errors) {
  const json body{{"node", c.peer}, {"direction", c.direction}, {"ttl_ms", ttl_ms}};
  std::string why;
  for (int attempt = 0; attempt < partition_call_attempts && !interrupted; ++attempt) {
    auto answer = node.admin->post("/v1/partitions", body, nemesis_call_timeout);
    if (answer && answer->status == 201) {
      const auto reply = json::parse(answer->body, nullptr, false);
      if (reply.is_object()) return reply.value("ref", std::int64_t(-1));
    }
    why = answer ? "HTTP " + std::to_string(answer->status) : answer.error().detail;
  }
  errors.push_back("inject " + c.node + " -/-> " + c.peer + ": " + why);
  return -1;
}

void resolve(const NodeView& node, const Cut& c, std::int64_t ref, std::vector<std::string>& errors) {
  std::string why;
  for (int attempt = 0; attempt < partition_call_attempts && !interrupted; ++attempt) {
    auto answer = node.admin->del("/v1/partitions/" + std::to_string(ref), nemesis_call_timeout);
    if (answer && (answer->status == 200 || answer->status == 404)) return;  // 404: its TTL ended it
    why = answer ? "HTTP " + std::to_string(answer->status) : answer.error().detail;
  }
  errors.push_back("resolve " + c.node + " -/-> " + c.peer + ": " + why);
}

}  // namespace

int Runner::partition_ttl_ms() const {
  return int(options_.scenario.nemesis.fault_duration_s * 1000) + 10'000;
}

std::vector<std::string> Runner::apply_cuts(const Grudge& grudge, bool add) {
  std::vector<std::string> errors;
  std::lock_guard lock(cut_mutex_);
  for (const auto& c : grudge) {
    auto& [count, ref] = cuts_[c];
    if (add && count++ > 0) continue;
    if (!add && (count == 0 || --count > 0)) {
      if (count == 0) cuts_.erase(c);
      continue;
    }
    const NodeView node = cluster_.node(c.node);
    const bool reachable = node.state == NodeState::running && node.admin;
    if (add) {
      ref = reachable ? inject(node, c, partition_ttl_ms(), errors) : -1;  // else applied when it comes back
    } else {
      if (reachable && ref >= 0) resolve(node, c, ref, errors);
      cuts_.erase(c);
    }
  }
  return errors;
}

std::vector<std::string> Runner::apply_net(const Step& step, bool add) {
  std::lock_guard lock(cut_mutex_);
  for (const auto& c : step.grudge) {
    // The cut's directions as packet flows: "a drops its traffic with b" blocks a->b and/or b->a.
    std::vector<std::pair<std::string, std::string>> flows;
    if (c.direction != "inbound") flows.emplace_back(c.node, c.peer);
    if (c.direction != "outbound") flows.emplace_back(c.peer, c.node);
    for (const auto& [from, to] : flows) {
      const NetRule rule{addresses_[from], addresses_[to], step.flavour};
      if (add) {
        ++net_rules_[rule];
      } else if (auto it = net_rules_.find(rule); it != net_rules_.end() && --it->second <= 0) {
        net_rules_.erase(it);
      }
    }
  }
  if (!net_) return {"net mode without an nftables table"};
  std::set<NetRule> rules;
  for (const auto& [rule, count] : net_rules_) rules.insert(rule);
  auto applied = net_->apply(rules);
  if (!applied) return {"nft: " + applied.error().detail};
  return {};
}

void Runner::reapply_cuts(const std::string& name) {
  std::vector<std::string> errors;
  std::lock_guard lock(cut_mutex_);
  const NodeView node = cluster_.node(name);
  if (node.state != NodeState::running || !node.admin) return;
  for (auto& [c, entry] : cuts_) {
    if (c.node == name && entry.first > 0) entry.second = inject(node, c, partition_ttl_ms(), errors);
  }
  for (const auto& e : errors) history_.record({{"type", "nemesis"}, {"action", "reapply"}, {"error", e}});
}

void Runner::heal_everything() {
  for (const auto& n : cluster_.nodes()) {
    if (n.state == NodeState::paused) (void)cluster_.resume(n.name);
  }
  {
    std::vector<std::string> errors;
    std::lock_guard lock(cut_mutex_);
    for (auto& [c, entry] : cuts_) {
      const NodeView node = cluster_.node(c.node);
      if (entry.second >= 0 && node.state == NodeState::running && node.admin) resolve(node, c, entry.second, errors);
    }
    cuts_.clear();
    net_rules_.clear();
    if (net_) {
      if (auto flushed = net_->apply({}); !flushed) errors.push_back("nft: " + flushed.error().detail);
    }
    for (const auto& e : errors) history_.record({{"type", "nemesis"}, {"action", "heal-all"}, {"error", e}});
  }
  for (const auto& n : cluster_.nodes()) {
    Result<void> done;
    if (n.state == NodeState::killed) done = cluster_.restart(n.name);
    if (n.state == NodeState::left) done = cluster_.rejoin(n.name);
    if (n.state == NodeState::killed || n.state == NodeState::left) {
      std::lock_guard lock(causal_mutex_);
      known_[n.name].clear();
    }
    if (!done) history_.record({{"type", "nemesis"}, {"action", "heal-all"}, {"error", done.error().message()}});
  }
  for (const auto& f : history_.data().faults) {
    if (f.end_ms < 0) history_.fault_ended(f.id);
  }
  history_.record({{"type", "nemesis"}, {"action", "heal-all"}, {"fault", "heal"}});
}

}  // namespace plexus::harness
