#include "tools/harness/history.hpp"

#include <cmath>

namespace plexus::harness {

using nlohmann::json;

History::History(const std::string& jsonl_path) : out_(jsonl_path, std::ios::trunc) {}

double History::now_ms() const {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
}

void History::write(json event) {
  event["t_ms"] = std::round(now_ms() * 1000) / 1000;
  event["index"] = events_++;
  out_ << event.dump() << '\n';
  out_.flush();
}

void History::record(json event) {
  std::lock_guard lock(mutex_);
  write(std::move(event));
}

std::uint64_t History::invoke(const std::string& workload, const std::string& from, const std::string& to,
                              const json& value) {
  std::lock_guard lock(mutex_);
  const auto id = next_op_++;
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
  op_index_[id] = data_.ops.size();
  data_.ops.push_back({id, workload, from, to, now_ms(), -1, wall, "", ""});
  write({{"type", "invoke"}, {"f", workload}, {"op", id}, {"from", from}, {"to", to}, {"value", value}});
  return id;
}

void History::complete(std::uint64_t id, const std::string& outcome, const std::string& error) {
  std::lock_guard lock(mutex_);
  Op& op = data_.ops[op_index_.at(id)];
  op.complete_ms = now_ms();
  op.outcome = outcome;
  op.error = error;
  json event{{"type", outcome}, {"f", op.workload}, {"op", id}, {"from", op.from}, {"to", op.to}};
  if (!error.empty()) event["error"] = error;
  write(std::move(event));
}

void History::delivered(Delivery d) {
  std::lock_guard lock(mutex_);
  d.observed_ms = now_ms();
  ++delivered_count_[d.op_id];
  write({{"type", "delivered"}, {"f", d.workload}, {"op", d.op_id}, {"node", d.node}, {"instance", d.instance},
         {"seq", d.seq}, {"from", d.from}});
  data_.deliveries.push_back(std::move(d));
}

void History::process(const std::string& node, const std::string& event, const std::string& instance) {
  std::lock_guard lock(mutex_);
  data_.processes.push_back({now_ms(), node, event, instance});
  write({{"type", "process"}, {"node", node}, {"event", event}, {"instance", instance}});
}

void History::observed(const std::string& observer, const std::string& peer, bool up) {
  std::lock_guard lock(mutex_);
  data_.observations.push_back({now_ms(), observer, peer, up});
  write({{"type", "observe"}, {"observer", observer}, {"peer", peer}, {"up", up}});
}

int History::fault_started(const std::string& fault, int id, std::set<std::pair<std::string, std::string>> affected) {
  std::lock_guard lock(mutex_);
  data_.faults.push_back({id, fault, now_ms(), -1, std::move(affected)});
  return id;
}

void History::fault_ended(int id) {
  std::lock_guard lock(mutex_);
  for (auto& f : data_.faults) {
    if (f.id == id && f.end_ms < 0) f.end_ms = now_ms();
  }
}

void History::causal_past(std::uint64_t op_id, const std::set<std::uint64_t>& past) {
  std::lock_guard lock(mutex_);
  data_.causal_deps[op_id] = past;
}

std::set<std::uint64_t> History::causal_past_of(std::uint64_t op_id) const {
  std::lock_guard lock(mutex_);
  auto it = data_.causal_deps.find(op_id);
  return it == data_.causal_deps.end() ? std::set<std::uint64_t>{} : it->second;
}

void History::presence_op(PresenceOp op) {
  std::lock_guard lock(mutex_);
  data_.presence_ops.push_back(std::move(op));
}

void History::presence_read(PresenceRead read) {
  std::lock_guard lock(mutex_);
  json listed = json::array();
  for (const auto& [element, op] : read.listed) listed.push_back({element.first, element.second, op});
  json event{{"type", "read"}, {"f", "presence"}, {"node", read.node}, {"instance", read.instance}, {"topic", read.topic},
             {"start_ms", std::round(read.start_ms * 1000) / 1000}, {"value", listed}};
  if (read.final) event["final"] = true;
  write(std::move(event));
  data_.presence_reads.push_back(std::move(read));
}

void History::presence_owner(const std::string& tag, const std::string& event, PresenceOwner owner) {
  std::lock_guard lock(mutex_);
  write({{"type", "owner"}, {"event", event}, {"owner", tag}, {"node", owner.node}});
  if (event == "lost") {
    if (auto it = data_.presence_owners.find(tag); it != data_.presence_owners.end()) it->second.lost_ms = now_ms();
    return;
  }
  owner.opened_ms = now_ms();
  data_.presence_owners[tag] = std::move(owner);
}

std::size_t History::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::vector<Op> History::ops_snapshot() const {
  std::lock_guard lock(mutex_);
  return data_.ops;
}

std::size_t History::deliveries_of(std::uint64_t op_id) const {
  std::lock_guard lock(mutex_);
  auto it = delivered_count_.find(op_id);
  return it == delivered_count_.end() ? 0 : it->second;
}

}  // namespace plexus::harness
