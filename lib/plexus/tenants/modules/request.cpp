// The built-in modules' request reader and error replies (request.hpp).
#include "plexus/tenants/modules/request.hpp"

#include <limits>

#include "plexus/store/errors.hpp"

namespace plexus::tenants::modules {

Error field_error(std::string_view field, std::string_view what) {
  return make_error(errc::invalid_argument, std::string(field) + ": " + std::string(what));
}

Result<Request> Request::parse(std::string_view bytes, std::size_t bytes_max) {
  if (bytes.size() > bytes_max) {
    return make_error(errc::invalid_argument, "request: " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                                                  std::to_string(bytes_max));
  }
  auto body = parse_json(bytes, "request");
  if (!body) return body.error();
  if (!body->is_object()) {
    return make_error(errc::invalid_argument,
                      std::string("request: must be a JSON object {\"op\": ...}, not ") + body->type_name());
  }
  const auto op = body->find("op");
  if (op == body->end()) return field_error("op", "required (a string naming the operation)");
  if (!op->is_string()) return field_error("op", std::string("must be a string, not ") + op->type_name());
  auto name = op->get<std::string>();
  return Request(std::move(*body), std::move(name));
}

Result<void> Request::only(std::initializer_list<std::string_view> allowed) const {
  for (const auto& [key, value] : body_.items()) {
    if (key == "op") continue;
    bool known = false;
    for (const auto name : allowed) known = known || key == name;
    // The field name is the client's text: dump() escapes it (and replaces bad UTF-8).
    if (!known) {
      const auto quoted = nlohmann::json(key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return field_error(quoted, "unknown field for op '" + op_ + "'");
    }
  }
  return {};
}

const nlohmann::json* Request::raw(std::string_view field) const {
  const auto it = body_.find(field);
  if (it == body_.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::optional<std::string>> Request::string(std::string_view field, std::size_t bytes_max) const {
  const auto* value = raw(field);
  if (!value) return std::optional<std::string>();
  if (!value->is_string()) return field_error(field, std::string("must be a string, not ") + value->type_name());
  const auto& text = value->get_ref<const std::string&>();
  if (text.size() > bytes_max) {
    return field_error(field, std::to_string(text.size()) + " bytes, over the limit of " + std::to_string(bytes_max));
  }
  return std::optional<std::string>(text);
}

Result<std::optional<std::int64_t>> Request::integer(std::string_view field, std::int64_t min, std::int64_t max) const {
  const auto* value = raw(field);
  if (!value) return std::optional<std::int64_t>();
  const auto range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  std::int64_t number = 0;
  if (value->is_number_unsigned()) {
    const auto u = value->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return field_error(field, "must be " + range);
    number = static_cast<std::int64_t>(u);
  } else if (value->is_number_integer()) {
    number = value->get<std::int64_t>();
  } else {
    return field_error(field, "must be " + range + ", not " + value->type_name());
  }
  if (number < min || number > max) return field_error(field, "must be " + range + ", not " + std::to_string(number));
  return std::optional<std::int64_t>(number);
}

Result<std::optional<bool>> Request::boolean(std::string_view field) const {
  const auto* value = raw(field);
  if (!value) return std::optional<bool>();
  if (!value->is_boolean()) return field_error(field, std::string("must be true or false, not ") + value->type_name());
  return std::optional<bool>(value->get<bool>());
}

std::string error_name(const Error& error) {
  if (error.code.category() == tenants_category()) return std::string(errc_name(static_cast<errc>(error.code.value())));
  if (error.code.category() == store::store_category()) {
    return std::string(store::errc_name(static_cast<store::errc>(error.code.value())));
  }
  return std::string(error.code.category().name()) + ":" + std::to_string(error.code.value());
}

Bytes error_reply(const Error& error) {
  const nlohmann::json reply{{"error", error_name(error)}, {"detail", error.detail}};
  // A detail may quote client bytes that are not UTF-8: replace them rather than throw.
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace plexus::tenants::modules
