// The presence workload: track / untrack / update of a few keys in a few
// topics, from random nodes, through each node's admin API. Each node gets an
// owner (opened lazily, again after a restart or a lost lease) whose lease the
// harness renews; the meta of every presence names the op that wrote it and its
// owner, so a `list` tells exactly which (key, owner, op) a node shows. Every
// running node lists every topic every read_interval_ms (the reads the
// presence checker judges); after the liveness phase the harness waits
// (bounded) until all nodes list the same, then takes the final reads.
#include <random>
#include <thread>

#include "plexus/core/errors.hpp"
#include "tools/harness/runner.hpp"

namespace plexus::harness {
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto call_timeout = 2000ms;
constexpr auto list_timeout = 800ms;
constexpr auto settle_deadline = 10s;
constexpr auto settle_poll = 100ms;
constexpr int list_limit = 100'000;

std::string code_of(const std::string& body) {
  const auto reply = json::parse(body, nullptr, false);
  return reply.is_object() ? reply.value("code", "") : "";
}

}  // namespace

// Caller holds presence_mutex_.
std::optional<std::string> Runner::presence_owner(const std::string& name, std::int64_t& id) {
  const NodeView node = cluster_.node(name);
  if (node.state != NodeState::running || !node.admin) return name + " is not running";
  auto& slot = presence_owners_[name];
  if (slot.generation == node.generation && slot.id != 0) {
    id = slot.id;
    return std::nullopt;
  }
  auto answer = node.admin->post("/v1/presence/owners", {{"ttl_ms", presence_->lease_ms}}, call_timeout);
  if (!answer) return answer.error().detail;
  const auto reply = json::parse(answer->body, nullptr, false);
  if (answer->status != 200 || !reply.is_object() || !reply.contains("owner")) {
    return "opening an owner: HTTP " + std::to_string(answer->status) + " " + code_of(answer->body);
  }
  id = reply["owner"].get<std::int64_t>();
  slot = {node.generation, id, name + "/" + node.instance + "/" + std::to_string(id), history_.now_ms()};
  for (auto it = presence_keys_.begin(); it != presence_keys_.end();) {  // a new owner tracks nothing yet
    it = std::get<0>(it->first) == name && !it->second.busy ? presence_keys_.erase(it) : std::next(it);
  }
  history_.presence_owner(slot.tag, "opened", {name, node.instance, 0, -1});
  return std::nullopt;
}

void Runner::do_presence(const Workload& w, const PlannedOp& op, std::size_t index) {
  const std::string& name = names_[std::size_t(op.from)];
  // The op's topic, key and update roll: from the seed and the op's index, so a replay picks the same.
  std::mt19937_64 rng(options_.seed ^ (0xa24baed4963ee407ULL * (index + 1)));
  const auto r = rng();
  const std::string topic = "t" + std::to_string(r % std::uint64_t(w.topics));
  const std::string key = "k" + std::to_string((r >> 20) % std::uint64_t(w.keys));
  const bool update_roll = double((r >> 40) % 1000) < w.update_share * 1000;
  std::int64_t owner = 0;
  std::string action, tag;
  {
    std::lock_guard lock(presence_mutex_);
    if (presence_owner(name, owner)) return;  // node down or unreachable: no op to record
    tag = presence_owners_[name].tag;
    auto& k = presence_keys_[{name, topic, key}];
    if (k.busy) return;  // one op at a time per element
    k.busy = true;
    action = k.state == 0 ? "track" : k.state == 2 ? "untrack" : update_roll ? "update" : "untrack";
  }
  const auto id = history_.invoke("presence", name, name, {{"action", action}, {"topic", topic}, {"key", key}, {"owner", tag}});
  history_.presence_op({id, action, tag, topic, key});
  json body{{"owner", owner}, {"topic", topic}, {"key", key}};
  if (action != "untrack") body["meta"] = {{"op", id}, {"owner", tag}};
  const NodeView node = cluster_.node(name);
  std::string outcome = "info", error, code;
  if (node.state != NodeState::running || !node.admin) {
    outcome = "fail";
    error = name + " is not running";
  } else if (auto answer = node.admin->post("/v1/presence/" + action, body, call_timeout); !answer) {
    outcome = answer.error().code == make_error_code(errc::dial_failed) ? "fail" : "info";
    error = answer.error().detail;
  } else if (answer->status == 200) {
    outcome = "ok";
  } else {
    code = code_of(answer->body);
    error = std::to_string(answer->status) + " " + code;
    const int s = answer->status;
    outcome = s == 400 || s == 404 || s == 409 || s == 503 ? "fail" : "info";  // definite refusals change nothing
  }
  history_.complete(id, outcome, error);
  std::lock_guard lock(presence_mutex_);
  auto& slot = presence_owners_[name];
  auto& k = presence_keys_[{name, topic, key}];
  k.busy = false;
  if (slot.tag != tag) {  // the owner changed meanwhile: its keys start afresh
    presence_keys_.erase({name, topic, key});
    return;
  }
  if (outcome == "ok") k.state = action == "untrack" ? 0 : 1;
  else if (code == "not_tracked") k.state = 0;
  else if (code == "already_tracked") k.state = 1;
  else if (outcome == "info") k.state = 2;
  if (code == "unknown_owner") {
    history_.presence_owner(tag, "lost", {});
    slot.id = 0;
  }
}

