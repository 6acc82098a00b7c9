// The "plexus.store" error category: every way a datastore, a transaction, a
// tuple or a tenant key space refuses a request has its own code, so callers
// branch on the code and logs carry the detail (which key, which limit, which
// offset). Names follow FoundationDB's where FoundationDB has the error.
#pragma once

#include <string_view>
#include <system_error>

#include "plexus/core/result.hpp"

namespace plexus::store {

enum class errc : int {
  ok = 0,
  // Limits (FoundationDB's names).
  key_too_large = 1,         ///< a key over Limits::key_bytes_max
  value_too_large,           ///< a value over Limits::value_bytes_max
  transaction_too_large,     ///< a transaction's writes over Limits::transaction_bytes_max
  transaction_too_old,       ///< a transaction older than Limits::transaction_age_max
  // Concurrency and availability.
  conflict,                  ///< a serializable transaction lost to a concurrent one; retry it
  retry_limit_reached,       ///< run() gave up after RetryOptions::attempts_max conflicts
  unavailable,               ///< the backend cannot be reached (server down, connection lost)
  commit_unknown_result,     ///< the connection was lost during commit: it may or may not have committed
  transaction_closed,        ///< use of a transaction after commit, cancel or an error
  read_only,                 ///< a write in a snapshot (read-only) transaction or datastore
  invalid_range,             ///< a range whose begin sorts after its end, or a bad limit
  invalid_option,            ///< an option out of range; the detail names it
  backend_error,             ///< the backend failed in a way not listed above; detail has its text
  // Tuples.
  malformed_tuple,           ///< unpack() input is not a valid tuple; the detail names the offset
  invalid_versionstamp,      ///< pack_with_versionstamp() without exactly one incomplete stamp
  // Tenant key spaces and datastores.
  tenant_already_exists,     ///< create() of an existing tenant
  tenant_not_found,          ///< open() (or a handle's use) of a missing tenant
  tenant_not_empty,          ///< delete() of a tenant that still has data
  invalid_tenant_id,         ///< an empty or oversized tenant id
  outside_tenant,            ///< a raw key outside the tenant's prefix
  migration_failed,          ///< a migration step returned an error; the detail names the step
  unknown_datastore,         ///< no datastore of that name on this node
  // Roles.
  permission_denied,         ///< the server refused the statement to this role (SQLSTATE 42501)
};

const std::error_category& store_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
/// Stable short name ("key_too_large"), for metric labels, JSON and logs.
std::string_view errc_name(errc e) noexcept;

inline Error make_error(errc e, std::string detail = {}) {
  return Error{make_error_code(e), std::move(detail)};
}

/// True when `error` is this category's `e`.
inline bool is(const Error& error, errc e) noexcept { return error.code == make_error_code(e); }

}  // namespace plexus::store

template <>
struct std::is_error_code_enum<plexus::store::errc> : std::true_type {};
