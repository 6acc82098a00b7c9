// The built-in `kv` module (kv.hpp).
#include "plexus/tenants/modules/kv.hpp"

#include <nlohmann/json.hpp>

#include "plexus/tenants/modules/kv_request.hpp"
#include "plexus/tenants/modules/request.hpp"

namespace plexus::tenants::modules {
namespace {

using nlohmann::json;

Bytes dump(const json& reply) { return reply.dump(-1, ' ', false, json::error_handler_t::replace); }

Result<json> get(FencedTransaction& transaction, const KvRequest& request) {
  auto value = transaction.get(request.key);
  if (!value) return value.error();
  return json{{"key", store::to_json(request.key)},
              {"found", value->has_value()},
              {"value", *value ? kv_value_json(**value) : json(nullptr)}};
}

Result<json> range(FencedTransaction& transaction, const KvRequest& request) {
  auto rows = transaction.get_range(request.key, {static_cast<std::size_t>(request.limit), request.reverse});
  if (!rows) return rows.error();
  json out = json::array();
  for (const auto& row : rows->rows) out.push_back(json{{"key", store::to_json(row.key)}, {"value", kv_value_json(row.value)}});
  return json{{"rows", std::move(out)}, {"more", rows->more}};
}

/// Runs one request in one transaction of the tenant's key space.
Result<json> execute(FencedTransaction& transaction, const KvRequest& request) {
  switch (request.op) {
    case KvRequest::Op::get: return get(transaction, request);
    case KvRequest::Op::range: return range(transaction, request);
    case KvRequest::Op::set:
      if (auto ok = transaction.set(request.key, request.value); !ok) return ok.error();
      return json{{"key", store::to_json(request.key)}, {"set", true}};
    case KvRequest::Op::clear:
      if (auto ok = transaction.clear(request.key); !ok) return ok.error();
      return json{{"key", store::to_json(request.key)}, {"cleared", true}};
  }
  return make_error(errc::invalid_argument, "op: unknown");
}

Error no_keyspaces() {
  return make_error(errc::unavailable, "the host offers no key spaces to modules (Module::attach was not given any)");
}

}  // namespace

void KvModule::attach(const ModuleHost& host) { keyspaces_ = host.keyspaces; }

Outcome KvModule::install(const Tenant& tenant) {
  auto capability = keyspace_capability(tenant.config.capabilities);
  if (!capability) return Outcome::error(capability.error().detail);
  if (!*capability) {
    return Outcome::error(
        "capabilities.keyspace: required by module 'kv' ({\"keyspace\": {\"datastore\": \"<name>\", \"context\"?: \"<name>\"}})");
  }
  return Outcome::ok("{}");
}

RunOutcome KvModule::run(const Tenant&, Bytes state) { return RunOutcome::success(std::move(state)); }

Outcome KvModule::uninstall(const Tenant& tenant, Bytes state) {
  if (!keyspaces_ || !keyspaces_->bound(tenant.id)) return Outcome::ok(std::move(state));
  auto cleared = keyspaces_->run(tenant.id, [](FencedTransaction& transaction) { return transaction.clear_range({}); });
  if (!cleared) return Outcome::error("kv: clearing the tenant's keys: " + cleared.error().message());
  return Outcome::ok(std::move(state));
}

CallOutcome KvModule::call(const Bytes& bytes, From, const Tenant& tenant, Bytes state) {
  auto request = decode_kv_request(bytes);
  if (!request) return CallOutcome::reply_with(error_reply(request.error()), std::move(state));
  if (!keyspaces_) return CallOutcome::reply_with(error_reply(no_keyspaces()), std::move(state));
  json reply;
  auto ran = keyspaces_->run(tenant.id, [&](FencedTransaction& transaction) -> Result<void> {
    auto out = execute(transaction, *request);  // retried on conflict: the last attempt's reply wins
    if (!out) return out.error();
    reply = std::move(*out);
    return {};
  });
  if (!ran) return CallOutcome::reply_with(error_reply(ran.error()), std::move(state));
  return CallOutcome::reply_with(dump(reply), std::move(state));
}

}  // namespace plexus::tenants::modules
