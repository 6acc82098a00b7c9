#include "tools/harness/schedule.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

namespace plexus::harness {
namespace {

std::uint64_t below(std::mt19937_64& rng, std::uint64_t n) { return n == 0 ? 0 : rng() % n; }

// Fisher-Yates with our own index choice, so the order is the same on every standard library.
template <class T>
void shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(rng, i)]);
}

void cut_both(Grudge& g, const std::string& a, const std::string& b) {
  g.push_back({a, b, "both"});
  g.push_back({b, a, "both"});
}

struct Window { double from, to; std::string node; };

bool busy(const std::vector<Window>& windows, const std::string& node, double from, double to) {
  return std::any_of(windows.begin(), windows.end(),
                     [&](const Window& w) { return w.node == node && w.from < to && from < w.to; });
}

void plan_fault(const Fault& f, int id, double t, double duration_ms, const std::vector<std::string>& names,
                std::mt19937_64& rng, std::vector<Step>& steps, std::vector<Window>& node_windows) {
  const std::string kind = to_string(f.kind);
  switch (f.kind) {
    case FaultKind::partition: {
      auto g = shape_grudge(f.shape, names, rng);
      const std::string label = kind + ":" + to_string(f.shape);
      steps.push_back({t, Action::cut, id, label, names, g});
      steps.push_back({t + duration_ms, Action::heal, id, label, names, g});
      return;
    }
    case FaultKind::kill:
    case FaultKind::pause: {
      const std::string node = names[below(rng, names.size())];
      const bool kill = f.kind == FaultKind::kill;
      steps.push_back({t, kill ? Action::kill : Action::pause, id, kind, {node}, {}});
      steps.push_back({t + duration_ms, kill ? Action::restart : Action::resume, id, kind, {node}, {}});
      node_windows.push_back({t, t + duration_ms, node});
      return;
    }
    case FaultKind::flap: {
      auto g = shape_grudge(f.shape, names, rng);
      const std::string label = kind + ":" + to_string(f.shape);
      for (double at = t; at + f.flap_period_ms <= t + duration_ms; at += 2.0 * f.flap_period_ms) {
        steps.push_back({at, Action::cut, id, label, names, g});
        steps.push_back({at + f.flap_period_ms, Action::heal, id, label, names, g});
      }
      return;
    }
    case FaultKind::swizzle: {
      auto order = names;
      shuffle(order, rng);
      order.resize(std::max<std::size_t>(1, names.size() / 2));
      auto unclog = order;
      shuffle(unclog, rng);
      if (unclog.size() > 1 && unclog == order) std::reverse(unclog.begin(), unclog.end());  // a different order
      const double step = f.swizzle_step_ms;
      for (std::size_t i = 0; i < order.size(); ++i) {
        steps.push_back({t + double(i) * step, Action::cut, id, kind, {order[i]}, isolate({order[i]}, names)});
      }
      const double back = std::max(t + double(order.size()) * step, t + duration_ms - double(order.size()) * step);
      for (std::size_t i = 0; i < unclog.size(); ++i) {
        steps.push_back({back + double(i) * step, Action::heal, id, kind, {unclog[i]}, isolate({unclog[i]}, names)});
      }
      return;
    }
  }
}

}  // namespace

std::vector<std::string> node_names(int nodes) {
  std::vector<std::string> names;
  for (int i = 1; i <= nodes; ++i) names.push_back("n" + std::to_string(i));
  return names;
}

Grudge isolate(const std::vector<std::string>& isolated, const std::vector<std::string>& names) {
  Grudge g;
  const std::set<std::string> cut(isolated.begin(), isolated.end());
  for (const auto& a : isolated) {
    for (const auto& b : names) {
      if (b != a && !(cut.count(b) && b < a)) cut_both(g, a, b);
    }
  }
  return g;
}

