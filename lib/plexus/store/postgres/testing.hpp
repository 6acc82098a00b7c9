// Hooks the PostgreSQL backend's tests use to look inside; not part of the
// public header. Internal to lib/plexus/store/postgres.
#pragma once

#include <cstdint>

#include "plexus/store/backend.hpp"

namespace plexus::store::postgres {

/// Round trips a backend from open_postgres() has sent so far (0 for any other backend).
std::uint64_t round_trips(const Backend& backend);

}  // namespace plexus::store::postgres
