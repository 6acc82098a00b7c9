// World: the virtual clock and event loop of one simulated run, the nodes
// and what their effects do, the workload and the invariant checks.
#include "plexus/sim/world.hpp"

#include <cstdio>
#include <cstring>

#include "plexus/core/errors.hpp"

namespace plexus::sim {
namespace {

using namespace std::chrono_literals;

/// Stops a run that no longer advances (a wakeup loop, a message storm).
constexpr std::uint64_t events_max = 20'000'000;

peer::core::CoreConfig node_config(Bug bug) {
  peer::core::CoreConfig config;
  config.liveness.heartbeat_interval = 200ms;
  config.liveness.peer_timeout = 1000ms;
  config.liveness.redial_min = 50ms;
  config.liveness.redial_max = 2000ms;
  config.gossip_interval = 1s;
  config.acks.retransmit_interval = 200ms;
  config.acks.max_age = 20s;  // the shell's ack_timeout, shortened so a run resolves every message
  config.bug = bug;
  return config;
}

}  // namespace

const char* kind_name(const wire::Envelope& envelope) {
  static const char* const names[] = {"data", "goodbye", "attach", "gossip", "heartbeat", "message", "ack", "leave"};
  return names[envelope.index()];
}

namespace {

/// Restores the previous fault injector when a run ends, however it ends.
struct InjectorScope {
  explicit InjectorScope(fault::Injector* injector) : previous(fault::install(injector)) {}
  ~InjectorScope() { fault::install(previous); }
  InjectorScope(const InjectorScope&) = delete;
  InjectorScope& operator=(const InjectorScope&) = delete;
  fault::Injector* previous;
};

}  // namespace

World::World(const RunOptions& options)
    : options_(options),
      rng_(options.seed),
      swarm_(pick_swarm(rng_, options.nodes)),
      injector_(rng_.fork(), swarm_.fault_point_ppm) {
  const std::size_t n = options.nodes;
  conns_.assign(n * n, 0);
  flights_.resize(n * n);
  last_ready_.assign(n * n, Time{0});
  pump_armed_.assign(n * n, false);
  cut_.assign(n * n, false);
  nodes_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    nodes_[i].name = "n" + std::to_string(i);
    nodes_[i].view.assign(n, 0);
  }
  result_.seed = options.seed;
  result_.swarm = swarm_.describe();
}

NodeSpec World::spec_of(std::uint16_t node, std::uint64_t instance) const {
  NodeSpec spec;
  spec.name = nodes_[node].name;
  spec.listen_addrs = {{"127.0.0.1", static_cast<std::uint16_t>(7000 + node)}};
  spec.channels[std::string(default_channel)] = ChannelSpec{1, false};
  spec.instance_id = instance;
  return spec;
}

std::optional<std::uint16_t> World::index_of(const std::string& name) const {
  if (name.size() < 2 || name[0] != 'n') return std::nullopt;
  const auto index = std::stoul(name.substr(1));
  if (index >= nodes_.size()) return std::nullopt;
  return static_cast<std::uint16_t>(index);
}

void World::schedule(Time at, EventKind kind, std::uint16_t a, std::uint16_t b, std::uint64_t x) {
  queue_.push(Event{at, seq_++, kind, a, b, x});
}

void World::trace(const char* what, std::uint16_t a, std::uint16_t b, std::uint64_t x) {
  trace_[trace_count_++ % trace_.size()] = TraceEntry{now_, what, a, b, x};
}

void World::fail(const std::string& invariant, const std::string& detail) {
  if (failed_) return;
  failed_ = true;
  result_.ok = false;
  result_.invariant = invariant;
  result_.detail = detail;
}

void World::start_node(std::uint16_t node) {
  SimNode& n = nodes_[node];
  n.instance = next_instance_++;
  n.life = oracle_.new_life(node);
  std::fill(n.view.begin(), n.view.end(), 0);
  n.core = std::make_unique<peer::core::Core>(spec_of(node, n.instance), node_config(options_.bug),
                                              rng_.fork()(), now_);
  n.core->serve(std::string(served_server));
  trace("start", node, 0, n.instance);
  if (!n.data_dir.is_null()) {
    if (auto loaded = n.core->load(n.data_dir, now_); !loaded) fail("membership", n.name + ": " + loaded.error().message());
  } else if (node != 0) {
    (void)n.core->admit(spec_of(0, nodes_[0].instance), now_);  // the join address
  }
  apply(node);
}

