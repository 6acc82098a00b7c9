// plexus::membership: who is in the cluster, as a sans-IO state-based CRDT
// plus the decisions anti-entropy gossip needs. No sockets, clocks, threads or
// randomness in here: the shell (peer service) feeds it and acts on results.
//
// State: one Entry {spec, version, removed} per node name. A removed entry is
// a tombstone; it keeps the spec, notably the instance id, so that news about
// the life it removed cannot bring that life back. Two entries for one name
// are ordered TOTALLY (see compare()):
//   1. higher version;            2. live beats removed (add wins on ties);
//   3. higher instance id;        4. listen_addrs, then channels, lexicographic.
// merge() keeps, per name, the greater of the local and the remote entry: the
// state is a product of total orders under max, a join-semilattice, so merge
// is idempotent, commutative and associative and replicas that have seen the
// same entries hold the same state in whatever order and grouping they met.
//
// Local operations write an entry greater than the one they replace: add()
// and remove() set version = current + 1 (see version_floor() for a name
// that is absent). Self-refutation does the same: a
// node that finds a foreign spec for its own name (a previous incarnation, or
// a tombstone of one) re-asserts its spec at that version + 1. A tombstone
// carrying the node's OWN instance id means this life was removed: the node
// does not refute it and removed_self() turns true (the shell then stops, as
// partisan's leave(node) stops the node that left). Two live processes that
// share one name outbid each other on every exchange; refutations() rising
// quickly is how a shell detects that misconfiguration.
//
// The order, merge, anti-entropy and tombstone GC are replica::Map's
// (lib/plexus/replica/map.hpp) over the schema Members below; this class adds
// what is membership's own: specs, self-refutation, removed_self, capacity.
//
// Anti-entropy: peers swap digest()s; diff() says which entries to push and
// which names to pull; entries_for() fetches the pushed ones; merge() applies.
//
// Tombstone GC (partisan keeps them forever): observe() records, from a live
// peer's digest, which tombstones that peer holds (or has superseded);
// collect_garbage() drops a tombstone once every current live member but self
// has been observed holding it. Why that is safe: an entry only ever grows in
// the total order, so a member that holds the tombstone (or something greater)
// never again sends anything smaller for that name, and when it collects the
// tombstone in turn it is because all of ITS live members were past it too;
// so once every live member is past it, no live member can resurrect the
// removed life. Lacking the name does NOT count: a member that never got the
// tombstone could still take an old live entry from a node we no longer see.
// Evidence is tied to the peer's instance id (a restarted peer must report
// again) and only grows for one life, so a tombstone that bounces back from a
// slower replica after we collected it is collected again at once.
// Re-adding a collected name: add() writes a name absent from the state above
// version_floor() (the highest version this replica ever collected), so the
// re-add beats any copy of that tombstone still held elsewhere (a node that
// never held it may write below it and lose, like any add concurrent with a
// remove; a live process re-asserts itself by refutation anyway).
//
// Limits of GC, which the shell must honour:
//   (a) Merge and observe state only from a live member whose spec, instance
//       id included, is the one in our view (the handshake proves the id).
//       Another node (a removed node that never learned of its removal,
//       another process under a member's name) may hold an old live entry and
//       would resurrect it after GC. Admit a joining node with add() first.
//       A tombstone of a node's OWN life may be taken from anyone: it can
//       only stop that node. A node that was removed rejoins from an EMPTY
//       state, not its data directory (its entries may predate collections).
//   (b) Persist the state after each change and before sending the digest
//       that shows it, so no peer restarts from a state older than it reported.
//   (c) Observations are not persisted: after a restart GC waits for reports.
//   (d) A node admitted after a collection learns from its seed; a seed whose
//       view is older than the collection (it still sees a removed node
//       alive) can hand that stale view on.
// Never calling collect_garbage() (keeping tombstones, as partisan does)
// avoids all of these.
//
// Capacity: Options::max_members (0 = unlimited) bounds the live members this
// node ADMITS through add(); reserve(tag) holds one slot for a future member
// named tag. Reservations are local admission state of this node, never
// gossiped: merged state from peers is always accepted (refusing it would
// break convergence), so members() may exceed max_members when other nodes
// admit more, and reserve()/add() then report no room.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plexus/core/node_spec.hpp"
#include "plexus/core/result.hpp"
#include "plexus/replica/map.hpp"

