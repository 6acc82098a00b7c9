// Helpers shared by the membership .cpp files; not part of the public API.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "plexus/core/result.hpp"
#include "plexus/membership/membership.hpp"

namespace plexus::membership::internal {

/// Orders two digest entries of one name as compare() orders the entries they
/// summarize; unordered when version, liveness and instance id agree but the
/// spec hashes differ (the digest cannot tell which spec is greater).
std::partial_ordering compare_digest(const DigestEntry& a, const DigestEntry& b);

/// Error{make_error_code(code), detail}.
Error error(errc code, std::string detail);

/// `inner` with its field path moved under `prefix`: "port: ..." under
/// "entries[2].spec" becomes "entries[2].spec.port: ..."; a "(root)" path
/// becomes the prefix itself.
Error nested(const Error& inner, std::string_view prefix);

}  // namespace plexus::membership::internal
