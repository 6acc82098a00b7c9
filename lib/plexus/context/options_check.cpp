// The cross-field checks of datastore options (one owner, unique names, what
// each kind may carry) and reading a credential (options.hpp).
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

#include "plexus/context/options.hpp"
#include "plexus/core/errors.hpp"
#include "plexus/core/json_path.hpp"

namespace plexus::context {
namespace {

using json_path::field_error;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > name_max) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  for (const char c : name) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::string name_rule() { return "must match [a-z_][a-z0-9_]* and be 1.." + std::to_string(name_max) + " bytes"; }

Result<void> check_context(const DatastoreOptions& options, const ContextOptions& c, const std::string& path) {
  if (!valid_name(c.name)) return field_error(path + ".name", name_rule());
  if (!valid_name(c.role)) return field_error(path + ".role", name_rule());
  if (c.description.size() > description_max) {
    return field_error(path + ".description", "at most " + std::to_string(description_max) + " bytes");
  }
  if (c.pool_size < 1 || c.pool_size > 256) return field_error(path + ".pool_size", "must be 1..256");
  const bool postgres = options.backend == BackendKind::postgres;
  const bool has_credential = c.credential.from != CredentialSource::From::none;
  if (c.kind == Kind::owner && has_credential) {
    return field_error(path + ".credential", "an owner context cannot log in, so it has no credential");
  }
  if (!postgres && has_credential) return field_error(path + ".credential", "lmdb has no roles or credentials");
  if (postgres && c.kind == Kind::login && !has_credential) {
    return field_error(path + ".credential", "required for a postgres login context (file or env)");
  }
  return {};
}

}  // namespace

Result<void> validate(const DatastoreOptions& options) {
  if (!valid_name(options.name)) return field_error("name", name_rule());
  if (options.backend == BackendKind::lmdb && options.location.empty()) {
    return field_error("backend", "lmdb: needs a path (lmdb:PATH)");
  }
  if (options.backend == BackendKind::postgres && options.location.find("password") != std::string::npos) {
    return field_error("backend", "a postgres conninfo must not hold a password; use admin_credential");
  }
  if (options.contexts.empty()) return field_error("contexts", "at least the owner context");
  if (options.contexts.size() > contexts_max) return field_error("contexts", "at most " + std::to_string(contexts_max));
  std::set<std::string> names, roles;
  std::size_t owners = 0;
  for (std::size_t i = 0; i < options.contexts.size(); ++i) {
    const auto& c = options.contexts[i];
    const std::string path = json_path::index("contexts", i);
    if (auto ok = check_context(options, c, path); !ok) return ok;
    if (!names.insert(c.name).second) return field_error(path + ".name", "duplicate context name " + c.name);
    if (options.backend == BackendKind::postgres && !roles.insert(c.role).second) {
      return field_error(path + ".role", "duplicate role " + c.role);
    }
    if (c.kind == Kind::owner) ++owners;
  }
  if (owners != 1) {
    return field_error("contexts", "must hold exactly one owner context (has " + std::to_string(owners) + ")");
  }
  const auto& s = options.supervision;
  if (s.backoff_initial > s.backoff_max) return field_error("supervision.backoff_initial_ms", "over backoff_max_ms");
  return {};
}

Result<std::string> read_credential(const CredentialSource& source, std::string_view field) {
  const std::string where(field);
  switch (source.from) {
    case CredentialSource::From::none: return std::string();
    case CredentialSource::From::env: {
      const char* value = std::getenv(source.where.c_str());
      if (value == nullptr) return field_error(where + ".env", "variable " + source.where + " is not set");
      return std::string(value);
    }
    case CredentialSource::From::file: {
      std::ifstream file(source.where);
      std::string line;
      if (!file || !std::getline(file, line)) {
        return field_error(where + ".file", "cannot read " + source.where + ": " + std::strerror(errno));
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) return field_error(where + ".file", source.where + " holds an empty first line");
      return line;
    }
  }
  return std::string();
}

std::string_view to_string(Kind kind) {
  switch (kind) {
    case Kind::owner: return "owner";
    case Kind::login: return "login";
    case Kind::nonlogin: return "nonlogin";
  }
  return "?";
}

std::string_view to_string(Scope scope) {
  switch (scope) {
    case Scope::none: return "none";
    case Scope::local: return "local";
    case Scope::global: return "global";
  }
  return "?";
}

std::string_view to_string(Access access) { return access == Access::read_only ? "read_only" : "read_write"; }

}  // namespace plexus::context
