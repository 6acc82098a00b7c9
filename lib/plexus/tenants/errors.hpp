// The "plexus.tenants" error category: every way the tenant manager refuses
// a command or fails a call has its own code (the seed's `already_exists`,
// `tenant_not_found`, and the cluster's `timeout`, `stopped`, `unavailable`,
// `fenced`), so callers branch on the code and logs carry the detail.
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "plexus/core/result.hpp"

namespace plexus::tenants {

enum class errc : int {
  ok = 0,
  already_exists = 1,  ///< install of a tenant that is present (or still being uninstalled)
  tenant_not_found,    ///< update, uninstall, call or cast of a tenant that is not installed
  unknown_module,      ///< no module registered under that name
  invalid_argument,    ///< malformed config, capabilities or request; the detail names the field
  module_error,        ///< a callback returned error(reason); the detail is the reason
  callback_threw,      ///< a callback threw; the detail is what() (the tenant crashed)
  timeout,             ///< no reply before the call's deadline
  stopped,             ///< the tenant stopped (stop, crash, uninstall) before it replied
  unavailable,         ///< the tenant is parked (restart budget spent) or may not run here
  mailbox_full,        ///< the tenant's mailbox is at Options::mailbox_max
  outbox_full,         ///< the tenant's event outbox is at Options::outbox_max
  fenced,              ///< a write with a stale fencing epoch: another owner holds the lease
  lease_held,          ///< acquire of a lease another live owner holds
  reserved_key,        ///< a module key inside the manager's reserved subspace
  conflict,            ///< a duplicate owner lost the resolution on heal
};

/// The "plexus.tenants" error category.
const std::error_category& tenants_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
/// Stable short name ("already_exists"), for metric labels, JSON and logs.
std::string_view errc_name(errc e) noexcept;
/// Error{make_error_code(code), detail}.
Error make_error(errc code, std::string detail = {});
/// True when `error` is this category's `e`.
inline bool is(const Error& error, errc e) noexcept { return error.code == make_error_code(e); }

}  // namespace plexus::tenants

template <>
struct std::is_error_code_enum<plexus::tenants::errc> : std::true_type {};
