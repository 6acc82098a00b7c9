// JSON forms of a Membership: to_json/from_json persist it in a data
// directory; local_state/decode_local_state describe all of it (formats in
// membership.hpp). Decoding is strict, like NodeSpec's: unknown or missing
// keys, wrong types, out-of-range numbers and duplicate names are
// plexus::errc::invalid_field errors whose detail starts with the field path
// ("tombstones[1].spec.listen_addrs[0].port: ..."). No exception escapes:
// types are checked before every get<>(), and the entry points catch anyway.
#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <limits>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/core/json_path.hpp"
#include "plexus/membership/internal.hpp"

namespace plexus::membership {
namespace {

using nlohmann::json;
using Keys = std::span<const std::string_view>;

constexpr std::string_view root_path = json_path::root;

constexpr std::array<std::string_view, 6> persisted_keys = {"format_version", "local", "version_floor",
                                                            "entries", "tombstones", "reservations"};
constexpr std::array<std::string_view, 9> local_state_keys = {
    "local", "local_instance_id", "removed_self", "max_members", "refutations",
    "version_floor", "entries", "tombstones", "reservations"};
constexpr std::array<std::string_view, 2> entry_keys = {"version", "spec"};
constexpr std::array<std::string_view, 3> observed_entry_keys = {"version", "spec", "observed_by"};

/// `value` is an object holding exactly `keys`.
Result<void> check_object(const json& value, std::string_view path, Keys keys) {
  if (!value.is_object()) return json_path::field_error(path.empty() ? root_path : path, "must be a JSON object");
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) {
      return json_path::field_error(json_path::join(path, json_path::printable(it.key())), "unknown field");
    }
  }
  for (const std::string_view key : keys) {
    if (!value.contains(key)) return json_path::field_error(json_path::join(path, key), "missing");
  }
  return {};
}

Result<std::uint64_t> unsigned_from_json(const json& value, std::string_view path, std::uint64_t min,
                                         std::uint64_t max) {
  std::optional<std::uint64_t> number;
  if (value.is_number_unsigned()) {
    number = value.get<std::uint64_t>();
  } else if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    number = static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  if (number && *number >= min && *number <= max) return *number;
  return json_path::field_error(path, "must be an integer " + std::to_string(min) + ".." + std::to_string(max));
}

Result<std::string> name_from_json(const json& value, std::string_view path) {
  if (!value.is_string()) return json_path::field_error(path, "must be a string");
  const auto& name = value.get_ref<const std::string&>();
  if (auto ok = validate_node_name(name, path); !ok) return ok.error();
  return name;
}

/// An array of at most entries_max distinct node names, returned sorted.
Result<std::vector<std::string>> names_from_json(const json& value, std::string_view path) {
  if (!value.is_array() || value.size() > entries_max) {
    return json_path::field_error(path, "must be an array of at most " + std::to_string(entries_max) + " node names");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < value.size(); ++i) {
    auto name = name_from_json(value[i], json_path::index(path, i));
    if (!name) return name.error();
    if (!names.insert(*name).second) return json_path::field_error(json_path::index(path, i), "duplicate name");
  }
  return std::vector<std::string>(names.begin(), names.end());
}

/// Entries and tombstones decoded from both sections, one entry per name.
struct Decoded {
  std::map<std::string, Entry, std::less<>> entries;
  std::map<std::string, std::vector<std::string>> observed_by;
};

/// Decodes root["entries"] (live) or root["tombstones"] into `out`; with
/// `observed`, each tombstone also carries "observed_by".
Result<void> decode_entries(const json& root, bool removed, bool observed, Decoded& out) {
  const std::string section = removed ? "tombstones" : "entries";
  const json& list = root.at(section);
  if (!list.is_array()) return json_path::field_error(section, "must be an array");
  if (out.entries.size() + list.size() > entries_max) {
    return internal::error(errc::too_many_entries, section + ": more than " + std::to_string(entries_max) +
                                                       " entries and tombstones in all");
  }
  const bool with_observers = observed && removed;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = json_path::index(section, i);
    const json& value = list[i];
    const Keys keys = with_observers ? Keys(observed_entry_keys) : Keys(entry_keys);
    if (auto ok = check_object(value, path, keys); !ok) return ok.error();
    const auto version = unsigned_from_json(value.at("version"), path + ".version", 1, version_max);
    if (!version) return version.error();
    auto spec = node_spec_from_json(value.at("spec"));
    if (!spec) return internal::nested(spec.error(), path + ".spec");
    if (out.entries.contains(spec->name)) return json_path::field_error(path + ".spec.name", "name appears twice");
    if (with_observers) {
      auto observers = names_from_json(value.at("observed_by"), path + ".observed_by");
      if (!observers) return observers.error();
      out.observed_by.emplace(spec->name, std::move(observers).value());
    }
    const std::string name = spec->name;
    out.entries.emplace(name, Entry{std::move(spec).value(), *version, removed});
  }
  return {};
}

json entry_to_json(const Entry& entry) {
  return json::object({{"version", entry.version}, {"spec", plexus::to_json(entry.spec)}});
}

struct Persisted {
  std::uint64_t version_floor = 0;
  Decoded decoded;
  std::vector<std::string> reservations;
};

