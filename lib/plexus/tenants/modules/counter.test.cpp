// Tests of the built-in `counter` module through the Module interface, and
// through the Lifecycle core (test_driver.hpp) for snapshots and handoff:
// its calls, that every change asks for a snapshot, that run() restores the
// given state, and that bad requests are typed error replies.
#include <doctest/doctest.h>

#include <limits>

#include "plexus/tenants/modules/counter.hpp"
#include "plexus/tenants/test_driver.hpp"

namespace plexus::tenants::modules {
namespace {

const Tenant tenant{"t1", "counter", {}, 1};

nlohmann::json reply_json(const CallOutcome& out) {
  REQUIRE(out.kind == CallOutcome::Kind::reply);
  return nlohmann::json::parse(*out.reply);
}

/// Calls `request` on `state`, returns the outcome (state is replaced with the new one).
CallOutcome call(CounterModule& module, Bytes& state, const std::string& request) {
  auto out = module.call(request, From{1}, tenant, state);
  state = out.state;
  return out;
}

TEST_CASE("counter: incr, get, reset and list keep named counters and snapshot every change") {
  // Proves the calls' semantics and that changing calls (only those) set Effects::snapshot.
  CounterModule module;
  auto installed = module.install(tenant);
  REQUIRE(installed.kind == Outcome::Kind::ok);
  auto ran = module.run(tenant, installed.state);
  REQUIRE(ran.ok);
  Bytes state = ran.state;
  CHECK(state == "{}");
  auto first = call(module, state, R"({"op":"incr"})");
  CHECK(reply_json(first) == nlohmann::json{{"name", "default"}, {"value", 1}});
  CHECK(first.snapshot);
  auto by = call(module, state, R"({"op":"incr","name":"hits","by":41})");
  CHECK(reply_json(by)["value"] == 41);
  CHECK(reply_json(call(module, state, R"({"op":"incr","name":"hits","by":-2})"))["value"] == 39);
  auto got = call(module, state, R"({"op":"get","name":"hits"})");
  CHECK(reply_json(got)["value"] == 39);
  CHECK_FALSE(got.snapshot);
  CHECK(reply_json(call(module, state, R"({"op":"get","name":"never"})"))["value"] == 0);
  CHECK(state == R"({"default":1,"hits":39})");
  CHECK(reply_json(call(module, state, R"({"op":"list"})")) ==
        nlohmann::json::parse(R"({"counters":{"default":1,"hits":39}})"));
  auto reset = call(module, state, R"({"op":"reset","name":"hits"})");
  CHECK(reply_json(reset)["value"] == 0);
  CHECK(reset.snapshot);
  CHECK(state == R"({"default":1})");
}

TEST_CASE("counter: run restores the state it is given, and refuses a state that is no counter map") {
  // Proves a restart or failover resumes from the snapshot, and a corrupt one parks the tenant, not the node.
  CounterModule module;
  auto ran = module.run(tenant, R"({"a":7,"b":-3})");
  REQUIRE(ran.ok);
  Bytes state = ran.state;
  CHECK(reply_json(call(module, state, R"({"op":"incr","name":"a"})"))["value"] == 8);
  auto broken = module.run(tenant, R"({"a":"seven"})");
  CHECK_FALSE(broken.ok);
  CHECK(broken.reason == "counter state: counter 'a' is not a 64-bit integer");
  CHECK(broken.state == R"({"a":"seven"})");
  auto not_json = module.run(tenant, "{\"a\":");
  CHECK_FALSE(not_json.ok);
  CHECK(not_json.reason.rfind("counter state: invalid JSON at offset 5", 0) == 0);
}

TEST_CASE("counter: bad requests get a typed error reply naming the field, and change nothing") {
  // Proves each malformed request is answered {"error":"invalid_argument","detail":...}, never a crash.
  CounterModule module;
  const Bytes start = R"({"n":9223372036854775807})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "request: invalid JSON at offset 1"},
      {"[1]", "request: must be a JSON object {\"op\": ...}, not array"},
      {R"({"name":"a"})", "op: required (a string naming the operation)"},
      {R"({"op":7})", "op: must be a string, not number"},
      {R"({"op":"decr"})", "op: unknown operation (counter knows incr, get, reset, list)"},
      {R"({"op":"incr","by":"2"})", "by: must be an integer in [-9223372036854775808, 9223372036854775807], not string"},
      {R"({"op":"incr","by":1.5})", "by: must be an integer in [-9223372036854775808, 9223372036854775807], not number"},
      {R"({"op":"incr","by":18446744073709551615})", "by: must be an integer in [-9223372036854775808, 9223372036854775807]"},
      {R"({"op":"incr","name":"n"})", "by: counter 'n' at 9223372036854775807 would overflow"},
      {R"({"op":"get","by":1})", "\"by\": unknown field for op 'get'"},
      {R"({"op":"get","name":["a"]})", "name: must be a string, not array"},
      {R"({"op":"get","name":")" + std::string(300, 'x') + "\"}", "name: 300 bytes, over the limit of 256"},
  };
  for (const auto& [request, detail] : cases) {
    CAPTURE(request);
    auto out = module.call(request, From{1}, tenant, start);
    const auto reply = reply_json(out);
    CHECK(reply["error"] == "invalid_argument");
    CHECK(reply["detail"].get<std::string>().rfind(detail, 0) == 0);
    CHECK(out.state == start);
    CHECK_FALSE(out.snapshot);
  }
  auto huge = module.call(std::string(counter_request_bytes_max + 1, ' '), From{1}, tenant, start);
  CHECK(reply_json(huge)["detail"] == "request: 4097 bytes, over the limit of 4096");
}

TEST_CASE("counter: the number of counters is bounded") {
  // Proves counters_max: a new counter past the limit is refused, existing ones still count.
  CounterModule module;
  nlohmann::json full = nlohmann::json::object();
  for (std::size_t i = 0; i < counters_max; ++i) full["c" + std::to_string(i)] = 1;
  Bytes state = to_bytes(full);
  auto refused = call(module, state, R"({"op":"incr","name":"one-more"})");
  CHECK(reply_json(refused)["detail"] == "name: a new counter, over the limit of 10000 counters");
  CHECK(reply_json(call(module, state, R"({"op":"incr","name":"c0"})"))["value"] == 2);
}

TEST_CASE("counter: increments survive a handoff through the Lifecycle core") {
  // Proves the snapshots the counter asks for reach the manager and a resumed tenant continues from them.
  CounterModule module;
  test::Driver first(module);
  first.install(1);
  REQUIRE(first.reply_to(1).kind == Reply::Kind::ok);
  for (std::uint64_t i = 0; i < 5; ++i) first.call(10 + i, R"({"op":"incr","by":2})");
  CHECK(nlohmann::json::parse(first.reply_to(14).value)["value"] == 10);
  first.core.stop("handoff", first.now);
  first.drain();
  REQUIRE(first.stopped);
  REQUIRE_FALSE(first.snapshots.empty());
  test::Driver second(module);
  second.core.resume(first.snapshots.back(), second.now);
  second.drain();
  second.call(20, R"({"op":"get"})");
  CHECK(nlohmann::json::parse(second.reply_to(20).value)["value"] == 10);
}

}  // namespace
}  // namespace plexus::tenants::modules