namespace plexus::membership {

/// Highest entry version. Exact in every JSON reader (IEEE doubles) and never
/// reached by honest increments; a remote entry above it is rejected.
inline constexpr std::uint64_t version_max = (std::uint64_t{1} << 53) - 1;
/// Most entries (live + tombstones) a state, a merge batch or a digest may hold;
/// also the most reservations.
inline constexpr std::size_t entries_max = 16384;
/// The "format_version" that to_json() writes and from_json() accepts.
inline constexpr std::uint64_t format_version = 1;

/// Membership-specific rejections (generic ones use plexus::errc:
/// invalid_field for a malformed spec, name or JSON field).
enum class errc : int {
  ok = 0,
  members_full = 1,     ///< add(): max_members reached and the name holds no reservation
  no_available_slots,   ///< reserve(): every slot is held by a member or a reservation
  local_spec_conflict,  ///< add(): a spec for the local name other than the local spec
  version_exhausted,    ///< add()/remove(): the entry's version is already version_max
  too_many_entries,     ///< more than entries_max entries, digest entries or reservations
};

/// The "plexus.membership" error category.
const std::error_category& membership_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
/// Stable short name of a code ("members_full"), for metric labels.
std::string_view errc_name(errc e) noexcept;

/// What the state holds for one node name (the name is spec.name).
struct Entry {
  NodeSpec spec;
  std::uint64_t version = 0;  ///< 1..version_max
  bool removed = false;       ///< a tombstone
  friend bool operator==(const Entry&, const Entry&) = default;
};

/// The total order of the header comment, name first. equal iff a == b.
std::strong_ordering compare(const Entry& a, const Entry& b);

/// 64-bit FNV-1a over a spec's canonical bytes, so digests can tell specs
/// apart without carrying them. Bytes (integers little-endian, each text as a
/// u32 length then its bytes): name, u32 address count, per address ip and
/// u16 port, u32 channel count, per channel (by name) name, u32 parallelism
/// and u8 monotonic, then u64 instance_id.
std::uint64_t spec_hash(const NodeSpec& spec);

/// One name's entry, summarized for anti-entropy.
struct DigestEntry {
  std::string name;
  std::uint64_t version = 0;
  bool removed = false;
  std::uint64_t instance_id = 0;
  std::uint64_t spec_hash = 0;  ///< spec_hash(spec): tells apart specs equal in all the above
  friend bool operator==(const DigestEntry&, const DigestEntry&) = default;
};

DigestEntry digest_of(const Entry& entry);

/// What to send and what to ask for after comparing digests: push holds our
/// entries that are greater or that the remote lacks; pull the names whose
/// entry is greater there or that we lack, sorted.
using Diff = replica::Diff<Entry, std::string>;

/// The replica::Schema of the membership map: entries keyed by spec name; at
/// one version and liveness ordered by instance id, then listen_addrs, then
/// channels; digests by instance id, then spec_hash (unordered if it differs).
struct Members {
  using Key = std::string;
  using Entry = membership::Entry;
  using Digest = DigestEntry;
  static const std::string& key(const Entry& entry) { return entry.spec.name; }
  static const std::string& key(const Digest& digest) { return digest.name; }
  static Digest digest(const Entry& entry) { return digest_of(entry); }
  static std::strong_ordering tie(const Entry& a, const Entry& b);
  static std::partial_ordering tie(const Digest& a, const Digest& b);
};

enum class ChangeKind { added, updated, removed };

/// One change of the live view caused by merge().
struct Change {
  ChangeKind kind = ChangeKind::added;
  /// added/updated: the new live spec; removed: the spec that left.
  NodeSpec spec;
  /// updated only: the stale spec it replaced (close its connections).
  std::optional<NodeSpec> previous;
  friend bool operator==(const Change&, const Change&) = default;
};

struct Options {
  /// Most live members (self included) this node admits via add(); 0 = unlimited.
  std::size_t max_members = 0;
};

/// Everything a Membership holds, as plain data: local_state() encodes it
/// and decode_local_state() parses it back (partisan's get_local_state/decode).
struct LocalState {
  std::string local;  ///< the local node name
  std::uint64_t local_instance_id = 0;
  bool removed_self = false;
  std::size_t max_members = 0;
  std::uint64_t refutations = 0;
  std::uint64_t version_floor = 0;
  std::vector<Entry> entries;  ///< live entries and tombstones, sorted by name
  std::vector<std::string> reservations;  ///< sorted
  /// Tombstone name -> live peers observed holding it (sorted); every tombstone has a key.
  std::map<std::string, std::vector<std::string>> observed_by;
  friend bool operator==(const LocalState&, const LocalState&) = default;
};

/// {"local", "local_instance_id", "removed_self", "max_members", "refutations",
///  "version_floor", "entries": [{"version", "spec"}],
///  "tombstones": [{"version", "spec", "observed_by": [names]}], "reservations": [names]}
nlohmann::json to_json(const LocalState& state);
/// Strict inverse of to_json(LocalState); errors are plexus::errc::invalid_field
/// with a detail naming the field, e.g. "tombstones[0].spec.listen_addrs: ...".
Result<LocalState> decode_local_state(const nlohmann::json& document);

/// One node's replica of the membership CRDT. Not thread-safe: owned by one actor.
class Membership {
 public:
  /// Starts with the local node alone, alive at version 1.
  /// Precondition: validate(local) succeeds (asserted).
  explicit Membership(NodeSpec local, Options options = {});

