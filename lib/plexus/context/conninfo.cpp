// Conninfo rewriting (conninfo.hpp).
#include "plexus/context/conninfo.hpp"

#include <libpq-fe.h>

#include <cstring>
#include <map>

#include "plexus/core/errors.hpp"
#include "plexus/core/json_path.hpp"

namespace plexus::context::detail {
namespace {

/// keyword='value' with \ and ' escaped, as libpq reads it.
std::string pair(const std::string& keyword, const std::string& value) {
  std::string out = keyword + "='";
  for (const char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

Result<std::string> override_conninfo(std::string_view conninfo,
                                      const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::map<std::string, std::string> values;
  if (!conninfo.empty()) {
    char* message = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(std::string(conninfo).c_str(), &message);
    PQfreemem(message);  // may quote the string: not shown
    if (parsed == nullptr) return json_path::field_error("backend", "not a libpq connection string");
    for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
      if (o->val != nullptr && *o->val != '\0') values[o->keyword] = o->val;
    }
    PQconninfoFree(parsed);
  }
  for (const auto& [keyword, value] : overrides) values[keyword] = value;
  std::string out;
  for (const auto& [keyword, value] : values) {
    if (!out.empty()) out += ' ';
    out += pair(keyword, value);
  }
  return out;
}

std::string identifier(std::string_view name) { return "\"" + std::string(name) + "\""; }

}  // namespace plexus::context::detail
