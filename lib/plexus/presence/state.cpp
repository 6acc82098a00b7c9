// presence::State: entries, local changes (track / untrack / update) and queries.
#include "plexus/presence/state_impl.hpp"

namespace plexus::presence {

using detail::no_slot;

State::Impl::Impl(Replica self, std::size_t log_max, std::size_t tomb_max)
    : removal_log_max(log_max),
      tombstones_max(tomb_max),
      local(LocalTraits{&store}) {
  by_instance.emplace(self.instance, 0);
  replicas.push_back(make_replica(self));
}

std::uint32_t State::Impl::add_entry(std::uint32_t replica, Sequence clock, std::uint64_t owner,
                                     std::uint32_t topic, std::string_view key, MetaPtr meta, Diff* diff) {
  const std::uint32_t slot = store.allocate();
  auto& e = store[slot];
  e.key.assign(key);
  e.meta = std::move(meta);
  e.owner = owner;
  e.clock = clock;
  e.replica = replica;
  e.topic = topic;
  e.topic_pos = topics.add(topic, slot);
  auto& r = replicas[replica];
  r.dots.insert(slot);
  ++r.info.size;
  if (replica == 0) {
    local.insert(slot);
    auto& list = owners[owner];
    e.owner_pos = static_cast<std::uint32_t>(list.size());
    list.push_back(slot);
  }
  report(e, true, diff);
  return slot;
}

void State::Impl::remove_entry(std::uint32_t slot, Diff* diff) {
  auto& e = store[slot];
  report(e, false, diff);
  auto& r = replicas[e.replica];
  r.dots.erase(slot);
  --r.info.size;
  if (e.replica == 0) {
    local.erase(slot);
    auto it = owners.find(e.owner);
    auto& list = it->second;
    const std::uint32_t last = list.back();
    list[e.owner_pos] = last;
    store[last].owner_pos = e.owner_pos;
    list.pop_back();
    if (list.empty()) owners.erase(it);
  }
  topics.remove(e.topic, e.topic_pos, store);
  store.release(slot);
}

Presence State::Impl::presence(const detail::Entry& e) const {
  const auto& id = replicas[e.replica].info.id;
  return Presence{e.key, e.meta, Ref{id.instance, e.clock}, OwnerId{id.node, e.owner}};
}

void State::Impl::report(const detail::Entry& e, bool join, Diff* diff) const {
  if (diff == nullptr || !replicas[e.replica].info.up) return;
  auto& topic = (*diff)[topics[e.topic].name];
  (join ? topic.joins : topic.leaves).push_back(presence(e));
}

std::uint32_t State::Impl::find_local(std::uint64_t owner, std::string_view topic, std::string_view key) const {
  const std::uint32_t tid = topics.find(topic);
  if (tid == no_slot) return no_slot;
  return find_local(owner, tid, key);
}

std::uint32_t State::Impl::find_local(std::uint64_t owner, std::uint32_t tid, std::string_view key) const {
  const std::uint32_t slot = local.find(LocalKey{owner, tid, key});
  return slot == detail::SlotTable<LocalTraits>::empty ? no_slot : slot;
}

void State::Impl::log_removal(Sequence event, Sequence removed) {
  removal_log.emplace_back(event, removed);
  while (removal_log.size() > removal_log_max) {
    log_floor = removal_log.front().first;
    removal_log.pop_front();
  }
}

void State::Impl::remove_local(std::uint32_t slot, Diff* diff) {
  const Sequence event = ++replicas[0].info.clock;
  log_removal(event, store[slot].clock);
  remove_entry(slot, diff);
}

State::State(Replica self, std::size_t removal_log_max, std::size_t tombstones_max)
    : impl_(std::make_unique<Impl>(std::move(self), removal_log_max, tombstones_max)) {}
State::State(State&&) noexcept = default;
State& State::operator=(State&&) noexcept = default;
State::~State() = default;

const Replica& State::self() const noexcept { return impl_->replicas[0].info.id; }
Sequence State::clock() const noexcept { return impl_->replicas[0].info.clock; }
std::size_t State::size() const noexcept { return impl_->store.size(); }

Result<Ref> State::track(std::uint64_t owner, std::string_view topic, std::string_view key,
                         const nlohmann::json& meta, Diff* diff) {
  auto& m = *impl_;
  const std::uint32_t tid = m.topics.intern(topic);
  if (m.find_local(owner, tid, key) != no_slot) {
    return make_error(errc::already_tracked, std::string(topic) + "/" + std::string(key));
  }
  const Sequence clock = ++m.replicas[0].info.clock;
  m.add_entry(0, clock, owner, tid, key, m.metas.intern(meta), diff);
  return Ref{self().instance, clock};
}

Result<Ref> State::update(std::uint64_t owner, std::string_view topic, std::string_view key,
                          const nlohmann::json& meta, Diff* diff) {
  auto& m = *impl_;
  const std::uint32_t slot = m.find_local(owner, topic, key);
  if (slot == no_slot) return make_error(errc::not_tracked, std::string(topic) + "/" + std::string(key));
  // An update is a removal of the old dot and an add under a new one, in one change.
  auto& e = m.store[slot];
  m.report(e, false, diff);
  const Sequence clock = ++m.replicas[0].info.clock;
  m.log_removal(clock, e.clock);
  auto& dots = m.replicas[0].dots;
  dots.erase(slot);
  e.clock = clock;
  dots.insert(slot);
  e.meta = m.metas.intern(meta);
  m.report(e, true, diff);
  return Ref{self().instance, clock};
}

Result<Ref> State::update(std::uint64_t owner, std::string_view topic, std::string_view key,
                          const std::function<nlohmann::json(const nlohmann::json&)>& change, Diff* diff) {
  const std::uint32_t slot = impl_->find_local(owner, topic, key);
  if (slot == no_slot) return make_error(errc::not_tracked, std::string(topic) + "/" + std::string(key));
  const nlohmann::json next = change(*impl_->store[slot].meta);
  return update(owner, topic, key, next, diff);
}

Result<void> State::untrack(std::uint64_t owner, std::string_view topic, std::string_view key, Diff* diff) {
  const std::uint32_t slot = impl_->find_local(owner, topic, key);
  if (slot == no_slot) return make_error(errc::not_tracked, std::string(topic) + "/" + std::string(key));
  impl_->remove_local(slot, diff);
  return {};
}

std::size_t State::untrack(std::uint64_t owner, Diff* diff) {
  auto it = impl_->owners.find(owner);
  if (it == impl_->owners.end()) return 0;
  const std::vector<std::uint32_t> slots = it->second;  // remove_local edits the list
  for (std::uint32_t slot : slots) impl_->remove_local(slot, diff);
  return slots.size();
}

void State::clear_local(Diff* diff) {
  std::vector<std::uint32_t> slots;
  impl_->replicas[0].dots.for_each([&](std::uint32_t slot) { slots.push_back(slot); });
  for (std::uint32_t slot : slots) impl_->remove_local(slot, diff);
}

void State::for_each(std::string_view topic, const Visitor& visit) const {
  const auto& m = *impl_;
  const std::uint32_t tid = m.topics.find(topic);
  if (tid == no_slot) return;
  for (std::uint32_t slot : m.topics[tid].slots) {
    const auto& e = m.store[slot];
    const auto& r = m.replicas[e.replica].info;
    if (!r.up) continue;
    visit(e.key, e.meta, Ref{r.id.instance, e.clock}, r.id, e.owner);
  }
}

std::vector<Listed> State::list(std::string_view topic) const {
  std::vector<Listed> out;
  const auto& m = *impl_;
  const std::uint32_t tid = m.topics.find(topic);
  if (tid == no_slot) return out;
  out.reserve(m.topics[tid].slots.size());
  for (std::uint32_t slot : m.topics[tid].slots) {
    const auto& e = m.store[slot];
    const auto& r = m.replicas[e.replica].info;
    if (r.up) out.push_back(Listed{e.key, e.meta, Ref{r.id.instance, e.clock}});
  }
  return out;
}

std::vector<Presence> State::get_by_key(std::string_view topic, std::string_view key) const {
  std::vector<Presence> out;
  const auto& m = *impl_;
  const std::uint32_t tid = m.topics.find(topic);
  if (tid == no_slot) return out;
  for (std::uint32_t slot : m.topics[tid].slots) {
    const auto& e = m.store[slot];
    if (e.key == key && m.replicas[e.replica].info.up) out.push_back(m.presence(e));
  }
  return out;
}

std::optional<Presence> State::get_local(std::uint64_t owner, std::string_view topic, std::string_view key) const {
  const std::uint32_t slot = impl_->find_local(owner, topic, key);
  if (slot == no_slot) return std::nullopt;
  return impl_->presence(impl_->store[slot]);
}

std::size_t State::topic_size(std::string_view topic) const {
  const std::uint32_t tid = impl_->topics.find(topic);
  return tid == no_slot ? 0 : impl_->topics[tid].slots.size();
}

}  // namespace plexus::presence
