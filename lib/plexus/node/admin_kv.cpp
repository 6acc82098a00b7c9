// Admin routes for the keys of one tenant key space: get, set, clear and
// range reads, keys written as JSON tuples relative to the tenant (the tenant
// prefix is added by the handle, which refuses anything outside it). Each
// call is one transaction, retried on conflict. docs/admin-api.md documents
// each route.
#include "plexus/node/store_fields.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
namespace st = store;

/// Rows one range answer carries at most, and by default.
constexpr std::uint64_t range_limit_max = 10'000;
constexpr std::uint64_t range_limit_default = 100;

/// Opens the request's tenant in its datastore (or through its "context")
/// and runs `fn` with it.
Reply with_tenant(AdminServer& admin, const Fields& fields, std::function<Reply(st::Tenant&)> fn) {
  if (fields.has("context")) return with_context_tenant(admin, fields, false, std::move(fn));
  const auto tenant = tenant_field(fields);
  return with_store(admin, datastore_field(fields), [tenant, fn = std::move(fn)](st::Datastore& d) {
    auto opened = d.tenants->open(tenant);
    if (!opened) return store_error(opened.error());
    return fn(*opened);
  });
}

void add_get_routes(AdminServer& admin) {
  admin.get("/v1/kv/get", [&admin](const httplib::Request& request) {
    const auto fields = Fields::query(request, {"tenant", "key", "datastore", "context"});
    auto key = tuple_field(fields, "key", true);
    return with_tenant(admin, fields, [key = std::move(key)](st::Tenant& tenant) {
      auto transaction = tenant.begin(st::Mode::snapshot);
      if (!transaction) return store_error(transaction.error());
      auto value = transaction->get(key);
      if (!value) return store_error(value.error());
      json out{{"key", st::to_json(key)}, {"found", value->has_value()}};
      out["value"] = value->has_value() ? value_json(**value) : json(nullptr);
      return json_reply(out);
    });
  });
  admin.get("/v1/kv/range", [&admin](const httplib::Request& request) {
    const auto fields = Fields::query(request, {"tenant", "prefix", "limit", "reverse", "datastore", "context"});
    auto prefix = tuple_field(fields, "prefix", false);
    const st::RangeOptions options{fields.number("limit", range_limit_default, 1, range_limit_max),
                                   fields.flag("reverse", false)};
    return with_tenant(admin, fields, [prefix = std::move(prefix), options](st::Tenant& tenant) {
      auto transaction = tenant.begin(st::Mode::snapshot);
      if (!transaction) return store_error(transaction.error());
      auto range = transaction->get_range(prefix, options);
      if (!range) return store_error(range.error());
      json rows = json::array();
      for (const auto& row : range->rows) rows.push_back({{"key", st::to_json(row.key)}, {"value", value_json(row.value)}});
      return json_reply({{"rows", rows}, {"more", range->more}});
    });
  });
}

void add_write_routes(AdminServer& admin) {
  admin.post("/v1/kv/set", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"tenant", "key", "value", "datastore", "context"});
    auto key = tuple_field(fields, "key", true);
    auto value = value_field(fields);
    return with_tenant(admin, fields, [key = std::move(key), value = std::move(value)](st::Tenant& tenant) {
      auto done = tenant.run([&](st::TenantTransaction& t) { return t.set(key, value); });
      return done ? json_reply({{"key", st::to_json(key)}, {"set", true}}) : store_error(done.error());
    });
  });
  admin.post("/v1/kv/clear", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"tenant", "key", "datastore", "context"});
    auto key = tuple_field(fields, "key", true);
    return with_tenant(admin, fields, [key = std::move(key)](st::Tenant& tenant) {
      auto done = tenant.run([&](st::TenantTransaction& t) { return t.clear(key); });
      return done ? json_reply({{"key", st::to_json(key)}, {"cleared", true}}) : store_error(done.error());
    });
  });
}

}  // namespace

void add_kv_routes(AdminServer& admin) {
  add_get_routes(admin);
  add_write_routes(admin);
}

}  // namespace plexus::node
