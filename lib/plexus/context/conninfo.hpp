// libpq connection strings for contexts: the datastore's conninfo (a
// privileged connection to any database of the server) re-targeted at the
// datastore's own database and a context's role. Internal to plexus::context.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plexus/core/result.hpp"

namespace plexus::context::detail {

/// The schema and table of a PostgreSQL datastore's key-value store, inside
/// its own database (the database is named after the datastore).
inline constexpr const char* postgres_schema = "plexus";
inline constexpr const char* postgres_table = "kv";

/// `conninfo` (keyword=value or URI; "" for libpq's PG* defaults) with each
/// keyword of `overrides` set, as a keyword='value' string. plexus::errc::
/// invalid_field on a conninfo libpq cannot parse (the text is not echoed).
Result<std::string> override_conninfo(std::string_view conninfo,
                                      const std::vector<std::pair<std::string, std::string>>& overrides);

/// "\"name\"": a name already checked against [a-z_][a-z0-9_]*, quoted.
std::string identifier(std::string_view name);

}  // namespace plexus::context::detail
