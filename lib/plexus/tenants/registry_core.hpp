// RegistryCore: the tenant registry as a sans-IO replica core (the
// presence::Shard shape, replica::Core), for replica::Host to carry over the
// peer service. It owns one Registry replica and is fed the seed's writes
// (install / update / uninstall / forget), peer messages, peer up/down, the
// live member list and ticks; take() returns messages to send, the tenants
// whose record changed, what to persist (RegistryStore) and errors.
//
// Protocol (as replica's example registry, plus tombstone GC):
// - a local write sends the new entry to every up peer;
// - a peer coming up, and each anti_entropy_period every up peer, gets our
//   digest (with our instance id); a digest is answered with the entries it
//   lacks and a pull of the keys we lack; a pull is answered with entries;
// - each digest received is observe()d; on a tick, tombstones that every live
//   member (set_members) was observed holding are collected.
// The shell persists `persist` and `dropped` BEFORE it forwards `sends`
// (a digest must never show what a restart could lose).
//
// Message bytes: JSON text (the registry is small and changes rarely):
//   {"kind":"digest","instance":N,"items":[[id,version,removed,hash],...]}
//   {"kind":"entries","items":[[id,version,removed,"<record JSON>"],...]}
//   {"kind":"pull","ids":[id,...]}
// A message over entries_max items, or malformed, is refused and reported.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "plexus/replica/core.hpp"
#include "plexus/tenants/registry.hpp"

namespace plexus::tenants {

struct RegistryCoreOptions {
  std::chrono::milliseconds anti_entropy_period{1'000};
  /// Most entries in one entries message (a larger push is split).
  std::size_t message_entries_max = 1'000;
  replica::Limits limits;
};

class RegistryCore {
 public:
  struct Send {
    std::string to;
    std::vector<std::uint8_t> bytes;
  };
  /// A tenant whose registered record changed: what it is now (nullopt: forgotten).
  struct Change {
    std::string id;
    std::optional<Registered> now;
  };
  struct Output {
    std::vector<Send> sends;
    std::vector<Change> changes;
    std::vector<RegistryEntry> persist;  ///< save before forwarding sends
    std::vector<std::string> dropped;    ///< tombstones collected: drop from the store
    std::optional<std::uint64_t> version_floor;  ///< raised by that collection: save it too
    std::vector<Error> errors;
  };

  /// `instance`: this life's random id (never 0).
  RegistryCore(std::string node, std::uint64_t instance, replica::TimePoint now, RegistryCoreOptions options = {});

  // ---- the seed's writes (see Registry) ----
  Result<Registered> install(std::string_view id, std::string_view module, Config config, replica::TimePoint now);
  Result<Registered> update(std::string_view id, Config config, replica::TimePoint now);
  Result<Registered> uninstall(std::string_view id, replica::TimePoint now);
  Result<void> forget(std::string_view id, replica::TimePoint now);
  /// Restores a persisted state (RegistryStore::load) before the first message.
  Result<std::size_t> restore(std::span<const RegistryEntry> entries, std::uint64_t version_floor);
  /// Every live member but this node (up or down, not left): GC waits for all of them.
  void set_members(std::set<std::string> members);

  // ---- the replica::Core events ----
  void on_message(const std::string& from, std::span<const std::uint8_t> bytes, replica::TimePoint now);
  void on_tick(replica::TimePoint now);
  void on_peer_up(const std::string& node, replica::TimePoint now);
  void on_peer_down(const std::string& node, replica::TimePoint now);
  [[nodiscard]] replica::TimePoint next_deadline() const { return next_round_; }
  Output take() { return std::exchange(out_, {}); }

  [[nodiscard]] const Registry& registry() const { return registry_; }
  [[nodiscard]] const std::string& node() const { return node_; }

 private:
  void wrote(const std::string& id);
  void changed(const std::string& id);
  void send_digest(const std::string& to);
  void send_entries(const std::string& to, std::span<const RegistryEntry> entries);
  void on_digest(const std::string& from, const nlohmann::json& message);
  void on_entries(const std::string& from, const nlohmann::json& message);
  void on_pull(const std::string& from, const nlohmann::json& message);
  void collect_garbage();
  void bad(const std::string& from, const std::string& why);

  std::string node_;
  std::uint64_t instance_;
  RegistryCoreOptions options_;
  replica::TimePoint next_round_;
  Registry registry_;
  std::set<std::string> up_;
  std::set<std::string> members_;
  std::map<std::string, std::uint64_t> instances_;  ///< peer -> instance seen in its last digest
  Output out_;
};

static_assert(replica::Core<RegistryCore>);

}  // namespace plexus::tenants
