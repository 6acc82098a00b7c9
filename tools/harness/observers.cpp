// Following the cluster: every sink (what each node received, in its
// delivery order) and every node's membership view (up/down transitions),
// each polled about every 100 ms from its own thread; convergence; metrics.
#include <cstdio>
#include <ctime>
#include <sstream>
#include <thread>

#include "tools/harness/runner.hpp"

namespace plexus::harness {
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr auto poll_interval = 100ms;
constexpr auto poll_timeout = 800ms;
constexpr std::size_t sink_page = 10'000;

// Sum a Prometheus counter family by the labels that matter to the cost checker
// (channel, reason), over peers: "plexus_messages_sent_total{channel=default}".
std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    std::string key = line.substr(0, space);
    const double value = std::strtod(line.c_str() + space + 1, nullptr);
    const auto brace = key.find('{');
    std::string name = key.substr(0, brace);
    std::string kept;
    if (brace != std::string::npos) {
      for (const char* label : {"channel", "reason"}) {
        const std::string needle = std::string(label) + "=\"";
        const auto at = key.find(needle, brace);
        if (at == std::string::npos) continue;
        const auto end = key.find('"', at + needle.size());
        kept += std::string(kept.empty() ? "" : ",") + label + "=" + key.substr(at + needle.size(), end - at - needle.size());
      }
    }
    out[kept.empty() ? name : name + "{" + kept + "}"] += value;
  }
  return out;
}

// "2024-05-01T12:00:00.123Z" as milliseconds since the epoch (0 when unreadable).
double parse_utc_ms(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &millis) < 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return double(timegm(&tm)) * 1000 + millis;
}

}  // namespace

void Runner::poll_sinks_loop() {
  while (!stop_observers_ && !interrupted) {
    const auto next = std::chrono::steady_clock::now() + poll_interval;
    for (const auto& node : cluster_.nodes()) {
      if (node.state == NodeState::running) poll_sink(node);
    }
    std::this_thread::sleep_until(next);  // pacing the poll rate, not synchronisation
  }
}

void Runner::poll_sink(const NodeView& node) {
  std::lock_guard lock(sink_mutex_);
  auto& [generation, after] = sink_cursor_[node.name];
  if (generation != node.generation) {
    generation = node.generation;
    after = 0;
  }
  for (int page = 0; page < 100; ++page) {  // bounded: 1e6 messages per poll
    auto answer = node.admin->get("/v1/sink?after=" + std::to_string(after) + "&limit=" + std::to_string(sink_page), poll_timeout);
    if (!answer || answer->status != 200) return;
    const auto reply = json::parse(answer->body, nullptr, false);
    if (!reply.is_object() || !reply.contains("messages")) return;
    const auto& messages = reply["messages"];
    for (const auto& m : messages) {
      after = std::max(after, m.value("seq", std::uint64_t(0)));
      const auto payload = json::parse(m.value("payload", ""), nullptr, false);
      if (!payload.is_object() || !payload.contains("id")) continue;  // not the harness's
      Delivery d;
      d.node = node.name;
      d.instance = node.instance;
      d.seq = m.value("seq", std::uint64_t(0));
      d.from = m.value("from", "");
      d.from_instance = m.value("from_instance", "");
      d.op_id = payload.value("id", std::uint64_t(0));
      d.received_wall_ms = parse_utc_ms(m.value("received_at", ""));
      d.workload = payload.value("w", "");
      if (d.workload == "causal") {
        // The node delivered it, so whatever the node sends from now on comes after it.
        std::lock_guard causal_lock(causal_mutex_);
        auto& seen = known_[node.name];
        seen.insert(d.op_id);
        const auto past = history_.causal_past_of(d.op_id);
        seen.insert(past.begin(), past.end());
      }
      history_.delivered(std::move(d));
    }
    if (messages.size() < sink_page) return;
  }
}

void Runner::observe_loop() {
  while (!stop_observers_ && !interrupted) {
    const auto next = std::chrono::steady_clock::now() + poll_interval;
    for (const auto& node : cluster_.nodes()) {
      if (node.state == NodeState::running) observe(node);
    }
    std::this_thread::sleep_until(next);  // pacing the poll rate, not synchronisation
  }
}

void Runner::observe(const NodeView& node) {
  auto answer = node.admin->get("/v1/members", poll_timeout);
  if (!answer || answer->status != 200) return;
  const auto reply = json::parse(answer->body, nullptr, false);
  if (!reply.is_object() || !reply.contains("members")) return;
  std::lock_guard lock(view_mutex_);
  auto& [generation, view] = views_[node.name];
  const bool fresh = generation != node.generation;
  if (fresh) {
    generation = node.generation;
    view.clear();
  }
  std::map<std::string, bool> now;
  for (const auto& m : reply["members"]) {
    if (m.value("self", false)) continue;
    now[m.value("name", "")] = m.value("up", false);
  }
  for (const auto& [peer, up] : now) {
    auto it = view.find(peer);
    // A new incarnation's first view, and a new member, are a baseline, not a transition;
    // a peer is "down" only once it had been seen up by this observer.
    if (it == view.end()) {
      if (up) view[peer] = true;
      continue;
    }
    if (it->second != up) {
      history_.observed(node.name, peer, up);
      it->second = up;
    }
  }
  for (auto it = view.begin(); it != view.end();) {
    it = now.count(it->first) ? std::next(it) : view.erase(it);  // removed members are not "down"
  }
}

bool Runner::converged(std::string& why) {
  std::set<std::string> live;
  const auto nodes = cluster_.nodes();
  for (const auto& n : nodes) {
    if (n.state == NodeState::running) live.insert(n.name);
  }
  for (const auto& n : nodes) {
    if (n.state != NodeState::running) continue;
    auto answer = n.admin->get("/v1/members", poll_timeout);
    if (!answer || answer->status != 200) {
      why = n.name + ": members not readable";
      return false;
    }
    const auto reply = json::parse(answer->body, nullptr, false);
    if (!reply.is_object() || !reply.contains("members") || !reply["members"].is_array()) {
      why = n.name + ": unexpected members answer";
      return false;
    }
    std::set<std::string> members;
    for (const auto& m : reply["members"]) {
      members.insert(m.value("name", ""));
      if (!m.value("self", false) && !m.value("up", false)) {
        why = n.name + " sees " + m.value("name", "") + " down";
        return false;
      }
    }
    if (members != live) {
      why = n.name + " lists " + std::to_string(members.size()) + " members, " + std::to_string(live.size()) + " nodes run";
      return false;
    }
  }
  return true;
}

void Runner::scrape(const NodeView& node, std::vector<MetricsSample>& into) {
  if (node.state != NodeState::running || !node.admin) return;
  auto answer = node.admin->get("/metrics", poll_timeout);
  if (!answer || answer->status != 200) return;
  into.push_back({node.name, node.instance, parse_metrics(answer->body)});
}

}  // namespace plexus::harness
