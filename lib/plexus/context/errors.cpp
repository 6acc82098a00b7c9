// The "plexus.context" error category (errors.hpp).
#include "plexus/context/errors.hpp"

#include "plexus/core/error_category.hpp"

namespace plexus::context {
namespace {

ErrorText describe(errc e) noexcept {
  switch (e) {
    case errc::ok: return {"ok", "success"};
    case errc::context_not_found: return {"context_not_found", "datastore context not found"};
    case errc::already_registered: return {"already_registered", "context name already registered"};
    case errc::not_login: return {"not_login", "only login contexts can be started"};
    case errc::already_started: return {"already_started", "context already started"};
    case errc::not_started: return {"not_started", "context not started"};
    case errc::none_started: return {"none_started", "no context of the datastore started"};
    case errc::provision_failed: return {"provision_failed", "datastore provisioning failed"};
    case errc::already_declared: return {"already_declared", "datastore already declared on this node"};
  }
  return {"unknown", "unknown context error"};
}

}  // namespace

const std::error_category& context_category() noexcept {
  static const DescribedCategory<errc, describe> category("plexus.context");
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), context_category()}; }

std::string_view errc_name(errc e) noexcept { return describe(e).name; }

}  // namespace plexus::context
