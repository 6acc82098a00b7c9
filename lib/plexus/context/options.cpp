// The datastore options parser and checks (options.hpp).
#include "plexus/context/options.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/core/json_path.hpp"

namespace plexus::context {
namespace {

using json_path::field_error;
using nlohmann::json;

/// Refuses keys the object does not know, so a typo is not silently ignored.
Result<void> known_keys(const json& object, const std::string& path, const std::set<std::string>& keys) {
  if (!object.is_object()) return field_error(path.empty() ? json_path::root : path, "must be an object");
  for (const auto& [key, value] : object.items()) {
    if (!keys.contains(key)) return field_error(json_path::join(path, key), "unknown field");
  }
  return {};
}

Result<std::string> text(const json& object, const std::string& path, const char* key, bool required) {
  const auto it = object.find(key);
  if (it == object.end()) {
    if (required) return field_error(json_path::join(path, key), "required");
    return std::string();
  }
  if (!it->is_string()) return field_error(json_path::join(path, key), "must be a string");
  return it->get<std::string>();
}

/// An unsigned integer field within [low, high]; `fallback` when absent.
Result<std::uint64_t> number(const json& object, const std::string& path, const char* key, std::uint64_t low,
                             std::uint64_t high, std::uint64_t fallback) {
  const auto it = object.find(key);
  if (it == object.end()) return fallback;
  const std::string field = json_path::join(path, key);
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
    return field_error(field, "must be an integer " + std::to_string(low) + ".." + std::to_string(high));
  }
  const auto value = it->get<std::uint64_t>();
  if (value < low || value > high) {
    return field_error(field, "must be " + std::to_string(low) + ".." + std::to_string(high));
  }
  return value;
}

Result<CredentialSource> credential(const json& object, const std::string& path) {
  if (auto ok = known_keys(object, path, {"file", "env"}); !ok) return ok.error();
  if (object.size() != 1) return field_error(path, "must have exactly one of \"file\" or \"env\"");
  const bool file = object.contains("file");
  auto where = text(object, path, file ? "file" : "env", true);
  if (!where) return where.error();
  if (where->empty()) return field_error(json_path::join(path, file ? "file" : "env"), "must not be empty");
  return CredentialSource{file ? CredentialSource::From::file : CredentialSource::From::env, std::move(*where)};
}

template <class E>
Result<E> choice(const json& object, const std::string& path, const char* key,
                 std::initializer_list<std::pair<const char*, E>> values, E fallback, std::string_view spelled) {
  auto value = text(object, path, key, false);
  if (!value) return value.error();
  if (!object.contains(key)) return fallback;
  for (const auto& [name, e] : values) {
    if (*value == name) return e;
  }
  return field_error(json_path::join(path, key), "must be " + std::string(spelled));
}

Result<ContextOptions> parse_context(const json& object, const std::string& path) {
  if (auto ok = known_keys(object, path, {"name", "description", "kind", "role", "credential", "pool_size", "start",
                                          "access", "registry"});
      !ok) {
    return ok.error();
  }
  ContextOptions c;
  auto name = text(object, path, "name", true);
  if (!name) return name.error();
  c.name = *name;
  auto description = text(object, path, "description", false);
  if (!description) return description.error();
  c.description = *description;
  auto kind = choice<Kind>(object, path, "kind", {{"owner", Kind::owner}, {"login", Kind::login},
                                                  {"nonlogin", Kind::nonlogin}}, Kind::login, "owner, login or nonlogin");
  if (!kind) return kind.error();
  c.kind = *kind;
  auto role = text(object, path, "role", false);
  if (!role) return role.error();
  c.role = role->empty() ? c.name : *role;
  if (const auto it = object.find("credential"); it != object.end()) {
    auto source = credential(*it, json_path::join(path, "credential"));
    if (!source) return source.error();
    c.credential = *source;
  }
  auto pool = number(object, path, "pool_size", 1, 256, c.pool_size);
  if (!pool) return pool.error();
  c.pool_size = *pool;
  if (const auto it = object.find("start"); it != object.end()) {
    if (!it->is_boolean()) return field_error(json_path::join(path, "start"), "must be true or false");
    c.start = it->get<bool>();
  }
  auto access = choice<Access>(object, path, "access", {{"read_write", Access::read_write},
                                                        {"read_only", Access::read_only}}, Access::read_write,
                               "read_write or read_only");
  if (!access) return access.error();
  c.access = *access;
  auto scope = choice<Scope>(object, path, "registry", {{"none", Scope::none}, {"local", Scope::local},
                                                        {"global", Scope::global}}, Scope::local,
                             "none, local or global");
  if (!scope) return scope.error();
  c.registry = *scope;
  return c;
}

Result<SupervisionOptions> parse_supervision(const json& object, const std::string& path) {
  if (auto ok = known_keys(object, path, {"probe_interval_ms", "backoff_initial_ms", "backoff_max_ms",
                                          "park_failures_max", "park_window_ms", "call_wait_max_ms"});
      !ok) {
    return ok.error();
  }
  SupervisionOptions s;
  const std::uint64_t hour_ms = 3'600'000;
  std::pair<const char*, std::chrono::milliseconds*> durations[] = {
      {"probe_interval_ms", &s.probe_interval}, {"backoff_initial_ms", &s.backoff_initial},
      {"backoff_max_ms", &s.backoff_max}, {"park_window_ms", &s.park_window},
      {"call_wait_max_ms", &s.call_wait_max}};
  for (auto& [key, target] : durations) {
    auto value = number(object, path, key, 1, hour_ms, static_cast<std::uint64_t>(target->count()));
    if (!value) return value.error();
    *target = std::chrono::milliseconds{*value};
  }
  auto failures = number(object, path, "park_failures_max", 1, 100'000, s.park_failures_max);
  if (!failures) return failures.error();
  s.park_failures_max = *failures;
  return s;
}

Result<void> parse_backend(const std::string& backend, DatastoreOptions& options) {
  if (backend.starts_with("lmdb:")) {
    options.backend = BackendKind::lmdb;
    options.location = backend.substr(5);
    if (options.location.empty()) return field_error("backend", "lmdb: needs a path (lmdb:PATH)");
  } else if (backend.starts_with("postgres:")) {
    options.backend = BackendKind::postgres;
    options.location = backend.substr(9);
  } else {
    return field_error("backend", "must be lmdb:PATH or postgres:CONNINFO");
  }
  return {};
}

}  // namespace

const ContextOptions& DatastoreOptions::owner() const {
  for (const auto& c : contexts) {
    if (c.kind == Kind::owner) return c;
  }
  return contexts.front();  // validate() guarantees an owner
}

const ContextOptions* DatastoreOptions::find(std::string_view context) const {
  for (const auto& c : contexts) {
    if (c.name == context) return &c;
  }
  return nullptr;
}

Result<DatastoreOptions> parse_datastore_options(const json& document) {
  if (auto ok = known_keys(document, "",
                           {"name", "backend", "admin_credential", "contexts", "supervision"});
      !ok) {
    return ok.error();
  }
  DatastoreOptions options;
  auto name = text(document, "", "name", true);
  if (!name) return name.error();
  options.name = *name;
  auto backend = text(document, "", "backend", true);
  if (!backend) return backend.error();
  if (auto ok = parse_backend(*backend, options); !ok) return ok.error();
  if (const auto it = document.find("admin_credential"); it != document.end()) {
    auto source = credential(*it, "admin_credential");
    if (!source) return source.error();
    options.admin_credential = *source;
  }
  if (const auto it = document.find("supervision"); it != document.end()) {
    auto supervision = parse_supervision(*it, "supervision");
    if (!supervision) return supervision.error();
    options.supervision = *supervision;
  }
  const auto contexts = document.find("contexts");
  if (contexts == document.end()) return field_error("contexts", "required");
  if (!contexts->is_array()) return field_error("contexts", "must be an array");
  if (contexts->size() > contexts_max) return field_error("contexts", "at most " + std::to_string(contexts_max));
  for (std::size_t i = 0; i < contexts->size(); ++i) {
    auto context = parse_context((*contexts)[i], json_path::index("contexts", i));
    if (!context) return context.error();
    options.contexts.push_back(std::move(*context));
  }
  if (auto ok = validate(options); !ok) return ok.error();
  return options;
}

Result<DatastoreOptions> parse_datastore_options(std::string_view text) {
  json document = json::parse(text, nullptr, false);
  if (document.is_discarded()) return make_error(errc::invalid_json, "datastore options: not valid JSON");
  return parse_datastore_options(document);
}

}  // namespace plexus::context
