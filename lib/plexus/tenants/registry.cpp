// The tenant registry's record codec and its install / update / uninstall /
// forget writes on a replica::Map (see registry.hpp).
#include "plexus/tenants/registry.hpp"

namespace plexus::tenants {
namespace {

std::string_view desired_name(Desired desired) { return desired == Desired::running ? "running" : "uninstalled"; }

Error bad(std::string detail) { return make_error(errc::invalid_argument, "record: " + std::move(detail)); }

}  // namespace

std::string RecordCodec::encode(const Record& record) {
  nlohmann::json out = nlohmann::json::object();
  out["module"] = record.module;
  out["config"] = record.config.config;
  out["capabilities"] = record.config.capabilities;
  out["desired"] = desired_name(record.desired);
  return out.dump();  // keys sorted (std::map): canonical
}

Result<Record> decode_record(std::string_view bytes) {
  auto parsed = parse_json(bytes, "record");
  if (!parsed) return parsed.error();
  const nlohmann::json& in = *parsed;
  if (!in.is_object()) return bad("must be a JSON object");
  for (const char* field : {"module", "config", "capabilities", "desired"}) {
    if (!in.contains(field)) return bad(std::string("field '") + field + "' missing");
  }
  if (!in["module"].is_string()) return bad("field 'module': must be a string");
  if (!in["config"].is_object()) return bad("field 'config': must be an object");
  if (!in["capabilities"].is_object()) return bad("field 'capabilities': must be an object");
  const auto& desired = in["desired"];
  if (desired != "running" && desired != "uninstalled") return bad("field 'desired': must be running or uninstalled");
  Record record;
  record.module = in["module"].get<std::string>();
  record.config = Config{in["config"], in["capabilities"]};
  record.desired = desired == "running" ? Desired::running : Desired::uninstalled;
  return record;
}

std::optional<Record> RecordCodec::decode(std::string_view bytes) {
  auto record = decode_record(bytes);
  if (!record) return std::nullopt;
  return std::move(*record);
}

Result<void> validate_id(std::string_view id, std::string_view field) {
  if (id.empty() || id.size() > tenant_id_bytes_max) {
    return make_error(errc::invalid_argument, std::string(field) + ": must be 1.." +
                                                  std::to_string(tenant_id_bytes_max) + " bytes, not " +
                                                  std::to_string(id.size()));
  }
  return {};
}

Result<Registered> Registry::install(std::string_view id, std::string_view module, Config config) {
  if (auto ok = validate_id(id, "tenant_id"); !ok) return ok.error();
  if (auto ok = validate_id(module, "module"); !ok) return ok.error();
  if (auto found = find(id)) {
    return make_error(errc::already_exists, "tenant '" + std::string(id) + "' (generation " +
                                                std::to_string(found->generation) + ", desired " +
                                                std::string(desired_name(found->record.desired)) + ")");
  }
  return write(id, Record{std::string(module), std::move(config), Desired::running});
}

Result<Registered> Registry::update(std::string_view id, Config config) {
  auto found = find(id);
  if (!found || found->record.desired != Desired::running) {
    return make_error(errc::tenant_not_found, "update: tenant '" + std::string(id) + "'");
  }
  found->record.config = std::move(config);
  return write(id, std::move(found->record));
}

Result<Registered> Registry::uninstall(std::string_view id) {
  auto found = find(id);
  if (!found || found->record.desired != Desired::running) {
    return make_error(errc::tenant_not_found, "uninstall: tenant '" + std::string(id) + "'");
  }
  found->record.desired = Desired::uninstalled;
  return write(id, std::move(found->record));
}

Result<void> Registry::forget(std::string_view id) {
  auto found = find(id);
  if (!found || found->record.desired != Desired::uninstalled) {
    return make_error(errc::tenant_not_found, "forget: tenant '" + std::string(id) + "' is not uninstalled");
  }
  auto removed = map_.remove(id);
  if (!removed) return removed.error();
  return {};
}

std::optional<Registered> Registry::find(std::string_view id) const {
  const auto* entry = map_.find(id);
  if (entry == nullptr || entry->removed) return std::nullopt;
  return Registered{entry->key, entry->value, entry->version};
}

std::vector<Registered> Registry::list() const {
  std::vector<Registered> out;
  for (const auto& [key, entry] : map_) {
    if (!entry.removed) out.push_back(Registered{key, entry.value, entry.version});
  }
  return out;
}

Result<Registered> Registry::write(std::string_view id, Record record) {
  RegistryEntry entry;
  entry.key = std::string(id);
  entry.value = record;
  auto version = map_.put(std::move(entry));
  if (!version) return version.error();
  return Registered{std::string(id), std::move(record), *version};
}

}  // namespace plexus::tenants