  /// Reloads a state written by to_json() for the node `local` (a restarted
  /// node passes its NEW spec: its old entry is refuted at once). Errors are
  /// plexus::errc::invalid_field naming the field, or too_many_entries.
  static Result<Membership> from_json(const nlohmann::json& document, NodeSpec local,
                                      Options options = {});
  /// {"format_version": 1, "local": name, "version_floor": n,
  ///  "entries": [{"version", "spec"}], "tombstones": [{"version", "spec"}],
  ///  "reservations": [names]}; every list sorted by name.
  [[nodiscard]] nlohmann::json to_json() const;

  /// Join: makes `spec` a live member. Absent, removed or different: writes it
  /// at (current version, or version_floor() when absent) + 1 and returns
  /// true; identical: false. A name that is not live needs a free slot (or
  /// its reservation, which it uses up). Adding the local name is a no-op
  /// with the local spec, local_spec_conflict otherwise.
  Result<bool> add(const NodeSpec& spec);
  /// Leave: tombstones a live `name` at version + 1, keeping its spec. Removing
  /// the local name is how this node leaves (removed_self() turns true).
  /// Returns false when `name` is absent or already removed.
  Result<bool> remove(std::string_view name);
  /// Keeps the greater entry per name, then refutes a foreign entry for the
  /// local name. The whole batch is checked first (valid specs, versions
  /// 1..version_max, size limits); a bad batch changes nothing. Returns the
  /// changes of the live view, sorted by name.
  Result<std::vector<Change>> merge(std::span<const Entry> remote);

  /// Holds one slot for a future member named `tag` (a valid node name).
  /// Succeeds without a new hold when tag is live or already reserved.
  Result<void> reserve(std::string_view tag);
  /// Drops the reservation for `tag`; false when there was none.
  bool release(std::string_view tag);

  /// Live specs, sorted by name (self included unless removed).
  [[nodiscard]] std::vector<NodeSpec> members() const;
  /// Every entry, tombstones included, sorted by name.
  [[nodiscard]] std::vector<Entry> entries() const;
  /// The entry for `name` or nullptr; valid until the next mutating call.
  [[nodiscard]] const Entry* find(std::string_view name) const;
  [[nodiscard]] const NodeSpec& local() const { return local_; }
  [[nodiscard]] const Options& options() const { return options_; }
  /// True once a tombstone for the local name with the local instance id was
  /// merged or written, or a foreign entry for the local name sits at
  /// version_max so this life can never outbid it. Latched: this life never
  /// re-asserts itself again; the shell stops the node.
  [[nodiscard]] bool removed_self() const { return removed_self_; }
  /// How often this node re-asserted itself over a foreign entry for its name.
  [[nodiscard]] std::uint64_t refutations() const { return refutations_; }
  /// The highest version of any tombstone this replica collected (0: none).
  [[nodiscard]] std::uint64_t version_floor() const { return map_.version_floor(); }
  [[nodiscard]] std::vector<std::string> reservations() const;

  /// One DigestEntry per entry, sorted by name.
  [[nodiscard]] std::vector<DigestEntry> digest() const;
  /// Compares with a peer's digest. Where version, liveness and instance id
  /// agree but spec hashes differ, the name is in both push and pull (the
  /// full entries then settle it). Error: too_many_entries.
  [[nodiscard]] Result<Diff> diff(std::span<const DigestEntry> remote) const;
  /// Our entries for those names (unknown names skipped), sorted by name.
  [[nodiscard]] std::vector<Entry> entries_for(std::span<const std::string> names) const;

  /// Records which of our tombstones the live member `peer` holds or has
  /// superseded, per its digest; evidence adds up over one peer life. Returns
  /// false, recording nothing, when peer is self or not a live member, when
  /// the digest's own entry for peer is not that member's live life (same
  /// instance id), or when the digest exceeds entries_max.
  bool observe(std::string_view peer, std::span<const DigestEntry> remote);
  /// Drops every tombstone that each current live member but self was
  /// observed holding; a member that never reported blocks all collection.
  /// Returns how many were dropped. Safety and limits: the header comment.
  std::size_t collect_garbage();

  /// The whole state as plain data, and encoded (see to_json(LocalState)).
  [[nodiscard]] LocalState snapshot() const;
  [[nodiscard]] nlohmann::json local_state() const;

 private:
  [[nodiscard]] std::size_t live_count() const;
  [[nodiscard]] bool has_free_slot() const;
  Result<void> check_batch(std::span<const Entry> remote) const;
  void refute_if_needed();
  /// Live members but self whose current life was observed holding `tombstone`.
  [[nodiscard]] std::vector<std::string> observers_of(const Entry& tombstone) const;
  /// The lives of every live member but self, by name: whose reports GC needs.
  [[nodiscard]] std::vector<replica::Life> peer_lives() const;

  NodeSpec local_;
  Options options_;
  /// Entries, tombstone evidence and version_floor.
  replica::Map<Members> map_;
  std::set<std::string, std::less<>> reservations_;  ///< never a live name
  bool removed_self_ = false;
  std::uint64_t refutations_ = 0;
};

}  // namespace plexus::membership

template <>
struct std::is_error_code_enum<plexus::membership::errc> : std::true_type {};
