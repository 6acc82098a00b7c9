// The built-in `counter` module: named 64-bit counters kept in the tenant's
// in-memory state, to show that a restart, a handoff and a failover keep
// state. Every call that changes a counter asks for a snapshot
// (Effects::snapshot), and run() starts from the state it is given (the last
// snapshot), so an acknowledged increment survives the owner's loss.
//
// State: compact JSON {"<name>": <value>, ...} (keys sorted). Requests
// (JSON objects; "name" defaults to "default"):
//   {"op": "incr", "name"?, "by"?}   by: an integer, default 1   -> {"name", "value"}
//   {"op": "get", "name"?}                                       -> {"name", "value"} (0 if never set)
//   {"op": "reset", "name"?}                                     -> {"name", "value": 0}
//   {"op": "list"}                                               -> {"counters": {...}}
// A bad request (not JSON, unknown op or field, wrong type, an increment
// that would overflow, too many counters) is answered
// {"error": "invalid_argument", "detail": "<field>: ..."}; the state is unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "plexus/tenants/module.hpp"

namespace plexus::tenants::modules {

/// Longest request a counter tenant reads.
inline constexpr std::size_t counter_request_bytes_max = 4096;
/// Longest counter name, in bytes.
inline constexpr std::size_t counter_name_bytes_max = 256;
/// Most counters in one tenant.
inline constexpr std::size_t counters_max = 10'000;

/// One decoded counter request.
struct CounterRequest {
  enum class Op : std::uint8_t { incr, get, reset, list };
  Op op = Op::get;
  std::string name = "default";
  std::int64_t by = 1;
};

/// Decodes a request; invalid_argument naming the field otherwise (never throws).
Result<CounterRequest> decode_counter_request(std::string_view bytes);

/// The `counter` module.
class CounterModule final : public Module {
 public:
  [[nodiscard]] std::string name() const override { return "counter"; }
  /// ok("{}"): no counters yet.
  Outcome install(const Tenant& tenant) override;
  /// success(state) when `state` is a counter map; failure naming the problem
  /// otherwise (the tenant stays, in error_occurred, with the state kept for inspection).
  RunOutcome run(const Tenant& tenant, Bytes state) override;
  CallOutcome call(const Bytes& request, From from, const Tenant& tenant, Bytes state) override;
};

}  // namespace plexus::tenants::modules
