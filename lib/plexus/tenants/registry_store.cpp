// The tenant registry's persistence in a datastore (layout in registry_store.hpp).
#include "plexus/tenants/registry_store.hpp"

#include "plexus/store/tuple.hpp"

namespace plexus::tenants {
namespace {

constexpr std::string_view space = "plexus_tenants";

Result<std::string> system_key(const store::Tuple& tuple) {
  auto packed = store::pack(tuple);
  if (!packed) return packed.error();
  return "\xff" + *packed;
}

Result<RegistryEntry> decode_entry(std::string id, std::string_view value) {
  auto tuple = store::unpack(value);
  const bool shaped = tuple && tuple->size() == 3 && std::holds_alternative<std::int64_t>((*tuple)[0].value) &&
                      std::holds_alternative<bool>((*tuple)[1].value) &&
                      std::holds_alternative<store::Bytes>((*tuple)[2].value);
  if (!shaped) return make_error(errc::invalid_argument, "registry entry '" + id + "': not (version, removed, record)");
  auto record = decode_record(std::get<store::Bytes>((*tuple)[2].value).value);
  if (!record) return make_error(errc::invalid_argument, "registry entry '" + id + "': " + record.error().detail);
  RegistryEntry entry;
  entry.key = std::move(id);
  entry.value = std::move(*record);
  entry.version = static_cast<std::uint64_t>(std::get<std::int64_t>((*tuple)[0].value));
  entry.removed = std::get<bool>((*tuple)[1].value);
  return entry;
}

}  // namespace

RegistryStore::RegistryStore(std::shared_ptr<store::Database> database, std::string node)
    : database_(std::move(database)), node_(std::move(node)) {}

Result<std::string> RegistryStore::entry_key(std::string_view id) const {
  return system_key({std::string(space), "registry", node_, store::Bytes{std::string(id)}});
}

Result<void> RegistryStore::save(std::span<const RegistryEntry> entries) {
  for (std::size_t begin = 0; begin < entries.size(); begin += registry_save_batch_max) {
    const auto batch = entries.subspan(begin, std::min(registry_save_batch_max, entries.size() - begin));
    auto saved = database_->run([&](store::Transaction& transaction) -> Result<void> {
      for (const auto& entry : batch) {
        auto key = entry_key(entry.key);
        if (!key) return key.error();
        auto value = store::pack({static_cast<std::int64_t>(entry.version), entry.removed,
                                  store::Bytes{RecordCodec::encode(entry.value)}});
        if (!value) return value.error();
        if (auto ok = transaction.set(*key, *value); !ok) return ok;
      }
      return {};
    });
    if (!saved) return saved;
  }
  return {};
}

Result<void> RegistryStore::drop(std::span<const std::string> ids) {
  return database_->run([&](store::Transaction& transaction) -> Result<void> {
    for (const auto& id : ids) {
      auto key = entry_key(id);
      if (!key) return key.error();
      if (auto ok = transaction.clear(*key); !ok) return ok;
    }
    return {};
  });
}

Result<void> RegistryStore::save_floor(std::uint64_t version_floor) {
  auto key = system_key({std::string(space), "registry_floor", node_});
  auto value = store::pack({static_cast<std::int64_t>(version_floor)});
  if (!key) return key.error();
  if (!value) return value.error();
  return database_->run([&](store::Transaction& transaction) { return transaction.set(*key, *value); });
}

Result<std::size_t> RegistryStore::load(RegistryMap& into) {
  auto prefix = system_key({std::string(space), "registry", node_});
  auto floor_key = system_key({std::string(space), "registry_floor", node_});
  if (!prefix) return prefix.error();
  if (!floor_key) return floor_key.error();
  auto transaction = database_->begin(store::Mode::snapshot);
  if (!transaction) return transaction.error();
  std::vector<RegistryEntry> entries;
  // pack(prefix) + ff ends every key extending the prefix: no tuple byte is ff.
  store::RangeIterator rows(*transaction, *prefix, *prefix + "\xff");
  for (std::size_t read = 0; read <= into.limits().entries_max; ++read) {
    auto row = rows.next();
    if (!row) return row.error();
    if (!*row) break;
    auto key = store::unpack(std::string_view((*row)->key).substr(1));
    if (!key || key->size() != 4 || !std::holds_alternative<store::Bytes>((*key)[3].value)) {
      return make_error(errc::invalid_argument, "registry key: not (\"plexus_tenants\", \"registry\", node, id)");
    }
    auto entry = decode_entry(std::get<store::Bytes>((*key)[3].value).value, (*row)->value);
    if (!entry) return entry.error();
    entries.push_back(std::move(*entry));
  }
  auto floor = transaction->get(*floor_key);
  if (!floor) return floor.error();
  if (auto merged = into.merge(entries); !merged) return merged.error();
  if (*floor) {
    auto tuple = store::unpack(**floor);
    if (!tuple || tuple->size() != 1 || !std::holds_alternative<std::int64_t>((*tuple)[0].value)) {
      return make_error(errc::invalid_argument, "registry floor: not (version_floor,)");
    }
    into.raise_version_floor(static_cast<std::uint64_t>(std::get<std::int64_t>((*tuple)[0].value)));
  }
  return entries.size();
}

}  // namespace plexus::tenants
