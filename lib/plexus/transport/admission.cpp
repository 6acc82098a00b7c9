#include "plexus/transport/admission.hpp"

#include <cassert>

namespace plexus::transport {

Admission::Admission(AdmissionLimits limits) : limits_(limits) {
  assert(limits_.capacity >= 1);
  assert(limits_.reserved_for_members < limits_.capacity);
  assert(limits_.per_source_max >= 1);
}

template <class Eligible>
std::optional<Admission::Id> Admission::weakest(Eligible eligible) const {
  // Weakest: the earliest stage; within it a stranger's before a member
  // address's; then the oldest (map order).
  std::optional<Id> best;
  std::pair<Stage, bool> best_key{};
  for (const auto& [id, entry] : entries_) {
    if (!eligible(entry)) continue;
    const std::pair<Stage, bool> key{entry.stage, entry.member_source};
    if (!best || key < best_key) {
      best = id;
      best_key = key;
      if (key == std::pair{Stage::connected, false}) break;  // nothing is weaker
    }
  }
  return best;
}

std::vector<Admission::Close> Admission::on_accept(Id id, const std::string& source, bool member_source,
                                                   Clock::time_point now) {
  assert(!entries_.contains(id));
  assert(entries_.empty() || entries_.rbegin()->first < id);
  std::vector<Close> out;
  const auto evict = [&](std::optional<Id> victim, errc reason) {
    if (!victim) return;
    out.push_back({*victim, reason});
    erase(*victim);
  };
  if (!member_source) {
    const auto it = per_source_.find(source);
    if (it != per_source_.end() && it->second >= limits_.per_source_max) {
      evict(weakest([&](const Entry& e) { return e.source == source; }), errc::evicted_source_limit);
    }
    if (strangers_ >= limits_.capacity - limits_.reserved_for_members) {
      evict(weakest([](const Entry& e) { return !e.member_source; }), errc::evicted_table_full);
    }
  }
  if (entries_.size() >= limits_.capacity) {
    evict(weakest([](const Entry&) { return true; }), errc::evicted_table_full);
  }
  entries_.emplace(id, Entry{source, member_source, Stage::connected, now});
  ++per_source_[source];
  if (!member_source) ++strangers_;
  assert(entries_.size() <= limits_.capacity);
  return out;
}

void Admission::on_bytes(Id id) {
  const auto it = entries_.find(id);
  if (it != entries_.end() && it->second.stage == Stage::connected) it->second.stage = Stage::sent_bytes;
}

void Admission::on_hello(Id id, bool member_name) {
  const auto it = entries_.find(id);
  if (it != entries_.end()) it->second.stage = member_name ? Stage::hello_member : Stage::hello_stranger;
}

void Admission::on_done(Id id) { erase(id); }

std::vector<Admission::Close> Admission::expire(Clock::time_point now) {
  std::vector<Close> out;
  for (const auto& [id, entry] : entries_) {
    if (entry.accepted + limits_.first_bytes_timeout > now) break;  // the rest are younger
    if (entry.stage == Stage::connected) out.push_back({id, errc::first_bytes_timeout});
  }
  for (const auto& close : out) erase(close.id);
  return out;
}

std::optional<Admission::Stage> Admission::stage(Id id) const {
  const auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.stage;
}

void Admission::erase(Id id) {
  const auto it = entries_.find(id);
  if (it == entries_.end()) return;
  const auto source = per_source_.find(it->second.source);
  if (--source->second == 0) per_source_.erase(source);
  if (!it->second.member_source) --strangers_;
  entries_.erase(it);
}

}  // namespace plexus::transport
