// Tests of module.hpp's JSON helpers on input the fuzzer found: well-formed
// JSON that nlohmann refuses with an exception other than parse_error.
#include <doctest/doctest.h>

#include "plexus/tenants/modules/counter.hpp"

namespace plexus::tenants {
namespace {

TEST_CASE("json helpers: a number past a double's range is a typed error, not an exception") {
  // Proves parse_json and parse_config turn nlohmann's out_of_range (406) into invalid_argument naming the field.
  auto number = parse_json("1e400", "request");
  REQUIRE_FALSE(number.ok());
  CHECK(is(number.error(), errc::invalid_argument));
  CHECK(number.error().detail.rfind("request: invalid JSON: ", 0) == 0);
  CHECK(number.error().detail.find("number overflow") != std::string::npos);
  auto config = parse_config(R"({"limit": -1e999})", "{}");
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().detail.rfind("config: invalid JSON: ", 0) == 0);
  modules::CounterModule counter;
  auto out = counter.call(R"({"op":"incr","by":1e400})", From{1}, Tenant{"t", "counter", {}, 1}, "{}");
  REQUIRE(out.kind == CallOutcome::Kind::reply);
  CHECK(nlohmann::json::parse(*out.reply)["error"] == "invalid_argument");
}

}  // namespace
}  // namespace plexus::tenants
