// The "plexus.membership" error category: one code per membership-specific
// rejection, each with a stable short name for metric labels.
#include "plexus/core/error_category.hpp"
#include <string>

#include "plexus/membership/internal.hpp"

namespace plexus::membership {
namespace {

ErrorText describe(errc e) noexcept {
  switch (e) {
    case errc::ok: return {"ok", "success"};
    case errc::members_full:
      return {"members_full", "membership full (max_members reached, no reservation for this name)"};
    case errc::no_available_slots:
      return {"no_available_slots", "no available slots (members and reservations fill max_members)"};
    case errc::local_spec_conflict:
      return {"local_spec_conflict", "spec conflicts with the local node's own spec"};
    case errc::version_exhausted: return {"version_exhausted", "entry version at its limit"};
    case errc::too_many_entries: return {"too_many_entries", "too many membership entries"};
  }
  return {"unknown", "unknown membership error"};
}

}  // namespace

const std::error_category& membership_category() noexcept {
  static const DescribedCategory<errc, describe> category("plexus.membership");
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), membership_category()}; }

std::string_view errc_name(errc e) noexcept { return describe(e).name; }

namespace internal {

Error error(errc code, std::string detail) { return Error{make_error_code(code), std::move(detail)}; }

Error nested(const Error& inner, std::string_view prefix) {
  constexpr std::string_view root = "(root)";
  std::string detail(prefix);
  if (inner.detail.starts_with(root)) {
    detail += inner.detail.substr(root.size());
  } else {
    detail += "." + inner.detail;
  }
  return Error{inner.code, std::move(detail)};
}

}  // namespace internal

}  // namespace plexus::membership
