// The phases of a run: start and join the cluster (it must converge), run
// workloads and nemesis together for the scenario's duration, heal every
// fault, give the cluster the liveness bound to converge, drain the sinks
// until every acknowledged message is accounted for (or a deadline), stop.
#include "tools/harness/runner.hpp"

#include <thread>

namespace plexus::harness {
using nlohmann::json;
using namespace std::chrono_literals;

std::atomic<bool> interrupted{false};

namespace {
constexpr auto join_deadline = 30s;
constexpr auto drain_deadline = 5s;
constexpr auto converge_poll = 50ms;
}  // namespace

namespace {
// Node name -> loopback address (main.cpp refused a scenario whose addresses are not valid).
std::map<std::string, std::string> address_map(const Scenario& scenario) {
  std::map<std::string, std::string> out;
  const auto names = node_names(scenario.nodes);
  const auto addresses = node_addresses(scenario, scenario.nodes);
  for (std::size_t i = 0; addresses && i < names.size(); ++i) out[names[i]] = (*addresses)[i];
  return out;
}
}  // namespace

Runner::Runner(RunOptions options, History& history)
    : options_(std::move(options)),
      history_(history),
      cluster_(ClusterOptions{options_.plexusd, options_.out, node_flags(options_.scenario), address_map(options_.scenario)},
               history),
      names_(node_names(options_.scenario.nodes)),
      addresses_(address_map(options_.scenario)) {}

bool Runner::wait_until(double at_ms) const {
  // Rate pacing against the monotonic clock, in short slices so Ctrl-C is seen.
  for (;;) {
    if (interrupted) return false;
    const double left = at_ms - history_.now_ms();
    if (left <= 0) return true;
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(std::min(left, 50.0)));
  }
}

RunResult Runner::run() {
  auto& data = history_.data();
  data.names = names_;
  for (const auto& w : options_.scenario.workloads) data.workloads.insert(to_string(w.kind));
  data.liveness_bound_ms = options_.scenario.liveness_bound_s * 1000;
  auto timeout = options_.scenario.node_settings.find("peer_timeout_ms");
  data.peer_timeout_ms = timeout == options_.scenario.node_settings.end() ? 600 : timeout->second.get<int>();

  history_.record({{"type", "phase"}, {"phase", "setup"}});
  if (const auto field = first_net_fault(options_.scenario)) {
    auto filter = NetFilter::open((options_.out / "nftables.nft").string());
    if (!filter) return {true, *field + ": net: " + filter.error().detail};
    net_ = std::move(*filter);
  }
  if (auto started = cluster_.start(names_); !started) return {true, "starting the cluster: " + started.error().message()};
  std::string why;
  const auto join_until = std::chrono::steady_clock::now() + join_deadline;
  while (!converged(why)) {
    if (interrupted) return {true, "interrupted"};
    if (std::chrono::steady_clock::now() >= join_until) return {true, "the cluster did not form within 30 s: " + why};
    std::this_thread::sleep_for(converge_poll);  // polling a condition with a deadline
  }
  for (const auto& n : cluster_.nodes()) scrape(n, data.metrics_start);

  std::thread sinks([this] { poll_sinks_loop(); });
  std::thread views([this] { observe_loop(); });
  for (const auto& w : options_.scenario.workloads) {
    if (w.kind == WorkloadKind::presence && !presence_) presence_ = &w;
  }
  std::thread presence_reads;
  if (presence_) presence_reads = std::thread([this] { presence_loop(); });
  phase_start_ms_ = history_.now_ms();
  history_.record({{"type", "phase"}, {"phase", "faults"}});
  const auto steps = plan_nemesis(options_.scenario, options_.scenario.nodes, options_.seed);
  std::thread nemesis([&] { nemesis_loop(steps); });
  std::vector<std::thread> workloads;
  for (std::size_t i = 0; i < options_.scenario.workloads.size(); ++i) {
    if (options_.scenario.workloads[i].kind == WorkloadKind::churn) continue;  // played by the nemesis thread
    auto plan = plan_workload(options_.scenario, i, options_.scenario.nodes, options_.seed);
    workloads.emplace_back([this, i, plan = std::move(plan)] { run_workload(i, plan); });
  }
  nemesis.join();
  wait_until(phase_start_ms_ + options_.scenario.duration_s * 1000);

  data.fault_phase_end_ms = history_.now_ms();
  history_.record({{"type", "phase"}, {"phase", "heal"}});
  heal_everything();
  history_.record({{"type", "phase"}, {"phase", "liveness"}});
  const auto bound = std::chrono::duration<double>(options_.scenario.liveness_bound_s);
  const auto live_until = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::milliseconds>(bound);
  for (;;) {
    if (converged(why)) {
      data.converged_after_heal_ms = history_.now_ms() - data.fault_phase_end_ms;
      break;
    }
    if (interrupted || std::chrono::steady_clock::now() >= live_until) break;
    std::this_thread::sleep_for(converge_poll);  // polling a condition with a deadline
  }
  history_.record({{"type", "phase"}, {"phase", "liveness-done"}, {"converged", data.converged_after_heal_ms.has_value()},
                   {"why_not", data.converged_after_heal_ms ? "" : why}});

  for (auto& t : workloads) t.join();  // each op is bounded by its own timeout
  history_.record({{"type", "phase"}, {"phase", "drain"}});
  // Every acknowledged message should now be in a sink: poll until found, or the deadline.
  const auto drain_until = std::chrono::steady_clock::now() + drain_deadline;
  for (;;) {
    bool missing = false;
    for (const auto& op : history_.ops_snapshot()) {
      if (op.workload == "acked" && op.outcome == "ok" && history_.deliveries_of(op.id) == 0) missing = true;
    }
    if (!missing || interrupted || std::chrono::steady_clock::now() >= drain_until) break;
    std::this_thread::sleep_for(converge_poll);  // the sink poller runs meanwhile
  }
  stop_observers_ = true;
  sinks.join();
  views.join();
  if (presence_) {
    presence_reads.join();
    presence_settle();
  }
  for (const auto& n : cluster_.nodes()) {
    if (n.state == NodeState::running) poll_sink(n);
  }
  for (const auto& n : cluster_.nodes()) scrape(n, data.metrics_end);
  history_.record({{"type", "phase"}, {"phase", "stop"}});
  cluster_.stop_all();
  if (net_) net_->close();  // the table goes with the run (the destructor does it on every other way out)
  if (interrupted) return {true, "interrupted"};
  return {};
}

}  // namespace plexus::harness
