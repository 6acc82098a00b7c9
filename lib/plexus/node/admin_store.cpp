// Admin routes of the node's datastores and tenant key spaces: the
// EctoFoundationDB.Tenant calls (create, exists, list, open, clear, delete,
// clear-delete) and key-value reads and writes inside one tenant, keys
// written as JSON tuples (docs/store.md, "Tuples as JSON"). Datastore calls
// block, so they run on the request's own thread (AdminServer::blocking),
// never on the io thread. docs/admin-api.md documents each route.
#include <nlohmann/json.hpp>

#include "plexus/node/store_fields.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
namespace st = store;

/// Tenants one list answer carries at most, and by default.
constexpr std::uint64_t list_limit_max = 10'000;
constexpr std::uint64_t list_limit_default = 1'000;

using TenantCall = Result<void> (st::Tenants::*)(std::string_view);

void add_tenant_call(AdminServer& admin, const std::string& path, TenantCall call, const char* done) {
  admin.post(path, [&admin, call, done](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"tenant", "datastore"});
    const auto tenant = tenant_field(fields);
    return with_store(admin, datastore_field(fields), [tenant, call, done](st::Datastore& d) {
      auto outcome = ((*d.tenants).*call)(tenant);
      return outcome ? json_reply({{"tenant", tenant}, {"datastore", d.spec.name}, {done, true}})
                     : store_error(outcome.error());
    });
  });
}

void add_keyspace_routes(AdminServer& admin) {
  add_tenant_call(admin, "/v1/keyspace/create", &st::Tenants::create, "created");
  add_tenant_call(admin, "/v1/keyspace/clear", &st::Tenants::clear, "cleared");
  add_tenant_call(admin, "/v1/keyspace/delete", &st::Tenants::remove, "deleted");
  add_tenant_call(admin, "/v1/keyspace/clear-delete", &st::Tenants::clear_remove, "deleted");
  admin.get("/v1/keyspace/exists", [&admin](const httplib::Request& request) {
    const auto fields = Fields::query(request, {"tenant", "datastore"});
    const auto tenant = tenant_field(fields);
    return with_store(admin, datastore_field(fields), [tenant](st::Datastore& d) {
      auto exists = d.tenants->exists(tenant);
      return exists ? json_reply({{"tenant", tenant}, {"datastore", d.spec.name}, {"exists", *exists}})
                    : store_error(exists.error());
    });
  });
  admin.post("/v1/keyspace/open", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"tenant", "datastore", "create", "context"});
    const auto tenant = tenant_field(fields);
    const bool create = fields.flag("create", false);
    if (fields.has("context")) {
      return with_context_tenant(admin, fields, create, [tenant, context = fields.required_text("context")](st::Tenant& opened) {
        return json_reply({{"tenant", tenant}, {"context", context},
                           {"prefix", st::to_hex(opened.prefix())}, {"migration_version", opened.migration_version()}});
      });
    }
    return with_store(admin, datastore_field(fields), [tenant, create](st::Datastore& d) {
      auto opened = create ? d.tenants->open_or_create(tenant) : d.tenants->open(tenant);
      if (!opened) return store_error(opened.error());
      return json_reply({{"tenant", tenant}, {"datastore", d.spec.name}, {"prefix", st::to_hex(opened->prefix())},
                         {"migration_version", opened->migration_version()}});
    });
  });
  admin.get("/v1/keyspace/list", [&admin](const httplib::Request& request) {
    const auto fields = Fields::query(request, {"datastore", "after", "limit"});
    const auto after = fields.text("after", "");
    const auto limit = fields.number("limit", list_limit_default, 1, list_limit_max);
    return with_store(admin, datastore_field(fields), [after, limit](st::Datastore& d) {
      auto page = d.tenants->list(after, limit);
      if (!page) return store_error(page.error());
      json out{{"datastore", d.spec.name}, {"tenants", page->ids}};
      out["next"] = page->more && !page->ids.empty() ? json(page->ids.back()) : json(nullptr);
      return json_reply(out);
    });
  });
}

}  // namespace

void add_store_routes(AdminServer& admin) {
  add_keyspace_routes(admin);
  add_kv_routes(admin);
}

}  // namespace plexus::node
