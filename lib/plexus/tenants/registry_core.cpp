// The tenant registry's replica core: writes, anti-entropy by digest, and
// tombstone GC (see registry_core.hpp for the protocol and message bytes).
#include "plexus/tenants/registry_core.hpp"

#include "plexus/core/errors.hpp"

namespace plexus::tenants {

RegistryCore::RegistryCore(std::string node, std::uint64_t instance, replica::TimePoint now, RegistryCoreOptions options)
    : node_(std::move(node)),
      instance_(instance),
      options_(options),
      next_round_(now + options.anti_entropy_period),
      registry_(options.limits) {}

Result<Registered> RegistryCore::install(std::string_view id, std::string_view module, Config config, replica::TimePoint) {
  auto done = registry_.install(id, module, std::move(config));
  if (done) wrote(done->id);
  return done;
}

Result<Registered> RegistryCore::update(std::string_view id, Config config, replica::TimePoint) {
  auto done = registry_.update(id, std::move(config));
  if (done) wrote(done->id);
  return done;
}

Result<Registered> RegistryCore::uninstall(std::string_view id, replica::TimePoint) {
  auto done = registry_.uninstall(id);
  if (done) wrote(done->id);
  return done;
}

Result<void> RegistryCore::forget(std::string_view id, replica::TimePoint) {
  auto done = registry_.forget(id);
  if (done) wrote(std::string(id));
  return done;
}

Result<std::size_t> RegistryCore::restore(std::span<const RegistryEntry> entries, std::uint64_t version_floor) {
  registry_.map().raise_version_floor(version_floor);
  return registry_.map().merge(entries);
}

void RegistryCore::set_members(std::set<std::string> members) {
  members.erase(node_);
  members_ = std::move(members);
}

void RegistryCore::wrote(const std::string& id) {
  changed(id);
  const RegistryEntry* entry = registry_.map().find(id);
  out_.persist.push_back(*entry);
  const std::vector<RegistryEntry> one{*entry};
  for (const auto& peer : up_) send_entries(peer, one);
}

void RegistryCore::changed(const std::string& id) { out_.changes.push_back(Change{id, registry_.find(id)}); }

void RegistryCore::on_tick(replica::TimePoint now) {
  if (now < next_round_) return;
  next_round_ = now + options_.anti_entropy_period;
  for (const auto& peer : up_) send_digest(peer);
  collect_garbage();
}

void RegistryCore::on_peer_up(const std::string& node, replica::TimePoint) {
  up_.insert(node);
  send_digest(node);
}

void RegistryCore::on_peer_down(const std::string& node, replica::TimePoint) { up_.erase(node); }

void RegistryCore::send_digest(const std::string& to) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& d : registry_.map().digest()) items.push_back({d.key, d.version, d.removed, d.hash});
  const auto text = nlohmann::json{{"kind", "digest"}, {"instance", instance_}, {"items", std::move(items)}}.dump();
  out_.sends.push_back(Send{to, std::vector<std::uint8_t>(text.begin(), text.end())});
}

void RegistryCore::send_entries(const std::string& to, std::span<const RegistryEntry> entries) {
  for (std::size_t begin = 0; begin < entries.size(); begin += options_.message_entries_max) {
    nlohmann::json items = nlohmann::json::array();
    const std::size_t end = std::min(entries.size(), begin + options_.message_entries_max);
    for (std::size_t i = begin; i < end; ++i) {
      const auto& e = entries[i];
      items.push_back({e.key, e.version, e.removed, RecordCodec::encode(e.value)});
    }
    const auto text = nlohmann::json{{"kind", "entries"}, {"items", std::move(items)}}.dump();
    out_.sends.push_back(Send{to, std::vector<std::uint8_t>(text.begin(), text.end())});
  }
}