// Caller holds no lock.
void Runner::renew_owner(const NodeView& node) {
  std::lock_guard lock(presence_mutex_);
  auto it = presence_owners_.find(node.name);
  if (it == presence_owners_.end() || it->second.id == 0 || it->second.generation != node.generation) return;
  auto& slot = it->second;
  if (history_.now_ms() - slot.renewed_ms < presence_->lease_ms / 4.0) return;
  auto answer = node.admin->post("/v1/presence/owners/" + std::to_string(slot.id) + "/renew", {{"ttl_ms", presence_->lease_ms}},
                                 list_timeout);
  if (!answer) return;  // paused or cut off from the harness: try again next round
  if (answer->status == 200) {
    slot.renewed_ms = history_.now_ms();
  } else if (answer->status == 404) {
    history_.presence_owner(slot.tag, "lost", {});
    slot.id = 0;
  }
}

bool Runner::presence_round(bool final) {
  bool agreed = true;
  std::map<std::string, std::map<std::pair<std::string, std::string>, std::uint64_t>> first;  // topic -> first listing
  for (const auto& node : cluster_.nodes()) {
    if (node.state != NodeState::running || !node.admin) continue;
    renew_owner(node);
    for (int t = 0; t < presence_->topics; ++t) {
      PresenceRead read{node.name, node.instance, "t" + std::to_string(t), history_.now_ms(), 0, final, {}};
      auto answer = node.admin->get("/v1/presence/list?topic=" + read.topic + "&limit=" + std::to_string(list_limit), list_timeout);
      const auto reply = answer && answer->status == 200 ? json::parse(answer->body, nullptr, false) : json();
      if (!reply.is_object() || !reply.contains("presences") || !reply["presences"].is_array()) {
        agreed = false;
        continue;
      }
      read.end_ms = history_.now_ms();
      for (const auto& p : reply["presences"]) {
        const json meta = p.value("meta", json::object());
        const std::string owner = meta.is_object() ? meta.value("owner", "?") : "?";
        const std::uint64_t op = meta.is_object() ? meta.value("op", std::uint64_t(0)) : 0;
        read.listed[{p.value("key", ""), owner}] = op;
      }
      auto [it, fresh] = first.emplace(read.topic, read.listed);
      if (!fresh && it->second != read.listed) agreed = false;
      history_.presence_read(std::move(read));
    }
  }
  return agreed;
}

void Runner::presence_loop() {
  const auto every = std::chrono::milliseconds(presence_->read_interval_ms);
  while (!stop_observers_ && !interrupted) {
    const auto next = std::chrono::steady_clock::now() + every;
    presence_round(false);
    std::this_thread::sleep_until(next);  // pacing the read rate, not synchronisation
  }
}

void Runner::presence_settle() {
  history_.record({{"type", "phase"}, {"phase", "presence-settle"}});
  const auto until = std::chrono::steady_clock::now() + settle_deadline;
  while (!interrupted && std::chrono::steady_clock::now() < until && !presence_round(false)) {
    std::this_thread::sleep_for(settle_poll);  // polling a condition with a deadline
  }
  presence_round(true);
}

}  // namespace plexus::harness
