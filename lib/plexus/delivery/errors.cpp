// Names and messages of the delivery error codes.
#include "plexus/core/error_category.hpp"
#include "plexus/delivery/errors.hpp"

namespace plexus::delivery {
namespace {

ErrorText describe(errc e) noexcept {
  switch (e) {
    case errc::ok: return {"ok", "success"};
    case errc::ack_table_full: return {"ack_table_full", "ack table full"};
    case errc::target_left: return {"target_left", "target left the cluster before acknowledging"};
    case errc::gave_up: return {"gave_up", "no acknowledgement after the maximum attempts"};
    case errc::too_old: return {"too_old", "no acknowledgement within the maximum age"};
    case errc::causal_buffer_full: return {"causal_buffer_full", "causal buffer full"};
    case errc::stale_clock: return {"stale_clock", "causal message already delivered"};
    case errc::malformed_stamp: return {"malformed_stamp", "malformed causal stamp"};
    case errc::too_many_processes: return {"too_many_processes", "too many processes in causal clocks"};
    case errc::too_many_labels: return {"too_many_labels", "too many causal labels"};
    case errc::self_destination: return {"self_destination", "causal message addressed to its sender"};
  }
  return {"unknown", "unknown delivery error"};
}

}  // namespace

const std::error_category& delivery_category() noexcept {
  static const DescribedCategory<errc, describe> category("plexus.delivery");
  return category;
}

std::string_view errc_name(errc e) noexcept { return describe(e).name; }

}  // namespace plexus::delivery
