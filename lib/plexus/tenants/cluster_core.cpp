// The tenant manager's replica core: registry plus node announcements (see
// cluster_core.hpp).
#include "plexus/tenants/cluster_core.hpp"

#include "plexus/core/errors.hpp"

namespace plexus::tenants {
namespace {

constexpr std::string_view node_kind = R"({"kind":"node")";

std::vector<std::uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

}  // namespace

ClusterCore::ClusterCore(std::string node, std::uint64_t instance, std::set<std::string, std::less<>> modules,
                         Save save, replica::TimePoint now, RegistryCoreOptions options)
    : node_(node), registry_(std::move(node), instance, now, options), save_(std::move(save)) {
  self_.modules = std::move(modules);
}

void ClusterCore::set_running(std::set<std::string, std::less<>> running) {
  if (running == self_.running) return;
  self_.running = std::move(running);
  for (const auto& peer : up_) announce(peer);
}

void ClusterCore::announce(const std::string& to) {
  const nlohmann::json message{{"kind", "node"},
                               {"modules", std::vector<std::string>(self_.modules.begin(), self_.modules.end())},
                               {"running", std::vector<std::string>(self_.running.begin(), self_.running.end())}};
  out_.sends.push_back(Send{to, bytes_of(message.dump())});
}

void ClusterCore::on_message(const std::string& from, std::span<const std::uint8_t> bytes, replica::TimePoint now) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (text.starts_with(node_kind)) return on_announcement(from, bytes);
  registry_.on_message(from, bytes, now);
}

void ClusterCore::on_announcement(const std::string& from, std::span<const std::uint8_t> bytes) {
  const auto bad = [&](const std::string& why) {
    out_.errors.push_back(plexus::make_error(plexus::errc::malformed_message, "node announcement from " + from + ": " + why));
  };
  auto parsed = parse_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), "announcement");
  if (!parsed) return bad(parsed.error().detail);
  NodeAnnouncement next;
  try {
    for (const auto& m : parsed->at("modules")) next.modules.insert(m.get<std::string>());
    for (const auto& t : parsed->at("running")) next.running.insert(t.get<std::string>());
  } catch (const nlohmann::json::exception& error) {
    return bad(error.what());
  }
  auto& slot = announced_[from];
  if (slot == next) return;
  slot = std::move(next);
  out_.nodes_changed = true;
}

void ClusterCore::on_peer_up(const std::string& node, replica::TimePoint now) {
  up_.insert(node);
  out_.nodes_changed = true;
  announce(node);
  registry_.on_peer_up(node, now);
}

void ClusterCore::on_peer_down(const std::string& node, replica::TimePoint now) {
  up_.erase(node);
  // A down node runs nothing we can reach; it announces again when it comes back.
  if (auto it = announced_.find(node); it != announced_.end()) it->second.running.clear();
  out_.nodes_changed = true;
  registry_.on_peer_down(node, now);
}

ClusterCore::Output ClusterCore::take() {
  auto registry = registry_.take();
  Output out = std::exchange(out_, {});
  const bool to_save = !registry.persist.empty() || !registry.dropped.empty() || registry.version_floor.has_value();
  bool saved = true;
  if (to_save && save_) {
    if (auto ok = save_(registry); !ok) {
      saved = false;
      out.errors.push_back(ok.error());
    }
  }
  if (saved) {
    for (auto& send : registry.sends) out.sends.push_back(std::move(send));
  }
  for (auto& change : registry.changes) out.changes.push_back(std::move(change));
  for (auto& error : registry.errors) out.errors.push_back(std::move(error));
  return out;
}

}  // namespace plexus::tenants
