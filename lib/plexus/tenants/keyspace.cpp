// Tenants' key spaces handed to modules: the fenced runner over a store
// tenant, the node's directory of bound key spaces, and the capability's parser.
#include "plexus/tenants/keyspace.hpp"

#include <nlohmann/json.hpp>

namespace plexus::tenants {

KeySpaceRunner keyspace_runner(store::Tenant tenant, std::function<std::optional<Lease>()> lease) {
  return [tenant = std::move(tenant), lease = std::move(lease)](const KeySpaceBody& body) -> Result<void> {
    if (auto held = lease ? lease() : std::nullopt) return fenced_run(tenant, *held, body);
    return tenant.run([&](store::TenantTransaction& transaction) -> Result<void> {
      FencedTransaction guarded(transaction, tenant);
      return body(guarded);
    });
  };
}

void KeySpaces::bind(std::string tenant_id, KeySpaceRunner runner) {
  auto shared = std::make_shared<const KeySpaceRunner>(std::move(runner));
  const std::lock_guard lock(mutex_);
  runners_.insert_or_assign(std::move(tenant_id), std::move(shared));
}

void KeySpaces::unbind(std::string_view tenant_id) {
  const std::lock_guard lock(mutex_);
  if (const auto it = runners_.find(tenant_id); it != runners_.end()) runners_.erase(it);
}

bool KeySpaces::bound(std::string_view tenant_id) const {
  const std::lock_guard lock(mutex_);
  return runners_.find(tenant_id) != runners_.end();
}

Result<void> KeySpaces::run(std::string_view tenant_id, const KeySpaceBody& body) const {
  std::shared_ptr<const KeySpaceRunner> runner;
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = runners_.find(tenant_id); it != runners_.end()) runner = it->second;
  }
  // Run outside the lock: a transaction may take long, and others bind meanwhile.
  if (!runner) {
    return make_error(errc::unavailable, "tenant '" + std::string(tenant_id) +
                                             "' has no key space here (capability \"keyspace\" missing, or not running)");
  }
  return (*runner)(body);
}

namespace {

Result<std::string> string_field(const nlohmann::json& object, const char* name, bool required) {
  const std::string path = std::string("capabilities.keyspace.") + name;
  const auto it = object.find(name);
  if (it == object.end()) {
    if (required) return make_error(errc::invalid_argument, path + ": required (a datastore name)");
    return std::string();
  }
  if (!it->is_string()) return make_error(errc::invalid_argument, path + ": must be a string, not " + it->type_name());
  auto text = it->get<std::string>();
  if (required && text.empty()) return make_error(errc::invalid_argument, path + ": must not be empty");
  return text;
}

}  // namespace

Result<std::optional<KeySpaceCapability>> keyspace_capability(const nlohmann::json& capabilities) {
  if (!capabilities.is_object()) return std::optional<KeySpaceCapability>();
  const auto it = capabilities.find("keyspace");
  if (it == capabilities.end()) return std::optional<KeySpaceCapability>();
  if (!it->is_object()) {
    return make_error(errc::invalid_argument,
                      std::string("capabilities.keyspace: must be an object {\"datastore\", \"context\"?}, not ") +
                          it->type_name());
  }
  auto datastore = string_field(*it, "datastore", true);
  if (!datastore) return datastore.error();
  auto context = string_field(*it, "context", false);
  if (!context) return context.error();
  return std::optional<KeySpaceCapability>(KeySpaceCapability{std::move(*datastore), std::move(*context)});
}

}  // namespace plexus::tenants
