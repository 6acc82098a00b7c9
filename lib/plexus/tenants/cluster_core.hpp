// ClusterCore: the replica core a node's tenant manager runs under
// replica::Host on its peer channel (`_tenants`). It is the registry's
// RegistryCore plus the node announcements placement needs, sans-IO:
//   - each node announces the modules it hosts and the tenants it runs now
//     ({"kind":"node","modules":[..],"running":[..]}) to a peer that comes up,
//     and to every up peer whenever either list changes;
//   - every other message is the registry's (registry_core.hpp).
// take() hands the registry's output to the shell's save hook (RegistryStore:
// persist, dropped, version_floor) BEFORE it returns the sends, so that no
// digest or entry leaves the node before what it shows is saved (a failed
// save withholds the registry's sends and reports the error; anti-entropy
// sends them again on the next round).
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "plexus/tenants/registry_core.hpp"

namespace plexus::tenants {

/// What a peer announced of itself.
struct NodeAnnouncement {
  std::set<std::string, std::less<>> modules;
  std::set<std::string, std::less<>> running;
  friend bool operator==(const NodeAnnouncement&, const NodeAnnouncement&) = default;
};

class ClusterCore {
 public:
  using Send = RegistryCore::Send;
  /// Saves a registry output (persist, dropped, version_floor) before its sends go out.
  using Save = std::function<Result<void>(const RegistryCore::Output&)>;
  struct Output {
    std::vector<Send> sends;
    std::vector<RegistryCore::Change> changes;  ///< tenants whose record changed
    bool nodes_changed = false;                 ///< an announcement or a peer's up/down changed
    std::vector<Error> errors;
  };

  /// `modules`: the modules this node hosts. `save` may be empty (no datastore).
  ClusterCore(std::string node, std::uint64_t instance, std::set<std::string, std::less<>> modules, Save save,
              replica::TimePoint now, RegistryCoreOptions options = {});

  /// The registry core, for the seed's writes; the shell drains after each.
  RegistryCore& registry() { return registry_; }
  [[nodiscard]] const RegistryCore& registry() const { return registry_; }
  /// Sets the tenants running here; announced to every up peer when it changed.
  void set_running(std::set<std::string, std::less<>> running);

  void on_message(const std::string& from, std::span<const std::uint8_t> bytes, replica::TimePoint now);
  void on_tick(replica::TimePoint now) { registry_.on_tick(now); }
  void on_peer_up(const std::string& node, replica::TimePoint now);
  void on_peer_down(const std::string& node, replica::TimePoint now);
  [[nodiscard]] replica::TimePoint next_deadline() const { return registry_.next_deadline(); }
  Output take();

  /// The peers up on the channel now.
  [[nodiscard]] const std::set<std::string>& up() const { return up_; }
  /// What each peer last announced (kept while it is down: its modules do not change).
  [[nodiscard]] const std::map<std::string, NodeAnnouncement>& announced() const { return announced_; }
  [[nodiscard]] const NodeAnnouncement& self() const { return self_; }

 private:
  void announce(const std::string& to);
  void on_announcement(const std::string& from, std::span<const std::uint8_t> bytes);

  std::string node_;
  RegistryCore registry_;
  Save save_;
  NodeAnnouncement self_;
  std::set<std::string> up_;
  std::map<std::string, NodeAnnouncement> announced_;
  Output out_;
};

static_assert(replica::Core<ClusterCore>);

}  // namespace plexus::tenants
