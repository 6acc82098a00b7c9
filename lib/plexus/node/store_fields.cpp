// Reading and answering datastore requests of the admin API (store_fields.hpp).
#include "plexus/node/store_fields.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
namespace st = store;

/// Longest JSON text of a key tuple accepted in a request.
constexpr std::size_t key_json_max_bytes = 64 * 1024;

int status_of(st::errc code) {
  switch (code) {
    case st::errc::tenant_not_found:
    case st::errc::unknown_datastore: return 404;
    case st::errc::tenant_already_exists:
    case st::errc::tenant_not_empty:
    case st::errc::conflict:
    case st::errc::retry_limit_reached: return 409;
    case st::errc::key_too_large:
    case st::errc::value_too_large:
    case st::errc::transaction_too_large: return 413;
    case st::errc::malformed_tuple:
    case st::errc::invalid_versionstamp:
    case st::errc::invalid_tenant_id:
    case st::errc::outside_tenant:
    case st::errc::invalid_range:
    case st::errc::invalid_option: return 400;
    case st::errc::permission_denied: return 403;
    case st::errc::unavailable:
    case st::errc::commit_unknown_result:
    case st::errc::transaction_too_old: return 503;
    default: return 500;
  }
}

}  // namespace

Reply store_error(const Error& error) {
  if (error.code.category() != st::store_category()) return error_reply(error);
  const auto code = static_cast<st::errc>(error.code.value());
  return error_reply(status_of(code), st::errc_name(code), error.message());
}

/// A value as JSON: a string when it is valid UTF-8, else {"bytes": hex}.
json value_json(const std::string& value) {
  json text = value;
  try {
    (void)text.dump();  // nlohmann checks UTF-8 strictly while writing
    return text;
  } catch (const json::exception&) {
    return json{{"bytes", st::to_hex(value)}};
  }
}

std::string value_field(const Fields& fields) {
  const json* value = fields.raw("value");
  if (!value) throw BadRequest("field 'value': required (a string, or {\"bytes\": \"<hex>\"})");
  if (value->is_string()) return value->get<std::string>();
  if (value->is_object() && value->size() == 1 && value->contains("bytes") && (*value)["bytes"].is_string()) {
    auto bytes = st::from_hex((*value)["bytes"].get<std::string>());
    if (!bytes) throw BadRequest("field 'value.bytes': " + bytes.error().detail);
    return std::move(*bytes);
  }
  throw BadRequest("field 'value': expected a string, or {\"bytes\": \"<hex>\"}");
}

/// A tuple from a field: a JSON array in a body, or its JSON text in a query.
st::Tuple tuple_field(const Fields& fields, std::string_view name, bool required) {
  const json* raw = fields.raw(name);
  const std::string field(name);
  if (!raw) {
    if (required) throw BadRequest("field '" + field + "': required (a JSON array, e.g. [\"users\", 42])");
    return {};
  }
  // A query carries the tuple as JSON text: read it with the tuple reader,
  // which refuses integer literals past 64 bits instead of rounding them to a double.
  Result<st::Tuple> tuple = st::Tuple{};
  if (raw->is_string()) {
    const auto& text = raw->get_ref<const std::string&>();
    if (text.size() > key_json_max_bytes) throw BadRequest("field '" + field + "': longer than 64 KiB");
    tuple = st::tuple_from_json_text(text);
  } else {
    tuple = st::tuple_from_json(*raw);
  }
  if (!tuple) throw BadRequest("field '" + field + "': " + tuple.error().detail);
  return std::move(*tuple);
}

std::string tenant_field(const Fields& fields) { return fields.required_text("tenant"); }
std::string datastore_field(const Fields& fields) {
  return fields.text("datastore", std::string(st::default_datastore));
}

/// Runs `fn` with the named datastore on this request's thread.
Reply with_store(AdminServer& admin, const std::string& name, std::function<Reply(st::Datastore&)> fn) {
  auto stores = admin.context<store::Datastores>();
  if (!stores) return error_reply(404, "unknown_datastore", "this node has no datastores");
  return admin.blocking([stores, name, fn = std::move(fn)] {
    auto found = stores->find(name);
    if (!found) return store_error(found.error());
    return fn(**found);
  });
}

}  // namespace plexus::node
