// libFuzzer target for the built-in tenant modules' request decoders: a
// tenant's caller sends arbitrary bytes. Neither decoder may throw, crash or
// read out of bounds; every refusal is invalid_argument; a decoded kv key
// survives its JSON spelling (the reply echoes it); and the counter module
// answers every request on a sample state with a JSON reply, never a stop,
// leaving the state as it was whenever it answers an error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "plexus/tenants/modules/counter.hpp"
#include "plexus/tenants/modules/kv_request.hpp"

namespace tenants = plexus::tenants;

namespace {

void check_kv(std::string_view input) {
  auto decoded = tenants::modules::decode_kv_request(input);
  if (!decoded) {
    if (!tenants::is(decoded.error(), tenants::errc::invalid_argument)) __builtin_trap();
    return;
  }
  auto again = plexus::store::tuple_from_json(plexus::store::to_json(decoded->key));
  if (!again || !(*again == decoded->key)) __builtin_trap();
  if (decoded->limit < 1 || decoded->limit > tenants::modules::kv_range_limit_max) __builtin_trap();
}

void check_counter(const std::string& input) {
  static tenants::modules::CounterModule module;
  static const tenants::Tenant tenant{"fuzz", "counter", {}, 1};
  const std::string state = R"({"a":1,"max":9223372036854775807,"min":-9223372036854775808})";
  auto out = module.call(input, tenants::From{1}, tenant, state);
  if (out.kind != tenants::CallOutcome::Kind::reply || !out.reply) __builtin_trap();
  auto reply = nlohmann::json::parse(*out.reply, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) __builtin_trap();
  if (reply.contains("error") && (out.state != state || out.snapshot)) __builtin_trap();
  if (!module.run(tenant, out.state).ok) __builtin_trap();  // what it snapshots, it can restore
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check_kv(input);
  check_counter(input);
  return 0;
}