Result<Persisted> decode_persisted(const json& root, std::string_view local_name) {
  if (auto ok = check_object(root, "", persisted_keys); !ok) return ok.error();
  const json& format = root.at("format_version");
  if (!unsigned_from_json(format, "format_version", format_version, format_version)) {
    return json_path::field_error("format_version",
                       "must be " + std::to_string(format_version) + ", the format this build reads");
  }
  const auto local = name_from_json(root.at("local"), "local");
  if (!local) return local.error();
  if (*local != local_name) {
    return json_path::field_error("local",
                       "is the state of \"" + *local + "\", not of \"" + std::string(local_name) + "\"");
  }
  Persisted persisted;
  const auto floor = unsigned_from_json(root.at("version_floor"), "version_floor", 0, version_max);
  if (!floor) return floor.error();
  persisted.version_floor = *floor;
  if (auto ok = decode_entries(root, false, false, persisted.decoded); !ok) return ok.error();
  if (auto ok = decode_entries(root, true, false, persisted.decoded); !ok) return ok.error();
  auto reservations = names_from_json(root.at("reservations"), "reservations");
  if (!reservations) return reservations.error();
  persisted.reservations = std::move(reservations).value();
  return persisted;
}

Result<LocalState> decode_state(const json& root) {
  if (auto ok = check_object(root, "", local_state_keys); !ok) return ok.error();
  LocalState state;
  auto local = name_from_json(root.at("local"), "local");
  if (!local) return local.error();
  state.local = std::move(local).value();
  const json& id = root.at("local_instance_id");
  const auto instance = instance_id_from_hex(id.is_string() ? id.get_ref<const std::string&>() : "",
                                             "local_instance_id");
  if (!instance) return instance.error();
  state.local_instance_id = *instance;
  if (!root.at("removed_self").is_boolean()) return json_path::field_error("removed_self", "must be true or false");
  state.removed_self = root.at("removed_self").get<bool>();
  const auto max_members = unsigned_from_json(root.at("max_members"), "max_members", 0,
                                              std::numeric_limits<std::size_t>::max());
  if (!max_members) return max_members.error();
  state.max_members = static_cast<std::size_t>(*max_members);
  const auto refutations = unsigned_from_json(root.at("refutations"), "refutations", 0,
                                              std::numeric_limits<std::uint64_t>::max());
  if (!refutations) return refutations.error();
  state.refutations = *refutations;
  const auto floor = unsigned_from_json(root.at("version_floor"), "version_floor", 0, version_max);
  if (!floor) return floor.error();
  state.version_floor = *floor;
  Decoded decoded;
  if (auto ok = decode_entries(root, false, true, decoded); !ok) return ok.error();
  if (auto ok = decode_entries(root, true, true, decoded); !ok) return ok.error();
  for (auto& [name, entry] : decoded.entries) state.entries.push_back(std::move(entry));
  state.observed_by = std::move(decoded.observed_by);
  auto reservations = names_from_json(root.at("reservations"), "reservations");
  if (!reservations) return reservations.error();
  state.reservations = std::move(reservations).value();
  return state;
}

}  // namespace

json Membership::to_json() const {
  json live = json::array();
  json tombstones = json::array();
  for (const auto& [name, entry] : map_) {
    (entry.removed ? tombstones : live).push_back(entry_to_json(entry));
  }
  return json::object({{"format_version", format_version},
                       {"local", local_.name},
                       {"version_floor", map_.version_floor()},
                       {"entries", std::move(live)},
                       {"tombstones", std::move(tombstones)},
                       {"reservations", reservations()}});
}

Result<Membership> Membership::from_json(const json& document, NodeSpec local, Options options) {
  Result<Persisted> persisted = json_path::field_error(root_path, "not decoded");
  try {
    persisted = decode_persisted(document, local.name);
  } catch (const std::exception& e) {
    // Unreachable by design (types are checked first); a missed case becomes a rejection.
    return json_path::field_error(root_path, std::string("cannot decode: ") + e.what());
  }
  if (!persisted) return persisted.error();
  Membership membership(std::move(local), options);
  membership.map_.raise_version_floor(persisted->version_floor);
  std::vector<Entry> entries;
  for (auto& [name, entry] : persisted->decoded.entries) entries.push_back(std::move(entry));
  // Merging into a fresh state runs self-refutation: a restarted node (new
  // instance id) outbids the entry of its previous life at once.
  if (auto merged = membership.merge(entries); !merged) return merged.error();
  for (auto& name : persisted->reservations) {
    const Entry* entry = membership.find(name);
    if (entry == nullptr || entry->removed) membership.reservations_.insert(std::move(name));
  }
  return membership;
}

LocalState Membership::snapshot() const {
  LocalState state{local_.name, local_.instance_id, removed_self_, options_.max_members, refutations_,
                   map_.version_floor(), entries(), reservations(), {}};
  const std::vector<replica::Life> lives = peer_lives();
  for (const auto& [name, entry] : map_) {
    if (entry.removed) state.observed_by.emplace(name, map_.observers_of(entry, lives));
  }
  return state;
}

json Membership::local_state() const { return membership::to_json(snapshot()); }

json to_json(const LocalState& state) {
  json live = json::array();
  json tombstones = json::array();
  for (const Entry& entry : state.entries) {
    json encoded = entry_to_json(entry);
    if (!entry.removed) {
      live.push_back(std::move(encoded));
      continue;
    }
    const auto observers = state.observed_by.find(entry.spec.name);
    encoded["observed_by"] = observers == state.observed_by.end() ? json::array() : json(observers->second);
    tombstones.push_back(std::move(encoded));
  }
  return json::object({{"local", state.local},
                       {"local_instance_id", instance_id_to_hex(state.local_instance_id)},
                       {"removed_self", state.removed_self},
                       {"max_members", state.max_members},
                       {"refutations", state.refutations},
                       {"version_floor", state.version_floor},
                       {"entries", std::move(live)},
                       {"tombstones", std::move(tombstones)},
                       {"reservations", state.reservations}});
}

Result<LocalState> decode_local_state(const json& document) {
  try {
    return decode_state(document);
  } catch (const std::exception& e) {
    return json_path::field_error(root_path, std::string("cannot decode: ") + e.what());
  }
}

}  // namespace plexus::membership
