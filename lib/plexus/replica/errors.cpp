// The "plexus.replica" error category: one code per replica::Map rejection,
// each with a stable short name for metric labels.
#include "plexus/replica/errors.hpp"

#include "plexus/core/error_category.hpp"

namespace plexus::replica {
namespace {

ErrorText describe(errc e) noexcept {
  switch (e) {
    case errc::ok: return {"ok", "success"};
    case errc::too_many_entries: return {"too_many_entries", "too many replicated entries"};
    case errc::version_exhausted: return {"version_exhausted", "entry version at its limit"};
    case errc::invalid_version: return {"invalid_version", "entry version out of range"};
  }
  return {"unknown", "unknown replica error"};
}

}  // namespace

const std::error_category& replica_category() noexcept {
  static const DescribedCategory<errc, describe> category("plexus.replica");
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), replica_category()}; }

std::string_view errc_name(errc e) noexcept { return describe(e).name; }

Error make_error(errc code, std::string detail) { return Error{make_error_code(code), std::move(detail)}; }

}  // namespace plexus::replica
