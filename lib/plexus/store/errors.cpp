// The "plexus.store" error category.
#include "plexus/store/errors.hpp"

#include "plexus/core/error_category.hpp"

namespace plexus::store {
namespace {

ErrorText describe(errc e) noexcept {
  switch (e) {
    case errc::ok: return {"ok", "success"};
    case errc::key_too_large: return {"key_too_large", "key too large"};
    case errc::value_too_large: return {"value_too_large", "value too large"};
    case errc::transaction_too_large: return {"transaction_too_large", "transaction too large"};
    case errc::transaction_too_old: return {"transaction_too_old", "transaction too old"};
    case errc::conflict: return {"conflict", "transaction conflicted with a concurrent one"};
    case errc::retry_limit_reached: return {"retry_limit_reached", "transaction retried too many times"};
    case errc::unavailable: return {"unavailable", "datastore unavailable"};
    case errc::commit_unknown_result: return {"commit_unknown_result", "commit outcome unknown"};
    case errc::transaction_closed: return {"transaction_closed", "transaction already closed"};
    case errc::read_only: return {"read_only", "write in a read-only transaction"};
    case errc::invalid_range: return {"invalid_range", "invalid range"};
    case errc::invalid_option: return {"invalid_option", "invalid datastore option"};
    case errc::backend_error: return {"backend_error", "datastore backend error"};
    case errc::malformed_tuple: return {"malformed_tuple", "malformed tuple"};
    case errc::invalid_versionstamp: return {"invalid_versionstamp", "invalid versionstamp"};
    case errc::tenant_already_exists: return {"tenant_already_exists", "tenant already exists"};
    case errc::tenant_not_found: return {"tenant_not_found", "tenant not found"};
    case errc::tenant_not_empty: return {"tenant_not_empty", "tenant not empty"};
    case errc::invalid_tenant_id: return {"invalid_tenant_id", "invalid tenant id"};
    case errc::outside_tenant: return {"outside_tenant", "key outside the tenant's key space"};
    case errc::migration_failed: return {"migration_failed", "tenant migration failed"};
    case errc::unknown_datastore: return {"unknown_datastore", "unknown datastore"};
    case errc::permission_denied: return {"permission_denied", "permission denied"};
  }
  return {"unknown", "unknown store error"};
}

}  // namespace

const std::error_category& store_category() noexcept {
  static const DescribedCategory<errc, describe> category("plexus.store");
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), store_category()}; }

std::string_view errc_name(errc e) noexcept { return describe(e).name; }

}  // namespace plexus::store