Grudge shape_grudge(Shape shape, const std::vector<std::string>& names, std::mt19937_64& rng) {
  const auto cut = core::partition_cut(shape, names.size(), [&](std::uint64_t bound) { return below(rng, bound); });
  Grudge g;
  for (std::size_t a = 0; a < names.size(); ++a) {
    for (std::size_t b = a + 1; b < names.size(); ++b) {
      const bool ab = cut.blocked(a, b), ba = cut.blocked(b, a);
      if (ab && ba) {
        cut_both(g, names[a], names[b]);
      } else if (ab || ba) {
        // One way only: the sender drops what it sends; the reverse still flows.
        g.push_back(ab ? Cut{names[a], names[b], "outbound"} : Cut{names[b], names[a], "outbound"});
      }
    }
  }
  return g;
}

std::vector<Step> plan_nemesis(const Scenario& scenario, int nodes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto names = node_names(nodes);
  std::vector<Step> steps;
  std::vector<Window> node_windows;  // kill/pause/leave per node, so churn avoids them
  const auto& n = scenario.nemesis;
  const double end_ms = scenario.duration_s * 1000;
  int id = 0;
  if (!n.faults.empty()) {
    for (double t = n.start_s * 1000; t + n.fault_duration_s * 1000 <= end_ms; t += n.interval_s * 1000) {
      const Fault& f = n.faults[below(rng, n.faults.size())];
      const std::size_t first = steps.size();
      plan_fault(f, ++id, t, n.fault_duration_s * 1000, names, rng, steps, node_windows);
      if (f.mode == FaultMode::net) {
        for (std::size_t i = first; i < steps.size(); ++i) {
          steps[i].mode = f.mode;
          steps[i].flavour = f.flavour;
          steps[i].fault += " (" + mode_label(f.mode, f.flavour) + ")";  // the timeline's label says how
        }
      }
    }
  }
  for (const auto& w : scenario.workloads) {
    if (w.kind != WorkloadKind::churn || nodes < 2) continue;
    const double every = 1000 / w.rate_per_s;
    for (double t = every; t + w.rejoin_after_ms <= end_ms; t += every) {
      std::vector<std::string> free;
      for (const auto& name : names) if (!busy(node_windows, name, t - 1000, t + w.rejoin_after_ms + 1000)) free.push_back(name);
      const auto pick = below(rng, free.size());  // drawn even when unused, so later picks do not shift
      if (free.empty()) continue;
      ++id;
      steps.push_back({t, Action::leave, id, "churn", {free[pick]}, {}});
      steps.push_back({t + w.rejoin_after_ms, Action::rejoin, id, "churn", {free[pick]}, {}});
      node_windows.push_back({t, t + w.rejoin_after_ms, free[pick]});
    }
  }
  std::stable_sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) { return a.at_ms < b.at_ms; });
  return steps;
}

std::vector<PlannedOp> plan_workload(const Scenario& scenario, std::size_t index, int nodes, std::uint64_t seed,
                                     std::size_t ops_max) {
  const Workload& w = scenario.workloads.at(index);
  std::mt19937_64 rng(seed ^ (0x9e3779b97f4a7c15ULL * (index + 1)));
  std::vector<PlannedOp> ops;
  const double every = 1000 / w.rate_per_s;
  for (double t = 0; t < scenario.duration_s * 1000 && ops.size() < ops_max; t += every) {
    PlannedOp op{t, int(below(rng, std::uint64_t(nodes))), 0};
    op.to = nodes < 2 ? op.from : int(below(rng, std::uint64_t(nodes - 1)));
    if (nodes >= 2 && op.to >= op.from) ++op.to;
    ops.push_back(op);
  }
  return ops;
}

std::string to_string(Action action) {
  static const char* names[] = {"cut", "heal", "kill", "restart", "pause", "resume", "leave", "rejoin"};
  return names[int(action)];
}

nlohmann::json to_json(const Step& step) {
  nlohmann::json grudge = nlohmann::json::array();
  for (const auto& c : step.grudge) grudge.push_back({{"node", c.node}, {"peer", c.peer}, {"direction", c.direction}});
  nlohmann::json out{{"at_ms", step.at_ms}, {"action", to_string(step.action)}, {"fault_id", step.fault_id},
                     {"fault", step.fault}, {"targets", step.targets}, {"grudge", grudge}};
  if (step.action == Action::cut || step.action == Action::heal) out["mode"] = mode_label(step.mode, step.flavour);
  return out;
}

}  // namespace plexus::harness
