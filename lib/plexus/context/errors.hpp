// The "plexus.context" error category: how datastore life cycle calls,
// context starts and stops, and the context registry refuse a request.
// Calls that reach the store (a transaction through a context) keep the
// store's codes: `unavailable` while a context is not ready or stopped,
// `permission_denied` when the context's role lacks the privilege.
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "plexus/core/result.hpp"

namespace plexus::context {

enum class errc : int {
  ok = 0,
  context_not_found = 1,  ///< no context of that name (in the datastore, or in the registry's scope)
  already_registered,     ///< a registry name taken by another registration
  not_login,              ///< start of an owner or nonlogin context (they have no pool)
  already_started,        ///< start_context of a running context
  not_started,            ///< stop_context of a context that is not running
  none_started,           ///< start_datastore: no context could start; the detail says why, per context
  provision_failed,       ///< create_datastore / drop_datastore: a statement failed; the detail names it
  already_declared,       ///< a datastore declared at run time under a name this node already has
};

const std::error_category& context_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
/// Stable short name ("already_registered"), for metric labels and JSON.
std::string_view errc_name(errc e) noexcept;
inline Error make_error(errc e, std::string detail = {}) { return Error{make_error_code(e), std::move(detail)}; }
/// True when `error` is this category's `e`.
inline bool is(const Error& error, errc e) noexcept { return error.code == make_error_code(e); }

}  // namespace plexus::context

template <>
struct std::is_error_code_enum<plexus::context::errc> : std::true_type {};