void World::apply(std::uint16_t node) {
  SimNode& n = nodes_[node];
  for (int round = 0; round < 64 && n.core; ++round) {
    peer::core::Output out = n.core->take();
    if (out.empty()) break;
    for (const auto& t : out.transitions) {
      if (auto peer = index_of(t.peer)) trace(t.up ? "sees up" : "sees down", node, *peer);
    }
    // A member gone silent while linked: its link goes (a fresh one after the heal).
    for (const auto& name : out.closes) {
      const auto peer = index_of(name);
      if (!peer || n.view[*peer] == 0) continue;
      trace("closes", node, *peer);
      reset(node, *peer, node, true);
    }
    // A member removed or restarted: the link to its old life goes.
    for (const auto& change : out.changes) {
      const auto peer = index_of(change.spec.name);
      if (!peer || n.view[*peer] == 0) continue;
      if (change.kind == membership::ChangeKind::removed || change.restarted) {
        trace("closes", node, *peer);
        reset(node, *peer, node, true);
      }
    }
    for (auto& send : out.sends) {
      const auto to = index_of(send.peer);
      const bool linked = to && n.view[*to] != 0 && conn(node, *to) == n.view[*to];
      if (!linked && send.reroute) {
        n.core->reroute(std::get<wire::Message>(*send.frame));  // the link went meanwhile
        continue;
      }
      this->send(node, send.peer, *send.frame);
    }
    for (const auto& message : out.deliveries) {
      trace("delivers", node, index_of(message.origin).value_or(0), message.ack_id);
      if (auto bad = oracle_.delivered(node, n.life, n.instance, message); !bad.empty()) fail("safety", bad);
    }
    for (const auto& [token, outcome] : out.completions) {
      trace(outcome ? "acked" : "failed", node, 0, token);
      if (!outcome && outcome.error().code == errc::unknown_server) ++result_.refusals;  // a refused ack
      if (auto bad = oracle_.completed(token, static_cast<bool>(outcome)); !bad.empty()) fail("safety", bad);
    }
  }
  check_step(node);
  wake(node);
}

void World::attach(std::uint16_t node, std::uint16_t peer) {
  SimNode& n = nodes_[node];
  peer::core::AttachFacts facts;
  const NodeSpec spec = spec_of(peer, nodes_[peer].instance);
  facts.handshake_name = spec.name;
  facts.handshake_instance = spec.instance_id;
  facts.attach = wire::Attach{spec, "_control", 0, false};
  facts.dialer = peer::core::dials(n.name, spec.name);
  const auto decision = n.core->attach(facts, now_);
  if (decision.verdict == peer::core::AttachVerdict::bind) {
    n.core->link_up(spec.name, now_);
    n.core->evaluate(now_);
    return;
  }
  // Refused: what it says goes out on the link, then the link closes.
  for (const auto& reply : decision.replies) send(node, spec.name, reply);
  trace("refuses", node, peer);
  apply(node);
  reset(node, peer, node, true);
}

void World::wake(std::uint16_t node) {
  SimNode& n = nodes_[node];
  if (!n.core) return;
  const auto next = n.core->next_wakeup();
  if (!next) return;
  const Time at = std::max(*next, now_);
  if (n.wakeup_at >= now_ && n.wakeup_at <= at) return;  // an earlier wakeup is armed
  n.wakeup_at = at;
  schedule(at, EventKind::wakeup, node, 0, ++n.wakeup_generation);
}

void World::dispatch(const Event& e) {
  switch (e.kind) {
    case EventKind::wakeup: {
      SimNode& n = nodes_[e.a];
      if (!n.core || e.x != n.wakeup_generation) return;
      n.wakeup_at = Time{-1};
      n.core->evaluate(now_);
      for (const auto& peer : n.core->dials_due(now_)) dial(e.a, peer);  // either end may connect
      n.core->tick(now_);
      apply(e.a);
      // Anything still due right now waits a millisecond (the shell's tick), never a busy loop.
      if (n.wakeup_at == now_) {
        n.wakeup_at = now_ + 1ms;
        schedule(n.wakeup_at, EventKind::wakeup, e.a, 0, ++n.wakeup_generation);
      }
      return;
    }
    case EventKind::pump: return pump(e.a, e.b, e.x);
    case EventKind::connect: return connect(e.a, e.b);
    case EventKind::notify_down: return notify_down(e.a, e.b, e.x);
    case EventKind::restart: return restart(e.a);
    case EventKind::clog:
      if (faults_on_) nodes_[e.a].clogged_until = std::max(nodes_[e.a].clogged_until, Time(e.x));
      return;
  }
}

