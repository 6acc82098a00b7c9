// Membership's local operations (add, remove, reserve) and merge with
// self-refutation. The CRDT laws and their reasons are in membership.hpp.
//
// The entries live in map_, a replica::Map, which owns the order, merge and
// GC; this file decides what membership adds on top.
//
// Invariants kept by every member function:
//   - map_ always holds the local name (GC never drops it);
//   - while !removed_self_, the local entry is {local_, v, alive};
//   - reservations_ never holds a live name;
//   - map_.size() and reservations_.size() stay <= entries_max.
#include <cassert>
#include <string>
#include <utility>

#include "plexus/core/errors.hpp"
#include "plexus/membership/internal.hpp"

namespace plexus::membership {
namespace {

std::string quoted(std::string_view name) { return "\"" + std::string(name) + "\""; }

/// "2 members and 1 reservations for max_members 3", for capacity errors.
std::string occupancy(std::size_t members, std::size_t reservations, std::size_t max_members) {
  return std::to_string(members) + " members and " + std::to_string(reservations) +
         " reservations for max_members " + std::to_string(max_members);
}

std::optional<NodeSpec> live_spec(const Entry* entry) {
  if (entry == nullptr || entry->removed) return std::nullopt;
  return entry->spec;
}

}  // namespace

Membership::Membership(NodeSpec local, Options options)
    : local_(std::move(local)), options_(options), map_(replica::Limits{entries_max, version_max}) {
  assert(validate(local_).ok());
  [[maybe_unused]] const auto written = map_.put(Entry{local_, 0, false});  // version 1
  assert(written.ok() && *written == 1);
}

Result<bool> Membership::add(const NodeSpec& spec) {
  if (auto ok = validate(spec); !ok) return ok.error();
  if (spec.name == local_.name) {
    // The local entry is this process's own spec; only refutation writes it.
    if (spec == local_) return false;
    return internal::error(errc::local_spec_conflict,
                           "name: " + quoted(spec.name) + " is the local node, whose spec is fixed at start");
  }
  const Entry* held = find(spec.name);
  const bool exists = held != nullptr;
  if (exists && !held->removed && held->spec == spec) return false;
  if (!exists && map_.size() >= entries_max) {
    return internal::error(errc::too_many_entries, "entries: already " + std::to_string(entries_max));
  }
  // Replacing a live member's spec keeps the member count; only a name that
  // becomes live needs a slot, and a reservation made for it is that slot.
  const bool joins = !exists || held->removed;
  if (joins && !reservations_.contains(spec.name) && !has_free_slot()) {
    return internal::error(errc::members_full, "name: " + quoted(spec.name) + ": " +
                                                   occupancy(live_count(), reservations_.size(),
                                                             options_.max_members));
  }
  // An absent name may have been collected: write above every collected tombstone.
  const std::uint64_t current = exists ? held->version : map_.version_floor();
  if (current >= version_max) {
    return internal::error(errc::version_exhausted, "name: " + quoted(spec.name));
  }
  if (const auto reserved = reservations_.find(spec.name); reserved != reservations_.end()) {
    reservations_.erase(reserved);
  }
  // Writes at current + 1: the checks above are the map's, with membership's details.
  auto written = map_.put(Entry{spec, 0, false});
  assert(written.ok() && *written == current + 1);
  return written.ok();
}

Result<bool> Membership::remove(std::string_view name) {
  const Entry* held = find(name);
  if (held == nullptr || held->removed) return false;
  if (held->version >= version_max) {
    return internal::error(errc::version_exhausted, "name: " + quoted(name));
  }
  [[maybe_unused]] const auto removed = map_.remove(name);
  assert(removed.ok() && *removed);
  // The live local entry is always local_, so this tombstone carries our
  // instance id: exactly the "this life was removed" case.
  if (name == local_.name) removed_self_ = true;
  return true;
}

Result<void> Membership::check_batch(std::span<const Entry> remote) const {
  if (remote.size() > entries_max) {
    return internal::error(errc::too_many_entries, "entries: " + std::to_string(remote.size()) +
                                                       " in one batch, at most " +
                                                       std::to_string(entries_max));
  }
  std::set<std::string_view> fresh;
  for (std::size_t i = 0; i < remote.size(); ++i) {
    const Entry& entry = remote[i];
    const std::string path = "entries[" + std::to_string(i) + "]";
    if (entry.version < 1 || entry.version > version_max) {
      return make_error(plexus::errc::invalid_field,
                        path + ".version: must be 1.." + std::to_string(version_max));
    }
    if (auto ok = validate(entry.spec); !ok) return internal::nested(ok.error(), path + ".spec");
    if (find(entry.spec.name) == nullptr) fresh.insert(entry.spec.name);
  }
  if (map_.size() + fresh.size() > entries_max) {
    return internal::error(errc::too_many_entries,
                           "entries: " + std::to_string(map_.size()) + " held + " +
                               std::to_string(fresh.size()) + " new > " + std::to_string(entries_max));
  }
  return {};
}

Result<std::vector<Change>> Membership::merge(std::span<const Entry> remote) {
  if (auto ok = check_batch(remote); !ok) return ok.error();
  // The live spec of every name this batch replaces, as it was before.
  std::map<std::string, std::optional<NodeSpec>, std::less<>> before;
  // check_batch() is the map's check with membership's details: this cannot fail.
  [[maybe_unused]] const auto merged = map_.merge(remote, [&](const Entry* old, const Entry& now) {
    before.try_emplace(now.spec.name, live_spec(old));
  });
  assert(merged.ok());
  if (before.contains(local_.name)) refute_if_needed();

  std::vector<Change> changes;
  for (auto& [name, old] : before) {
    std::optional<NodeSpec> now = live_spec(find(name));
    if (now) reservations_.erase(name);  // Admitted elsewhere: its slot is taken now.
    if (old == now) continue;
    if (!old) {
      changes.push_back(Change{ChangeKind::added, std::move(*now), std::nullopt});
    } else if (!now) {
      changes.push_back(Change{ChangeKind::removed, std::move(*old), std::nullopt});
    } else {
      changes.push_back(Change{ChangeKind::updated, std::move(*now), std::move(old)});
    }
  }
  return changes;
}

void Membership::refute_if_needed() {
  if (removed_self_) return;  // This life is over; it never re-asserts itself.
  const Entry& self = *find(local_.name);
  if (!self.removed && self.spec == local_) return;
  if (self.removed && self.spec.instance_id == local_.instance_id) {
    removed_self_ = true;
    return;
  }
  // A foreign spec for our name: a previous incarnation (live or removed),
  // or a spec someone else wrote for us. Outbid it with our own.
  if (self.version >= version_max) {
    removed_self_ = true;  // Cannot outbid: this life can never hold its name again.
    return;
  }
  [[maybe_unused]] const auto written = map_.put(Entry{local_, 0, false});  // at self.version + 1
  assert(written.ok());
  ++refutations_;
}

Result<void> Membership::reserve(std::string_view tag) {
  if (auto ok = validate_node_name(tag, "tag"); !ok) return ok;
  if (const Entry* entry = find(tag); entry != nullptr && !entry->removed) return {};
  if (reservations_.contains(tag)) return {};
  if (reservations_.size() >= entries_max) {
    return internal::error(errc::too_many_entries, "reservations: already " + std::to_string(entries_max));
  }
  if (!has_free_slot()) {
    return internal::error(errc::no_available_slots, "tag " + quoted(tag) + ": " +
                                                         occupancy(live_count(), reservations_.size(),
                                                                   options_.max_members));
  }
  reservations_.emplace(tag);
  return {};
}

bool Membership::release(std::string_view tag) {
  const auto it = reservations_.find(tag);
  if (it == reservations_.end()) return false;
  reservations_.erase(it);
  return true;
}

std::size_t Membership::live_count() const {
  std::size_t count = 0;
  for (const auto& [name, entry] : map_) count += entry.removed ? 0 : 1;
  return count;
}

bool Membership::has_free_slot() const {
  return options_.max_members == 0 || live_count() + reservations_.size() < options_.max_members;
}

std::vector<NodeSpec> Membership::members() const {
  std::vector<NodeSpec> specs;
  for (const auto& [name, entry] : map_) {
    if (!entry.removed) specs.push_back(entry.spec);
  }
  return specs;
}

std::vector<Entry> Membership::entries() const { return map_.entries(); }

const Entry* Membership::find(std::string_view name) const { return map_.find(name); }

std::vector<std::string> Membership::reservations() const {
  return {reservations_.begin(), reservations_.end()};
}

}  // namespace plexus::membership
