// CausalLabel: the SES state machine described in causal.hpp. Buffered
// messages are kept per sender in send order: causal order implies FIFO per
// sender, so only the oldest buffered message of each sender can be next,
// and release_unblocked() only tests those. Delivery happens inside
// receive() (and forget_process()); take_deliverable() hands out the result.
#include "plexus/delivery/causal.hpp"

#include <algorithm>
#include <cassert>
#include <type_traits>

#include "plexus/core/fault.hpp"
#include "plexus/delivery/errors.hpp"

namespace plexus::delivery {
namespace {

template <class Map>
VectorClock to_clock(const Map& map) {
  return VectorClock(map.begin(), map.end());
}

/// Ids strictly ascending and, when `counters` is set, every counter > 0.
template <class Pairs>
bool well_formed(const Pairs& pairs, std::size_t max_size, bool counters) {
  if (pairs.size() > max_size) return false;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0 && !(pairs[i - 1].first < pairs[i].first)) return false;
    if constexpr (std::is_same_v<typename Pairs::value_type::second_type, std::uint64_t>) {
      if (counters && pairs[i].second == 0) return false;
    }
  }
  return true;
}

/// Binary search of a strictly ascending vector of pairs.
template <class Pairs>
auto find_id(const Pairs& pairs, std::string_view id) {
  auto it = std::lower_bound(pairs.begin(), pairs.end(), id,
                             [](const auto& pair, std::string_view key) { return pair.first < key; });
  return it != pairs.end() && it->first == id ? it : pairs.end();
}

}  // namespace

std::size_t Stamp::entries() const noexcept {
  std::size_t count = time.size();
  for (const auto& [destination, senders] : order) count += senders.size();
  return count;
}

CausalLabel::CausalLabel(std::string self_process, Options options)
    : self_(std::move(self_process)), options_(options) {
  assert(options_.max_processes > 0 && options_.max_buffered > 0);
  known_.insert(self_);
}

bool CausalLabel::retired(std::string_view process) const { return retired_.contains(process); }

Result<Stamp> CausalLabel::stamp_send(std::string_view destination_process) {
  if (destination_process == self_) return make_error(errc::self_destination, self_);
  if (!known_.contains(destination_process)) {
    if (known_.size() >= options_.max_processes) {
      return make_error(errc::too_many_processes, "max_processes " + std::to_string(options_.max_processes));
    }
    known_.emplace(destination_process);
  }
  const std::uint64_t index = ++clock_[self_];
  Stamp stamp;
  stamp.time = to_clock(clock_);
  stamp.order.reserve(order_.size());
  for (const auto& [destination, senders] : order_) stamp.order.emplace_back(destination, to_clock(senders));
  // Later messages, here and downstream, must wait for this one at the destination.
  order_[std::string(destination_process)][self_] = index;
  return stamp;
}

Result<void> CausalLabel::check(std::string_view from, const Stamp& stamp, std::uint64_t& index) const {
  if (from == self_) return make_error(errc::malformed_stamp, "message from self");
  const std::size_t max = options_.max_processes;
  bool ok = well_formed(stamp.time, max, true) && well_formed(stamp.order, max, false);
  for (std::size_t i = 0; ok && i < stamp.order.size(); ++i) ok = well_formed(stamp.order[i].second, max, true);
  if (!ok) return make_error(errc::malformed_stamp, "ids not ascending, zero counter or oversized");
  auto own = find_id(stamp.time, from);
  if (own == stamp.time.end()) return make_error(errc::malformed_stamp, "no entry for the sender");
  index = own->second;
  const std::string name(from);
  if (retired(from)) return make_error(errc::stale_clock, name + " is retired");
  auto delivered = clock_.find(from);
  auto queue = buffer_.find(from);
  if ((delivered != clock_.end() && delivered->second >= index) ||
      (queue != buffer_.end() && queue->second.contains(index))) {
    return make_error(errc::stale_clock, name + " #" + std::to_string(index));
  }
  // A message deliverable now needs no slot: the one that unblocks a full buffer must get in.
  if (buffered_ >= options_.max_buffered && !deliverable(stamp, find_deps(stamp, self_))) {
    return make_error(errc::causal_buffer_full, "max_buffered " + std::to_string(options_.max_buffered));
  }
  if (known_.size() + unknown_processes(stamp).size() > options_.max_processes) {
    return make_error(errc::too_many_processes, "max_processes " + std::to_string(options_.max_processes));
  }
  return {};
}

std::set<std::string_view> CausalLabel::unknown_processes(const Stamp& stamp) const {
  std::set<std::string_view> fresh;
  auto note = [&](std::string_view id) {
    if (!known_.contains(id) && !retired(id)) fresh.insert(id);
  };
  for (const auto& entry : stamp.time) note(entry.first);
  for (const auto& [destination, senders] : stamp.order) {
    note(destination);
    for (const auto& entry : senders) note(entry.first);
  }
  return fresh;
}

std::size_t CausalLabel::find_deps(const Stamp& stamp, std::string_view self) {
  auto deps = find_id(stamp.order, self);
  return deps == stamp.order.end() ? no_deps : static_cast<std::size_t>(deps - stamp.order.begin());
}

