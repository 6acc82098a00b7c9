// Dedupe and AckBatcher implementation. Per sender instance the state is a
// watermark plus the ordered set of delivered ids above it; the set is
// folded into the watermark as soon as it becomes contiguous with it.
#include "plexus/delivery/dedupe.hpp"

#include <algorithm>
#include <cassert>
#include <iterator>

#include "plexus/core/fault.hpp"

namespace plexus::delivery {

Dedupe::Dedupe(Options options) : options_(options) {
  assert(options_.max_instances > 0);
  assert(options_.max_out_of_order > 0 && options_.max_ahead > 1);
}

Dedupe::Sender* Dedupe::find_or_admit(std::uint64_t sender_instance, std::string_view sender_name) {
  auto it = senders_.find(sender_instance);
  if (it != senders_.end()) return it->second.name == sender_name ? &it->second : nullptr;
  if (senders_.size() >= options_.max_instances) {
    if (options_.when_full == WhenFull::refuse) return nullptr;
    auto lru = std::min_element(senders_.begin(), senders_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    // Evicted, not forgotten: the instance is probably alive and may come back.
    senders_.erase(lru);
  }
  Sender& sender = senders_[sender_instance];
  sender.name = std::string(sender_name);
  return &sender;
}

Verdict Dedupe::check(std::uint64_t sender_instance, std::string_view sender_name, std::uint64_t id) {
  if (id == 0 || forgotten_.contains(sender_instance)) return Verdict::stale;
  const bool known = senders_.contains(sender_instance);
  Sender* sender = find_or_admit(sender_instance, sender_name);
  if (sender == nullptr) return known ? Verdict::stale : Verdict::overflow;
  sender->last_used = ++use_clock_;
  if (id <= sender->watermark || sender->above.contains(id)) return Verdict::duplicate;
  // Refusing a first arrival unacked is always safe: the sender retransmits.
  if (PLEXUS_FAULT("delivery.dedupe.refuse")) return Verdict::overflow;
  if (id == sender->watermark + 1) {
    ++sender->watermark;
    // Fold the now-contiguous run of held ids into the watermark.
    auto it = sender->above.begin();
    while (it != sender->above.end() && *it == sender->watermark + 1) {
      ++sender->watermark;
      it = sender->above.erase(it);
    }
    return Verdict::deliver;
  }
  if (id - sender->watermark > options_.max_ahead || sender->above.size() >= options_.max_out_of_order) {
    return Verdict::overflow;
  }
  sender->above.insert(id);
  return Verdict::deliver;
}

void Dedupe::tombstone(std::uint64_t sender_instance) {
  if (options_.max_forgotten == 0 || !forgotten_.insert(sender_instance).second) return;
  forgotten_order_.push_back(sender_instance);
  if (forgotten_order_.size() > options_.max_forgotten) {
    forgotten_.erase(forgotten_order_.front());
    forgotten_order_.pop_front();
  }
}

void Dedupe::forget_instance(std::uint64_t sender_instance) {
  senders_.erase(sender_instance);
  tombstone(sender_instance);
}

void Dedupe::retain_only(const std::set<std::uint64_t>& live) {
  for (auto it = senders_.begin(); it != senders_.end();) {
    if (live.contains(it->first)) {
      ++it;
    } else {
      tombstone(it->first);
      it = senders_.erase(it);
    }
  }
}

std::uint64_t Dedupe::watermark(std::uint64_t sender_instance) const {
  auto it = senders_.find(sender_instance);
  return it == senders_.end() ? 0 : it->second.watermark;
}

std::size_t Dedupe::held(std::uint64_t sender_instance) const {
  auto it = senders_.find(sender_instance);
  return it == senders_.end() ? 0 : it->second.above.size();
}

bool Dedupe::forgotten(std::uint64_t sender_instance) const { return forgotten_.contains(sender_instance); }

AckBatcher::AckBatcher(Options options) : options_(options) { assert(options_.max_ids_per_batch > 0); }

bool AckBatcher::add(std::string_view origin, std::uint64_t id) {
  auto it = by_origin_.find(origin);
  if (it != by_origin_.end() && it->second.contains(id)) return true;
  if (pending_ >= options_.max_pending_ids) return false;
  if (PLEXUS_FAULT("delivery.ack_batcher.drop")) return false;  // a lost ack: retransmitted, re-acked
  if (it == by_origin_.end()) it = by_origin_.emplace(std::string(origin), std::set<std::uint64_t>{}).first;
  it->second.insert(id);
  ++pending_;
  return true;
}

std::vector<AckBatch> AckBatcher::drain() {
  std::vector<AckBatch> out;
  for (auto& [origin, ids] : by_origin_) {
    for (auto it = ids.begin(); it != ids.end();) {
      AckBatch batch{origin, {}};
      const auto left = static_cast<std::size_t>(std::distance(it, ids.end()));
      batch.ids.reserve(std::min(left, options_.max_ids_per_batch));
      for (; it != ids.end() && batch.ids.size() < options_.max_ids_per_batch; ++it) batch.ids.push_back(*it);
      out.push_back(std::move(batch));
    }
  }
  by_origin_.clear();
  pending_ = 0;
  return out;
}

}  // namespace plexus::delivery
