// The "plexus.tenants" error category: one code per refusal of the tenant
// manager, each with a stable short name for metric labels.
#include "plexus/tenants/errors.hpp"

#include "plexus/core/error_category.hpp"

namespace plexus::tenants {
namespace {

ErrorText describe(errc e) noexcept {
  switch (e) {
    case errc::ok: return {"ok", "success"};
    case errc::already_exists: return {"already_exists", "tenant already exists"};
    case errc::tenant_not_found: return {"tenant_not_found", "tenant not found"};
    case errc::unknown_module: return {"unknown_module", "unknown tenant module"};
    case errc::invalid_argument: return {"invalid_argument", "invalid argument"};
    case errc::module_error: return {"module_error", "tenant module returned an error"};
    case errc::callback_threw: return {"callback_threw", "tenant callback threw"};
    case errc::timeout: return {"timeout", "no reply before the deadline"};
    case errc::stopped: return {"stopped", "tenant stopped before replying"};
    case errc::unavailable: return {"unavailable", "tenant unavailable"};
    case errc::mailbox_full: return {"mailbox_full", "tenant mailbox full"};
    case errc::outbox_full: return {"outbox_full", "tenant event outbox full"};
    case errc::fenced: return {"fenced", "write refused: stale fencing epoch"};
    case errc::lease_held: return {"lease_held", "tenant lease held by another owner"};
    case errc::reserved_key: return {"reserved_key", "key in the tenant manager's reserved subspace"};
    case errc::conflict: return {"conflict", "duplicate owner lost on heal"};
  }
  return {"unknown", "unknown tenants error"};
}

}  // namespace

const std::error_category& tenants_category() noexcept {
  static const DescribedCategory<errc, describe> category("plexus.tenants");
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), tenants_category()}; }

std::string_view errc_name(errc e) noexcept { return describe(e).name; }

Error make_error(errc code, std::string detail) { return Error{make_error_code(code), std::move(detail)}; }

}  // namespace plexus::tenants