Result<void> CausalLabel::admit(std::string_view from_process, const Stamp& stamp) const {
  std::uint64_t index = 0;
  auto checked = check(from_process, stamp, index);
  // A full buffer refuses unacked; the sender retransmits once there is room.
  if (checked && PLEXUS_FAULT("delivery.causal.refuse")) {
    return make_error(errc::causal_buffer_full, "fault point delivery.causal.refuse");
  }
  return checked;
}

Result<void> CausalLabel::receive(std::string from_process, Stamp stamp, std::uint64_t handle) {
  std::uint64_t index = 0;
  if (auto admitted = check(from_process, stamp, index); !admitted) return admitted;
  for (std::string_view id : unknown_processes(stamp)) known_.emplace(id);
  Pending pending;
  pending.deps = find_deps(stamp, self_);
  pending.stamp = std::move(stamp);
  pending.handle = handle;
  if (deliverable(pending.stamp, pending.deps)) {
    deliver(from_process, pending);
    ready_.push_back(handle);
    release_unblocked();
  } else {
    buffer_[std::move(from_process)].emplace(index, std::move(pending));
    ++buffered_;
  }
  return {};
}

bool CausalLabel::deliverable(const Stamp& stamp, std::size_t deps) const {
  if (deps == no_deps) return true;
  for (const auto& [sender, index] : stamp.order[deps].second) {
    if (retired(sender)) continue;  // A retired sender's messages will never come.
    auto it = clock_.find(sender);
    if (it == clock_.end() || it->second < index) return false;
  }
  return true;
}

void CausalLabel::deliver(std::string_view from, const Pending& pending) {
  const Stamp& stamp = pending.stamp;
  for (const auto& [process, count] : stamp.time) {
    if (retired(process)) continue;
    auto& mine = clock_[process];
    mine = std::max(mine, count);
  }
  for (const auto& [destination, senders] : stamp.order) {
    // Our own entry was just checked; keeping it would only grow every stamp we send.
    if (destination == self_ || retired(destination)) continue;
    auto& row = order_[destination];
    // A sender we retired still binds `destination`, which may hold its message
    // and not have retired it yet: only the destination may drop that wait.
    for (const auto& [sender, index] : senders) {
      auto& mine = row[sender];
      mine = std::max(mine, index);
    }
  }
  // The sender had delivered every message to it that tm covers before sending
  // this one, so those dependencies are met for good: stop carrying them.
  auto row = order_.find(from);
  if (row == order_.end()) return;
  std::erase_if(row->second, [&](const auto& entry) {
    auto seen = find_id(stamp.time, entry.first);
    return seen != stamp.time.end() && seen->second >= entry.second;
  });
  if (row->second.empty()) order_.erase(row);
}

void CausalLabel::release_unblocked() {
  for (bool progress = true; progress;) {
    progress = false;
    for (auto it = buffer_.begin(); it != buffer_.end();) {
      auto& queue = it->second;
      while (!queue.empty() && deliverable(queue.begin()->second.stamp, queue.begin()->second.deps)) {
        deliver(it->first, queue.begin()->second);
        ready_.push_back(queue.begin()->second.handle);
        queue.erase(queue.begin());
        --buffered_;
        progress = true;
      }
      it = queue.empty() ? buffer_.erase(it) : std::next(it);
    }
  }
}

std::vector<std::uint64_t> CausalLabel::take_deliverable() { return std::exchange(ready_, {}); }

std::vector<std::uint64_t> CausalLabel::forget_process(std::string_view process) {
  std::vector<std::uint64_t> dropped;
  if (process == self_) return dropped;
  if (options_.max_retired == 0) {
    erase_sender(process);  // not remembered as retired: nothing would skip its entries
  } else if (retired_.emplace(process).second) {
    retired_order_.emplace_back(process);
    if (retired_order_.size() > options_.max_retired) {
      // Forgotten for good: its entries would read as a live sender's from now on.
      const std::string oldest = std::move(retired_order_.front());
      retired_order_.pop_front();
      retired_.erase(oldest);
      erase_sender(oldest);
    }
  }
  if (auto it = clock_.find(process); it != clock_.end()) clock_.erase(it);
  // Nobody delivers to it any more; but its entries in other destinations' rows
  // stay: each destination skips them once it retires the process itself.
  if (auto it = order_.find(process); it != order_.end()) order_.erase(it);
  if (auto queue = buffer_.find(process); queue != buffer_.end()) {
    for (const auto& [index, pending] : queue->second) dropped.push_back(pending.handle);
    buffered_ -= queue->second.size();
    buffer_.erase(queue);
  }
  if (auto it = known_.find(process); it != known_.end()) known_.erase(it);
  release_unblocked();  // messages that waited only for the retired process
  return dropped;
}

void CausalLabel::erase_sender(std::string_view process) {
  for (auto it = order_.begin(); it != order_.end();) {
    if (auto entry = it->second.find(process); entry != it->second.end()) it->second.erase(entry);
    it = it->second.empty() ? order_.erase(it) : std::next(it);
  }
}

VectorClock CausalLabel::clock() const { return to_clock(clock_); }

}  // namespace plexus::delivery
