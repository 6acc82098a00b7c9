// Topic interning and meta hash-consing for the presence State.
#include "plexus/presence/store.hpp"

namespace plexus::presence::detail {

std::uint32_t Topics::intern(std::string_view name) {
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  std::uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    topics_[id].name.assign(name);
  } else {
    id = static_cast<std::uint32_t>(topics_.size());
    topics_.push_back(Topic{std::string(name), {}});
  }
  by_name_.emplace(std::string(name), id);
  return id;
}

std::uint32_t Topics::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? no_slot : it->second;
}

std::uint32_t Topics::add(std::uint32_t id, std::uint32_t slot) {
  auto& slots = topics_[id].slots;
  slots.push_back(slot);
  return static_cast<std::uint32_t>(slots.size() - 1);
}

void Topics::remove(std::uint32_t id, std::uint32_t pos, EntryStore& store) {
  auto& topic = topics_[id];
  const std::uint32_t last = topic.slots.back();
  topic.slots[pos] = last;
  store[last].topic_pos = pos;
  topic.slots.pop_back();
  if (!topic.slots.empty()) return;
  // An empty topic is forgotten so topic churn does not grow memory.
  by_name_.erase(by_name_.find(std::string_view(topic.name)));
  topic.name.clear();
  topic.name.shrink_to_fit();
  topic.slots.shrink_to_fit();
  free_.push_back(id);
}

MetaPtr MetaPool::intern(const nlohmann::json& meta) {
  // Comparing with the last meta is much cheaper than dumping and hashing.
  if (last_ && *last_ == meta) return last_;
  std::string text = meta.dump();
  if (auto it = by_text_.find(std::string_view(text)); it != by_text_.end()) return last_ = it->second;
  if (by_text_.size() >= collect_at_) collect();
  auto ptr = std::make_shared<const nlohmann::json>(meta);
  by_text_.emplace(std::move(text), ptr);
  return last_ = ptr;
}

MetaPtr MetaPool::intern(const MetaPtr& meta) {
  if (!meta) return intern(nlohmann::json::object());
  if (meta == last_) return last_;
  return intern(*meta);
}

void MetaPool::collect() {
  std::erase_if(by_text_, [this](const auto& item) {
    return item.second.use_count() == (item.second == last_ ? 2 : 1);
  });
  // Amortised: the next collection waits until the pool doubled.
  collect_at_ = std::max<std::size_t>(64, 2 * by_text_.size());
}

}  // namespace plexus::presence::detail
