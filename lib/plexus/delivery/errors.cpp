// Names and messages of the delivery error codes.
#include "plexus/delivery/errors.hpp"

namespace plexus::delivery {
namespace {

struct Descriptor {
  std::string_view name;
  std::string_view text;
};

Descriptor describe(errc e) noexcept {
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

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "plexus.delivery"; }
  std::string message(int value) const override {
    return std::string(describe(static_cast<errc>(value)).text);
  }
};

}  // namespace

const std::error_category& delivery_category() noexcept {
  static const Category category;
  return category;
}

std::string_view errc_name(errc e) noexcept { return describe(e).name; }

}  // namespace plexus::delivery
