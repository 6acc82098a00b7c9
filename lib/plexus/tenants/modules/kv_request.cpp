// Decoding the built-in `kv` module's requests (kv_request.hpp).
#include "plexus/tenants/modules/kv_request.hpp"

#include <nlohmann/json.hpp>

#include "plexus/tenants/modules/request.hpp"

namespace plexus::tenants::modules {
namespace {

Result<KvRequest::Op> op_of(const std::string& op) {
  if (op == "get") return KvRequest::Op::get;
  if (op == "set") return KvRequest::Op::set;
  if (op == "clear") return KvRequest::Op::clear;
  if (op == "range") return KvRequest::Op::range;
  return field_error("op", "unknown operation (kv knows get, set, clear, range)");
}

/// A key or prefix: a JSON tuple array, or a string as the one-element tuple.
Result<store::Tuple> tuple_of(const Request& request, std::string_view field, bool required) {
  const auto* raw = request.raw(field);
  if (!raw) {
    if (required) return field_error(field, "required (a JSON tuple such as [\"users\", 42], or a string)");
    return store::Tuple{};
  }
  if (raw->is_string()) return store::Tuple{raw->get<std::string>()};
  if (!raw->is_array()) return field_error(field, std::string("must be a JSON tuple (an array) or a string, not ") + raw->type_name());
  auto tuple = store::tuple_from_json(*raw);
  if (!tuple) return field_error(field, tuple.error().detail);
  if (required && tuple->empty()) return field_error(field, "must not be the empty tuple");
  return tuple;
}

Result<std::string> value_of(const Request& request) {
  const auto* raw = request.raw("value");
  if (!raw) return field_error("value", "required (a string, or {\"bytes\": \"<hex>\"})");
  if (raw->is_string()) return raw->get<std::string>();
  if (raw->is_object() && raw->size() == 1 && raw->contains("bytes") && (*raw)["bytes"].is_string()) {
    auto bytes = store::from_hex((*raw)["bytes"].get<std::string>());
    if (!bytes) return field_error("value.bytes", bytes.error().detail);
    return std::move(*bytes);
  }
  return field_error("value", std::string("must be a string, or {\"bytes\": \"<hex>\"}, not ") + raw->type_name());
}

Result<void> read_range(const Request& request, KvRequest& out) {
  auto prefix = tuple_of(request, "prefix", false);
  if (!prefix) return prefix.error();
  out.key = std::move(*prefix);
  auto limit = request.integer("limit", 1, kv_range_limit_max);
  if (!limit) return limit.error();
  if (*limit) out.limit = **limit;
  auto reverse = request.boolean("reverse");
  if (!reverse) return reverse.error();
  if (*reverse) out.reverse = **reverse;
  return {};
}

}  // namespace

Result<KvRequest> decode_kv_request(std::string_view bytes) {
  auto request = Request::parse(bytes, kv_request_bytes_max);
  if (!request) return request.error();
  auto op = op_of(request->op());
  if (!op) return op.error();
  KvRequest out;
  out.op = *op;
  switch (out.op) {
    case KvRequest::Op::range: {
      if (auto ok = request->only({"prefix", "limit", "reverse"}); !ok) return ok.error();
      if (auto ok = read_range(*request, out); !ok) return ok.error();
      return out;
    }
    case KvRequest::Op::set: {
      if (auto ok = request->only({"key", "value"}); !ok) return ok.error();
      auto value = value_of(*request);
      if (!value) return value.error();
      out.value = std::move(*value);
      break;
    }
    case KvRequest::Op::get:
    case KvRequest::Op::clear:
      if (auto ok = request->only({"key"}); !ok) return ok.error();
      break;
  }
  auto key = tuple_of(*request, "key", true);
  if (!key) return key.error();
  out.key = std::move(*key);
  return out;
}

nlohmann::json kv_value_json(const std::string& value) {
  nlohmann::json text = value;
  try {
    (void)text.dump();  // nlohmann checks UTF-8 strictly while writing
    return text;
  } catch (const nlohmann::json::exception&) {
    return nlohmann::json{{"bytes", store::to_hex(value)}};
  }
}

}  // namespace plexus::tenants::modules
