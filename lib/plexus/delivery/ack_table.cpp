// AckTable implementation. Every pending entry sits in `schedule_` exactly
// once, keyed by its next event: the earlier of its next retransmission and
// its age deadline. due() and expired() pop events in time order; entries
// given up move to `gave_up_` (still counted against the limits) until
// expired() hands them out.
#include "plexus/delivery/ack_table.hpp"

#include <algorithm>
#include <cassert>

#include "plexus/delivery/errors.hpp"

namespace plexus::delivery {

AckTable::AckTable(Options options) : options_(options) {
  assert(options_.retransmit_interval > Time{0});
  assert(options_.retransmit_interval_max >= options_.retransmit_interval);
}

Result<std::uint64_t> AckTable::add(std::string target, Payload payload, Time now) {
  if (size() >= options_.max_entries) {
    return make_error(errc::ack_table_full, "max_entries " + std::to_string(options_.max_entries));
  }
  if (payload.size() > options_.max_bytes - bytes_) {
    return make_error(errc::ack_table_full, "max_bytes " + std::to_string(options_.max_bytes));
  }
  auto target_it = targets_.find(target);
  if (target_it == targets_.end()) {
    if (targets_.size() >= options_.max_targets) {
      return make_error(errc::ack_table_full, "max_targets " + std::to_string(options_.max_targets));
    }
    target_it = targets_.emplace(target, TargetState{}).first;
  }
  TargetState& state = target_it->second;
  const std::uint64_t id = state.next_id++;
  const std::uint64_t serial = next_serial_++;
  bytes_ += payload.size();
  Entry& entry = entries_[serial];
  entry.target = std::move(target);
  entry.id = id;
  entry.payload = std::move(payload);
  entry.first_sent = now;
  entry.interval = options_.retransmit_interval;
  state.serial_by_id.emplace(id, serial);
  schedule(serial, entry, now + entry.interval);
  return id;
}

std::uint64_t AckTable::next_id(std::string_view target) const {
  const auto it = targets_.find(target);
  return it == targets_.end() ? 1 : it->second.next_id;
}

void AckTable::schedule(std::uint64_t serial, Entry& entry, Time next_send) {
  entry.event = next_send;
  if (options_.max_age > Time{0}) entry.event = std::min(next_send, entry.first_sent + options_.max_age);
  schedule_.emplace(entry.event, serial);
}

void AckTable::erase(std::uint64_t serial) {
  auto it = entries_.find(serial);
  assert(it != entries_.end());
  schedule_.erase({it->second.event, serial});
  bytes_ -= it->second.payload.size();
  entries_.erase(it);
}

bool AckTable::acknowledge(std::string_view target, std::uint64_t id) {
  auto target_it = targets_.find(target);
  if (target_it == targets_.end()) return false;
  auto& by_id = target_it->second.serial_by_id;
  auto it = by_id.find(id);
  if (it == by_id.end()) return false;
  erase(it->second);
  by_id.erase(it);
  return true;
}

std::size_t AckTable::acknowledge(std::string_view target, std::span<const std::uint64_t> ids) {
  std::size_t count = 0;
  for (std::uint64_t id : ids) count += acknowledge(target, id) ? 1 : 0;
  return count;
}

std::size_t AckTable::acknowledge_up_to(std::string_view target, std::uint64_t watermark) {
  auto target_it = targets_.find(target);
  if (target_it == targets_.end()) return 0;
  auto& by_id = target_it->second.serial_by_id;
  const auto end = by_id.upper_bound(watermark);
  std::size_t count = 0;
  for (auto it = by_id.begin(); it != end; ++it, ++count) erase(it->second);
  by_id.erase(by_id.begin(), end);
  return count;
}

std::error_code AckTable::give_up_reason(const Entry& entry, Time now) const {
  if (options_.max_age > Time{0} && now - entry.first_sent >= options_.max_age) return errc::too_old;
  if (options_.max_attempts > 0 && entry.attempts >= options_.max_attempts) return errc::gave_up;
  return {};
}

void AckTable::give_up(std::uint64_t serial, std::error_code reason, Time now) {
  Entry& entry = entries_.at(serial);
  targets_.at(entry.target).serial_by_id.erase(entry.id);
  // The payload stays counted in bytes_ until expired() hands it out.
  gave_up_.push_back(GaveUp{now, Failed{std::move(entry.target), entry.id, std::move(entry.payload),
                                        reason, entry.attempts}});
  schedule_.erase({entry.event, serial});
  entries_.erase(serial);
}

std::vector<Due> AckTable::due(Time now, std::size_t limit) {
  std::vector<Due> out;
  while (out.size() < limit && !schedule_.empty() && schedule_.begin()->first <= now) {
    const std::uint64_t serial = schedule_.begin()->second;
    Entry& entry = entries_.at(serial);
    if (auto reason = give_up_reason(entry, now)) {
      give_up(serial, reason, now);
      continue;
    }
    schedule_.erase(schedule_.begin());
    ++entry.attempts;
    if (options_.exponential_backoff) {
      entry.interval = std::min(entry.interval * 2, options_.retransmit_interval_max);
    }
    schedule(serial, entry, now + entry.interval);
    // std::map nodes are stable, and this loop erases only entries it does not return.
    out.push_back(Due{entry.target, entry.id, entry.payload, entry.attempts});
  }
  return out;
}

std::vector<Failed> AckTable::expired(Time now) {
  // Give up on due entries past their limits; due entries still within them stay for due().
  for (auto it = schedule_.begin(); it != schedule_.end() && it->first <= now;) {
    const std::uint64_t serial = it->second;
    ++it;  // give_up() erases the current element only.
    if (auto reason = give_up_reason(entries_.at(serial), now)) give_up(serial, reason, now);
  }
  std::vector<Failed> out;
  out.reserve(gave_up_.size());
  for (GaveUp& g : gave_up_) {
    bytes_ -= g.failed.payload.size();
    out.push_back(std::move(g.failed));
  }
  gave_up_.clear();
  return out;
}

std::vector<Failed> AckTable::fail_target(std::string_view target) {
  std::vector<Failed> out;
  auto target_it = targets_.find(target);
  if (target_it == targets_.end()) return out;
  for (auto [id, serial] : target_it->second.serial_by_id) {
    Entry& entry = entries_.at(serial);
    out.push_back(Failed{entry.target, id, std::move(entry.payload), errc::target_left, entry.attempts});
    entry.payload.clear();
    schedule_.erase({entry.event, serial});
    entries_.erase(serial);
    bytes_ -= out.back().payload.size();
  }
  targets_.erase(target_it);
  return out;
}

std::optional<Time> AckTable::next_deadline() const {
  std::optional<Time> next;
  if (!gave_up_.empty()) next = gave_up_.front().at;
  if (!schedule_.empty()) next = next ? std::min(*next, schedule_.begin()->first) : schedule_.begin()->first;
  return next;
}

std::size_t AckTable::size_for(std::string_view target) const {
  auto it = targets_.find(target);
  return it == targets_.end() ? 0 : it->second.serial_by_id.size();
}

}  // namespace plexus::delivery
