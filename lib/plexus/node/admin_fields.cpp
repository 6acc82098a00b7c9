// Fields: strict reading of admin request bodies and query strings. Every
// problem is a BadRequest whose message starts with the field's name.
#include <algorithm>
#include <charconv>

#include "plexus/node/admin_server.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;

std::string known_list(std::initializer_list<std::string_view> allowed) {
  std::string out;
  for (const auto name : allowed) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out.empty() ? "none" : out;
}

void refuse_unknown(const json& object, std::initializer_list<std::string_view> allowed, std::string_view what) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      throw BadRequest(std::string(what) + " '" + key.substr(0, 64) + "': unknown (known: " + known_list(allowed) + ")");
    }
  }
}

}  // namespace

Fields Fields::body(const httplib::Request& request, std::initializer_list<std::string_view> allowed) {
  json object = json::object();
  if (!request.body.empty()) {
    object = json::parse(request.body, nullptr, false);
    if (object.is_discarded()) throw BadRequest("body: not valid JSON");
    if (!object.is_object()) throw BadRequest("body: expected a JSON object");
  }
  refuse_unknown(object, allowed, "field");
  return Fields(std::move(object), false);
}

Fields Fields::query(const httplib::Request& request, std::initializer_list<std::string_view> allowed) {
  json object = json::object();
  for (const auto& [key, value] : request.params) object[key] = value;
  refuse_unknown(object, allowed, "query parameter");
  return Fields(std::move(object), true);
}

bool Fields::has(std::string_view key) const { return raw(key) != nullptr; }

const json* Fields::raw(std::string_view key) const {
  const auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

std::optional<std::string> Fields::text(std::string_view key) const {
  const json* value = raw(key);
  if (!value) return std::nullopt;
  if (!value->is_string()) throw BadRequest("field '" + std::string(key) + "': expected a string");
  return value->get<std::string>();
}

std::string Fields::text(std::string_view key, const std::string& fallback) const {
  return text(key).value_or(fallback);
}

std::string Fields::required_text(std::string_view key) const {
  auto value = text(key);
  if (!value || value->empty()) throw BadRequest("field '" + std::string(key) + "': required");
  return *value;
}

bool Fields::flag(std::string_view key, bool fallback) const {
  const json* value = raw(key);
  if (!value) return fallback;
  if (value->is_boolean()) return value->get<bool>();
  if (from_query_ && value->is_string()) {
    const auto text = value->get<std::string>();
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
  }
  throw BadRequest("field '" + std::string(key) + "': expected true or false");
}

std::optional<std::uint64_t> Fields::number(std::string_view key, std::uint64_t min, std::uint64_t max) const {
  const json* value = raw(key);
  if (!value) return std::nullopt;
  const auto bad = [&] {
    return BadRequest("field '" + std::string(key) + "': expected an integer " + std::to_string(min) + ".." +
                      std::to_string(max));
  };
  std::uint64_t number = 0;
  if (value->is_number_unsigned()) {
    number = value->get<std::uint64_t>();
  } else if (from_query_ && value->is_string()) {
    const auto text = value->get<std::string>();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || end != text.data() + text.size()) throw bad();
  } else {
    throw bad();
  }
  if (number < min || number > max) throw bad();
  return number;
}

std::uint64_t Fields::number(std::string_view key, std::uint64_t fallback, std::uint64_t min,
                             std::uint64_t max) const {
  return number(key, min, max).value_or(fallback);
}

NodeSpec spec_field(const json& value, std::string_view field) {
  auto spec = node_spec_from_json(value);
  if (!spec) {
    const auto& error = spec.error();
    throw BadRequest("field '" + std::string(field) + "': " + (error.detail.empty() ? error.message() : error.detail));
  }
  return *spec;
}

}  // namespace plexus::node
