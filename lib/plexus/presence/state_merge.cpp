// presence::State: batches (deltas and full states), the join, and replicas.
#include <algorithm>

#include "plexus/core/errors.hpp"
#include "plexus/presence/state_impl.hpp"

namespace plexus::presence {

using detail::no_slot;

namespace {

/// Fill `batch` with the entries `slots` (sorted by clock), sharing topic and meta tables.
void fill_items(const State::Impl& m, const std::vector<std::uint32_t>& slots, std::size_t from,
                std::size_t to, Batch& batch) {
  std::unordered_map<std::uint32_t, std::uint32_t> topic_index;
  std::unordered_map<const nlohmann::json*, std::uint32_t> meta_index;
  batch.items.reserve(to - from);
  for (std::size_t i = from; i < to; ++i) {
    const auto& e = m.store[slots[i]];
    auto [t, new_topic] = topic_index.try_emplace(e.topic, static_cast<std::uint32_t>(batch.topics.size()));
    if (new_topic) batch.topics.push_back(m.topics[e.topic].name);
    auto [mi, new_meta] = meta_index.try_emplace(e.meta.get(), static_cast<std::uint32_t>(batch.metas.size()));
    if (new_meta) batch.metas.push_back(e.meta);
    batch.items.push_back(Batch::Item{e.owner, e.clock, t->second, mi->second, e.key});
  }
}

/// Consecutive batches over (start, end] holding `slots`, max_items each.
std::vector<Batch> split(const State::Impl& m, std::uint32_t replica, Sequence start, Sequence end,
                         std::vector<std::uint32_t> slots, std::size_t max_items) {
  std::sort(slots.begin(), slots.end(), [&](auto a, auto b) { return m.store[a].clock < m.store[b].clock; });
  std::vector<Batch> out;
  Sequence at = start;
  std::size_t from = 0;
  do {
    const std::size_t to = std::min(slots.size(), from + std::max<std::size_t>(1, max_items));
    Batch batch;
    batch.replica = m.replicas[replica].info.id;
    batch.start = at;
    batch.end = to == slots.size() ? end : m.store[slots[to - 1]].clock;
    fill_items(m, slots, from, to, batch);
    at = batch.end;
    from = to;
    out.push_back(std::move(batch));
  } while (from < slots.size());
  return out;
}

Error malformed(std::string detail) { return plexus::make_error(plexus::errc::malformed_message, std::move(detail)); }

Result<void> check(const Batch& b) {
  if (b.end < b.start) return malformed("batch end before start");
  Sequence previous = b.start;
  for (const auto& item : b.items) {
    if (item.clock <= previous || item.clock > b.end) return malformed("item clocks not increasing in range");
    if (item.topic >= b.topics.size() || item.meta >= b.metas.size()) return malformed("item table index");
    if (!b.metas[item.meta]) return malformed("null meta");
    previous = item.clock;
  }
  return {};
}

bool holds(const Batch& b, Sequence clock) {
  auto it = std::lower_bound(b.items.begin(), b.items.end(), clock,
                             [](const Batch::Item& item, Sequence c) { return item.clock < c; });
  return it != b.items.end() && it->clock == clock;
}

}  // namespace

std::optional<std::vector<Batch>> State::delta_since(Sequence start, std::size_t max_items) const {
  const auto& m = *impl_;
  const auto& self_slot = m.replicas[0];
  const Sequence now = self_slot.info.clock;
  if (start > now || start < m.log_floor) return std::nullopt;
  std::vector<std::uint32_t> slots;
  if (now - start <= self_slot.dots.size()) {
    for (Sequence c = start + 1; c <= now; ++c) {
      if (auto slot = self_slot.dots.find(c); slot != no_slot) slots.push_back(slot);
    }
  } else {
    self_slot.dots.for_each([&](std::uint32_t slot) { if (m.store[slot].clock > start) slots.push_back(slot); });
  }
  auto batches = split(m, 0, start, now, std::move(slots), max_items);
  auto first = std::upper_bound(m.removal_log.begin(), m.removal_log.end(), start,
                                [](Sequence c, const auto& entry) { return c < entry.first; });
  for (auto it = first; it != m.removal_log.end(); ++it) {
    if (it->second <= start) batches.front().removed.push_back(it->second);
  }
  return batches;
}

std::vector<Batch> State::extract(std::uint64_t instance, std::size_t max_items) const {
  const auto& m = *impl_;
  const std::uint32_t index = m.replica_index(instance);
  if (index == no_slot) return {};
  std::vector<std::uint32_t> slots;
  slots.reserve(m.replicas[index].dots.size());
  m.replicas[index].dots.for_each([&](std::uint32_t slot) { slots.push_back(slot); });
  return split(m, index, 0, m.replicas[index].info.clock, std::move(slots), max_items);
}

Result<void> State::merge(const Batch& batch, Diff* diff) {
  auto& m = *impl_;
  if (batch.replica.instance == self().instance) return {};  // we are the authority on ourselves
  if (auto valid = check(batch); !valid) return valid;
  auto index = m.ensure_replica(batch.replica, diff);
  if (!index) return index.error();
  auto& r = m.replicas[*index];
  if (batch.start > r.info.clock) {
    return make_error(errc::delta_gap, "delta starts at " + std::to_string(batch.start) + ", we know " +
                                           std::to_string(r.info.clock));
  }
  // Observed removes: what we hold in the batch's range and it does not, and its removed dots.
  std::vector<std::uint32_t> gone;
  const Sequence top = std::min(batch.end, r.info.clock);
  if (top > batch.start && top - batch.start <= r.dots.size()) {
    for (Sequence c = batch.start + 1; c <= top; ++c) {
      if (auto slot = r.dots.find(c); slot != no_slot && !holds(batch, c)) gone.push_back(slot);
    }
  } else if (top > batch.start) {
    r.dots.for_each([&](std::uint32_t slot) {
      const Sequence c = m.store[slot].clock;
      if (c > batch.start && c <= top && !holds(batch, c)) gone.push_back(slot);
    });
  }
  for (Sequence d : batch.removed) {
    if (d > batch.start) continue;
    if (auto slot = r.dots.find(d); slot != no_slot) gone.push_back(slot);
  }
  std::sort(gone.begin(), gone.end());
  gone.erase(std::unique(gone.begin(), gone.end()), gone.end());
  for (std::uint32_t slot : gone) m.remove_entry(slot, diff);
  // Adds we have not observed yet (beyond our knowledge).
  std::vector<MetaPtr> metas(batch.metas.size());
  std::vector<std::uint32_t> topics(batch.topics.size(), no_slot);
  const Sequence known = m.replicas[*index].info.clock;
  for (const auto& item : batch.items) {
    if (item.clock <= known) continue;
    if (!metas[item.meta]) metas[item.meta] = m.metas.intern(batch.metas[item.meta]);
    if (topics[item.topic] == no_slot) topics[item.topic] = m.topics.intern(batch.topics[item.topic]);
    m.add_entry(*index, item.clock, item.owner, topics[item.topic], item.key, metas[item.meta], diff);
  }
  auto& info = m.replicas[*index].info;
  info.clock = std::max(info.clock, batch.end);
  return {};
}

std::uint32_t State::Impl::replica_index(std::uint64_t instance) const {
  auto it = by_instance.find(instance);
  return it == by_instance.end() ? no_slot : it->second;
}

Result<std::uint32_t> State::Impl::ensure_replica(const Replica& replica, Diff* diff) {
  if (auto index = replica_index(replica.instance); index != no_slot) return index;
  if (dropped.contains(replica.instance)) {
    return make_error(errc::unknown_replica, replica.node + "#" + std::to_string(replica.instance));
  }
  // A new instance of a known (node, shard): the old life's presences go now.
  for (std::uint32_t i = 1; i < replicas.size(); ++i) {
    const auto& id = replicas[i].info.id;
    if (replicas[i].live && id.node == replica.node && id.shard == replica.shard) drop(i, diff);
  }
  std::uint32_t index;
  if (!free_replicas.empty()) {
    index = free_replicas.back();
    free_replicas.pop_back();
    replicas[index] = make_replica(replica);
  } else {
    index = static_cast<std::uint32_t>(replicas.size());
    replicas.push_back(make_replica(replica));
  }
  by_instance.emplace(replica.instance, index);
  return index;
}

void State::Impl::drop(std::uint32_t index, Diff* diff) {
  if (index == 0 || !replicas[index].live) return;
  std::vector<std::uint32_t> slots;
  replicas[index].dots.for_each([&](std::uint32_t slot) { slots.push_back(slot); });
  for (std::uint32_t slot : slots) remove_entry(slot, diff);
  const std::uint64_t instance = replicas[index].info.id.instance;
  replicas[index] = make_replica(Replica{});
  replicas[index].live = false;
  by_instance.erase(instance);
  free_replicas.push_back(index);
  dropped.insert(instance);
  dropped_order.push_back(instance);
  while (dropped_order.size() > tombstones_max) {
    dropped.erase(dropped_order.front());
    dropped_order.pop_front();
  }
}

std::vector<ReplicaInfo> State::replicas() const {
  std::vector<ReplicaInfo> out;
  for (const auto& r : impl_->replicas) if (r.live) out.push_back(r.info);
  return out;
}

std::optional<ReplicaInfo> State::replica(std::uint64_t instance) const {
  const std::uint32_t index = impl_->replica_index(instance);
  if (index == no_slot) return std::nullopt;
  return impl_->replicas[index].info;
}

Sequence State::known_clock(std::uint64_t instance) const {
  const std::uint32_t index = impl_->replica_index(instance);
  return index == no_slot ? 0 : impl_->replicas[index].info.clock;
}

Result<void> State::add_replica(const Replica& replica, Diff* diff) {
  if (replica.instance == self().instance) return {};
  auto index = impl_->ensure_replica(replica, diff);
  if (!index) return index.error();
  return {};
}

void State::set_up(std::uint64_t instance, bool up, Diff* diff) {
  auto& m = *impl_;
  const std::uint32_t index = m.replica_index(instance);
  if (index == no_slot || index == 0 || m.replicas[index].info.up == up) return;
  auto& r = m.replicas[index];
  if (up) r.info.up = true;
  r.dots.for_each([&](std::uint32_t slot) { m.report(m.store[slot], up, diff); });
  if (!up) r.info.up = false;
}

void State::drop_replica(std::uint64_t instance, Diff* diff) {
  const std::uint32_t index = impl_->replica_index(instance);
  if (index != no_slot) impl_->drop(index, diff);
}

bool State::is_dropped(std::uint64_t instance) const { return impl_->dropped.contains(instance); }

}  // namespace plexus::presence