void RegistryCore::on_message(const std::string& from, std::span<const std::uint8_t> bytes, replica::TimePoint) {
  auto parsed = parse_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), "message");
  if (!parsed) return bad(from, parsed.error().detail);
  const nlohmann::json& message = *parsed;
  if (!message.is_object() || !message.contains("kind") || !message["kind"].is_string()) {
    return bad(from, "field 'kind' missing");
  }
  const auto& kind = message["kind"];
  // json's typed accessors throw on a wrong type: the peer's bytes are untrusted.
  try {
    if (kind == "digest") return on_digest(from, message);
    if (kind == "entries") return on_entries(from, message);
    if (kind == "pull") return on_pull(from, message);
  } catch (const nlohmann::json::exception& error) {
    return bad(from, std::string(kind.get<std::string>()) + ": " + error.what());
  }
  bad(from, "unknown kind '" + kind.get<std::string>() + "'");
}

void RegistryCore::on_digest(const std::string& from, const nlohmann::json& message) {
  const auto& items = message.at("items");
  if (!items.is_array() || items.size() > options_.limits.entries_max) return bad(from, "digest: bad or too many items");
  std::vector<RegistrySchema::Digest> digest;
  for (const auto& item : items) {
    digest.push_back({item.at(0).get<std::string>(), item.at(1).get<std::uint64_t>(), item.at(2).get<bool>(),
                      item.at(3).get<std::uint64_t>()});
  }
  const auto instance = message.at("instance").get<std::uint64_t>();
  instances_[from] = instance;
  registry_.map().observe(from, instance, digest);
  auto diff = registry_.map().diff(digest);
  if (!diff) return out_.errors.push_back(diff.error());
  if (!diff->push.empty()) send_entries(from, diff->push);
  if (diff->pull.empty()) return;
  const auto text = nlohmann::json{{"kind", "pull"}, {"ids", diff->pull}}.dump();
  out_.sends.push_back(Send{from, std::vector<std::uint8_t>(text.begin(), text.end())});
}

void RegistryCore::on_entries(const std::string& from, const nlohmann::json& message) {
  const auto& items = message.at("items");
  if (!items.is_array() || items.size() > options_.limits.entries_max) return bad(from, "entries: bad or too many items");
  std::vector<RegistryEntry> batch;
  for (const auto& item : items) {
    auto record = decode_record(item.at(3).get<std::string>());
    if (!record) return bad(from, "entries: " + record.error().detail);
    RegistryEntry entry;
    entry.key = item.at(0).get<std::string>();
    entry.value = std::move(*record);
    entry.version = item.at(1).get<std::uint64_t>();
    entry.removed = item.at(2).get<bool>();
    batch.push_back(std::move(entry));
  }
  std::set<std::string> touched;
  auto merged = registry_.map().merge(batch, [&](const RegistryEntry*, const RegistryEntry& now) { touched.insert(now.key); });
  if (!merged) return out_.errors.push_back(merged.error());
  for (const auto& id : touched) {
    out_.persist.push_back(*registry_.map().find(id));
    changed(id);
  }
}

void RegistryCore::on_pull(const std::string& from, const nlohmann::json& message) {
  const auto& ids = message.at("ids");
  if (!ids.is_array() || ids.size() > options_.limits.entries_max) return bad(from, "pull: bad or too many ids");
  std::vector<std::string> keys;
  for (const auto& id : ids) keys.push_back(id.get<std::string>());
  const auto entries = registry_.map().entries_for(keys);
  if (!entries.empty()) send_entries(from, entries);
}

void RegistryCore::collect_garbage() {
  std::vector<replica::Life> lives;
  for (const auto& member : members_) {
    const auto it = instances_.find(member);
    if (it == instances_.end()) return;  // a member not heard from yet may still lack a tombstone
    lives.push_back(replica::Life{it->first, it->second});
  }
  std::set<std::string> before;
  for (const auto& [id, entry] : registry_.map()) {
    if (entry.removed) before.insert(id);
  }
  if (registry_.map().collect_garbage(lives, [](const std::string&) { return false; }) == 0) return;
  for (const auto& id : before) {
    if (registry_.map().find(id) == nullptr) out_.dropped.push_back(id);
  }
  out_.version_floor = registry_.map().version_floor();
}

void RegistryCore::bad(const std::string& from, const std::string& why) {
  out_.errors.push_back(plexus::make_error(plexus::errc::malformed_message, "registry message from " + from + ": " + why));
}

}  // namespace plexus::tenants
