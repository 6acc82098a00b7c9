// CausalRegistry: the causal labels of one process, looked up by name.
#include "plexus/delivery/causal.hpp"
#include "plexus/delivery/errors.hpp"

namespace plexus::delivery {

CausalRegistry::CausalRegistry(std::string self_process, Options options)
    : self_(std::move(self_process)), options_(options) {}

Result<CausalLabel*> CausalRegistry::label(std::string_view name) {
  if (CausalLabel* found = find(name)) return found;
  if (labels_.size() >= options_.max_labels) {
    return make_error(errc::too_many_labels, "max_labels " + std::to_string(options_.max_labels));
  }
  auto& slot = labels_[std::string(name)];
  slot = std::make_unique<CausalLabel>(self_, options_.label);
  return slot.get();
}

CausalLabel* CausalRegistry::find(std::string_view name) {
  auto it = labels_.find(name);
  return it == labels_.end() ? nullptr : it->second.get();
}

void CausalRegistry::erase(std::string_view name) {
  if (auto it = labels_.find(name); it != labels_.end()) labels_.erase(it);
}

std::vector<std::pair<std::string, std::uint64_t>> CausalRegistry::forget_process(std::string_view process) {
  std::vector<std::pair<std::string, std::uint64_t>> dropped;
  for (auto& [name, label] : labels_) {
    for (std::uint64_t handle : label->forget_process(process)) dropped.emplace_back(name, handle);
  }
  return dropped;
}

}  // namespace plexus::delivery
