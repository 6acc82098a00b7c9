// The context registry (the seed's context_registry): names -> where a
// datastore context is served, in one of three scopes:
//   none   — not registered (lookups by name fail context_not_found);
//   local  — this node only;
//   global — cluster-wide: a replica::Map carried by a replica::Host over the
//            peer service, so any node resolves the name.
// A sans-IO replica core in the presence::Shard shape (replica/core.hpp):
// fed messages, ticks and peer up/down with the time, it returns sends,
// errors, and `lost` notices through take().
//
// Conflicts. A second registration of a taken name is refused with
// already_registered (no crash, unlike :global's assertion). Two nodes that
// register one name on both sides of a partition each hold an entry at the
// same version; on heal the map keeps, per name, the greater entry: higher
// version first, then — the rule of this registry — the EARLIER registered_at
// (unix ms), then the greater (node, datastore, context) in the codec's byte
// order (for node names of one length: the greater name). Every node applies the same order,
// so every node ends with the same winner; a node whose own registration is
// replaced reports it in Output::lost (the loser is told).
// A registration stays until its node unregisters it, but only a node that
// is up (to this node: the peer service reports it up, on_peer_up/down) or
// this node itself serves its names: whereis() and global() leave out the
// names of a node that is down (at once for a killed process, whose sockets
// close; after peer_timeout for one cut off), and such a name may be taken
// by another registration — at a higher version, so when the old holder
// comes back it loses the name and is told (Output::lost). A name held by
// this node itself (left by an earlier run of it) is taken over, not refused.
//
// Message bytes (integers little-endian; text = u32 length, bytes):
//   u8 kind (1 digest, 2 entries, 3 pull), u32 count, then per item
//   digest:  name, u64 version, u8 removed, u64 hash
//   entries: name, value (the Registration codec below), u64 version, u8 removed
//   pull:    name
// Registration codec (canonical; orders as the conflict rule wants):
//   u64 big-endian (2^64 - 1 - registered_at_unix_ms), text node, text datastore, text context
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "plexus/context/errors.hpp"
#include "plexus/context/options.hpp"
#include "plexus/replica/core.hpp"
#include "plexus/replica/replica.hpp"

namespace plexus::context {

/// Where a context is served.
struct Registration {
  std::string node;
  std::string datastore;
  std::string context;
  std::uint64_t registered_at_unix_ms = 0;
  friend bool operator==(const Registration&, const Registration&) = default;
};

/// The canonical codec of a Registration (see the file comment).
struct RegistrationCodec {
  static std::string encode(const Registration& value);
  static std::optional<Registration> decode(std::string_view bytes);
};

using RegistrySchema = replica::KeyValue<std::string, Registration, RegistrationCodec>;

/// Bounds of one registry.
struct RegistryOptions {
  /// Names in the local scope.
  std::size_t local_names_max = 4'096;
  /// Entries (live and removed) of the global map, and items of one message.
  replica::Limits global_limits{};
  /// How often every up peer gets our digest (heals partitions).
  std::chrono::milliseconds anti_entropy_period{1'000};
};

class Registry {
 public:
  struct Send {
    std::string to;
    std::vector<std::uint8_t> bytes;
  };
  /// Our global registration of `name` was replaced by `winner` (a conflict lost on heal).
  struct Lost {
    std::string name;
    Registration ours;
    Registration winner;
  };
  struct Output {
    std::vector<Send> sends;
    std::vector<Error> errors;
    std::vector<Lost> lost;
  };

  Registry(std::string node, replica::TimePoint now, RegistryOptions options = {});

  // ---- local calls ----
  /// Registers `name` -> {this node, datastore, context} in `scope` (none: no-op).
  /// already_registered naming the holder when the name is taken in that scope.
  Result<void> register_context(const std::string& name, const std::string& datastore, const std::string& context,
                                Scope scope, std::uint64_t now_unix_ms);
  /// Removes this node's registration of `name` from `scope`; context_not_found
  /// when there is none of ours.
  Result<void> unregister_context(const std::string& name, Scope scope);
  /// Local scope first, then global; context_not_found when neither has it,
  /// or when its global holder is down.
  [[nodiscard]] Result<Registration> whereis(const std::string& name) const;
  /// Live global registrations of nodes that are up (and ours), by name.
  [[nodiscard]] std::map<std::string, Registration> global() const;
  [[nodiscard]] const replica::Map<RegistrySchema>& map() const { return map_; }
  [[nodiscard]] const std::string& node() const { return node_; }

  // ---- events (replica::Core) ----
  void on_message(const std::string& from, std::span<const std::uint8_t> bytes, replica::TimePoint now);
  void on_tick(replica::TimePoint now);
  void on_peer_up(const std::string& node, replica::TimePoint now);
  void on_peer_down(const std::string& node, replica::TimePoint now);
  [[nodiscard]] replica::TimePoint next_deadline() const { return next_round_; }
  Output take() { return std::exchange(out_, {}); }

 private:
  void send_entries(const std::string& to, std::span<const RegistrySchema::Entry> entries);
  void send_digest(const std::string& to);
  void bad(const std::string& from, const std::string& why);
  /// Held by this node or a node that is up.
  [[nodiscard]] bool reachable(const Registration& registration) const;
  void on_digest(const std::string& from, std::span<const std::uint8_t> body, std::uint64_t count);
  void on_entries(const std::string& from, std::span<const std::uint8_t> body, std::uint64_t count);
  void on_pull(const std::string& from, std::span<const std::uint8_t> body, std::uint64_t count);

  std::string node_;
  RegistryOptions options_;
  replica::TimePoint next_round_;
  std::map<std::string, Registration, std::less<>> local_;
  replica::Map<RegistrySchema> map_;
  std::set<std::string> up_;
  Output out_;
};

static_assert(replica::Core<Registry>);

}  // namespace plexus::context