void World::workload_step() {
  std::vector<std::uint16_t> alive;
  for (std::uint16_t i = 0; i < nodes_.size(); ++i) if (nodes_[i].core) alive.push_back(i);
  if (alive.empty() || nodes_.size() < 2) return;
  const std::uint16_t from = alive[rng_.below(alive.size())];
  auto to = static_cast<std::uint16_t>(rng_.below(nodes_.size() - 1));
  if (to >= from) ++to;
  SimNode& sender = nodes_[from];
  const auto* entry = sender.core->members().find(nodes_[to].name);
  if (!entry || entry->removed) return;  // not known yet: nothing to address
  peer::core::SendOptions options;
  options.server = std::string(served_server);
  options.ack = !rng_.chance(swarm_.unacked_percent * 10'000);
  if (rng_.chance(swarm_.causal_percent * 10'000)) {
    options.causal_label = "c";
    options.ack = true;
  }
  options.transitive = rng_.chance(swarm_.transitive_percent * 10'000);
  // The real code answers a server the target does not serve with a refused ack.
  const bool refused = rng_.chance(swarm_.refused_percent * 10'000);
  if (refused) options.server = "unserved";
  const std::uint64_t id = oracle_.next_id();
  std::vector<std::uint8_t> payload(sizeof id);
  std::memcpy(payload.data(), &id, sizeof id);
  auto sent = sender.core->forward(nodes_[to].name, std::move(payload), options, id, now_);
  if (sent) {
    oracle_.sent(sender.life, to, entry->spec.instance_id, options.ack, !options.causal_label.empty(), refused);
    trace(refused ? "sends to none" : "sends", from, to, id);
  }
  apply(from);
}

RunResult World::run() {
  InjectorScope scope(&injector_);
  injector_.active = swarm_.fault_points;
  for (std::uint16_t i = 0; i < nodes_.size(); ++i) start_node(i);
  auto run_until = [this](Time until) {
    while (!failed_ && !queue_.empty() && queue_.top().at <= until) {
      const Event event = queue_.top();
      queue_.pop();
      now_ = event.at;
      dispatch(event);
      if (++result_.events > events_max) fail("progress", "more than " + std::to_string(events_max) + " events");
    }
    if (!failed_) now_ = until;
  };
  for (std::size_t step = 0; step < options_.steps && !failed_; ++step) {
    run_until(now_ + Time(std::chrono::milliseconds(rng_.between(5, 200))));
    if (failed_) break;
    if (rng_.below(100) < 75) workload_step();
    else nemesis_step();
  }
  if (!failed_) {
    // Liveness phase: every fault off, every node back; the cluster must converge.
    faults_on_ = false;
    injector_.active = false;
    heal();
    for (auto& n : nodes_) n.clogged_until = Time{0};
    for (std::uint16_t i = 0; i < nodes_.size(); ++i) restart(i);
    // Bounded, but over as soon as the cluster is quiet (most seeds: seconds).
    const Time deadline = now_ + liveness_phase;
    while (!failed_ && now_ < deadline && !quiet()) run_until(std::min(deadline, now_ + Time(std::chrono::seconds(1))));
    if (!failed_) check_end();
    // Probe: a healed cluster must carry an acked message between every pair.
    if (!failed_) probe();
    run_until(now_ + probe_phase);
    if (!failed_) check_probes();
  }
  result_.state_hash = final_hash();
  result_.faults_fired = injector_.fired;
  result_.messages_sent = oracle_.messages();
  result_.messages_delivered = oracle_.deliveries();
  result_.simulated_seconds = std::chrono::duration<double>(now_).count();
  const std::size_t kept = std::min(trace_count_, trace_.size());
  for (std::size_t i = trace_count_ - kept; i < trace_count_; ++i) {
    const TraceEntry& t = trace_[i % trace_.size()];
    char line[160];
    std::snprintf(line, sizeof line, "%10.3fs  %-5s %-10s %-5s #%llu", std::chrono::duration<double>(t.at).count(),
                  nodes_[t.a].name.c_str(), t.what, nodes_[t.b].name.c_str(), static_cast<unsigned long long>(t.x));
    result_.trace.emplace_back(line);
  }
  return result_;
}

RunResult run(const RunOptions& options) {
  World world(options);
  return world.run();
}

}  // namespace plexus::sim
