// The "plexus.presence" error category.
#include "plexus/core/error_category.hpp"
#include "plexus/presence/errors.hpp"

#include <string>

namespace plexus::presence {
namespace {

ErrorText describe(errc e) noexcept {
  switch (e) {
    case errc::ok: return {"ok", "success"};
    case errc::already_tracked: return {"already_tracked", "already tracked"};
    case errc::not_tracked: return {"not_tracked", "not tracked"};
    case errc::invalid_option: return {"invalid_option", "invalid tracker option"};
    case errc::pool_size_mismatch: return {"pool_size_mismatch", "remote shard has another pool_size"};
    case errc::delta_gap: return {"delta_gap", "delta starts after our knowledge of its replica"};
    case errc::stopped: return {"stopped", "tracker shard permanently stopped"};
    case errc::unknown_replica: return {"unknown_replica", "replica was dropped"};
    case errc::closed_owner: return {"closed_owner", "owner is closed"};
  }
  return {"unknown", "unknown presence error"};
}

}  // namespace

const std::error_category& presence_category() noexcept {
  static const DescribedCategory<errc, describe> category("plexus.presence");
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), presence_category()}; }

std::string_view errc_name(errc e) noexcept { return describe(e).name; }

}  // namespace plexus::presence
