// Tests of the module interface: the seed's MyTenant (ping -> pong) written
// against it, the default callbacks, the registry and the JSON helpers.
#include <doctest/doctest.h>

#include "plexus/tenants/test_modules.hpp"
#include "plexus/tenants/tenants.hpp"

namespace plexus::tenants {
namespace {

TEST_CASE("module: the seed's MyTenant installs, runs and answers ping with pong") {
  // Proves the callback and result shapes carry the seed's example end to end.
  test::PingModule module;
  const Tenant tenant{"t1", "ping", {}, 1};
  auto installed = module.install(tenant);
  REQUIRE(installed.kind == Outcome::Kind::ok);
  CHECK(installed.state == "{}");
  auto ran = module.run(tenant, installed.state);
  REQUIRE(ran.ok);
  auto answered = module.call("ping", From{7}, tenant, ran.state);
  REQUIRE(answered.kind == CallOutcome::Kind::reply);
  CHECK(answered.reply == Bytes("pong"));
  CHECK(answered.state == "{}");
}

TEST_CASE("module: the optional callbacks default to the seed's behaviour") {
  // Proves update/uninstall keep the state, info is ignored, and call/cast/continue stop the tenant.
  struct Bare : Module {
    std::string name() const override { return "bare"; }
    Outcome install(const Tenant&) override { return Outcome::ok("s"); }
    RunOutcome run(const Tenant&, Bytes state) override { return RunOutcome::success(std::move(state)); }
  } bare;
  const Tenant tenant{"t", "bare", {}, 1};
  auto updated = bare.update(Config{}, tenant, "s1");
  CHECK((updated.kind == Outcome::Kind::ok && updated.state == "s1"));
  auto uninstalled = bare.uninstall(tenant, "s2");
  CHECK((uninstalled.kind == Outcome::Kind::ok && uninstalled.state == "s2"));
  CHECK_FALSE(bare.info(Info{true, {}}, tenant, "s").stop);
  auto called = bare.call("x", From{1}, tenant, "s");
  CHECK(called.kind == CallOutcome::Kind::stop);
  CHECK(called.reason.find("bare") != std::string::npos);
  CHECK(bare.cast("x", tenant, "s").stop);
  CHECK(bare.on_continue("x", tenant, "s").stop);
}

TEST_CASE("module: extra and the result constructors keep what they are given") {
  // Proves each extra kind and each result shape round-trips its fields.
  CHECK(Extra::continue_with("a").kind == Extra::Kind::continue_with);
  CHECK(Extra::continue_with("a").arg == "a");
  CHECK(Extra::timeout(std::chrono::milliseconds(30)).after == std::chrono::milliseconds(30));
  CHECK(Extra::hibernate().kind == Extra::Kind::hibernate);
  auto async = Outcome::async([] { return AsyncResult::success("done"); }, Extra::hibernate());
  REQUIRE(async.kind == Outcome::Kind::async);
  CHECK(async.work().state == "done");
  CHECK(async.extra == Extra::hibernate());
  auto failed = RunOutcome::failure("bad", "st", Extra::timeout(std::chrono::milliseconds(5)));
  CHECK((!failed.ok && failed.reason == "bad" && failed.state == "st"));
  auto stop = CallOutcome::stop("bye", "r", "s");
  CHECK((stop.kind == CallOutcome::Kind::stop && stop.reply == Bytes("r") && stop.reason == "bye"));
  CHECK(Outcome::error("no", Extra::continue_with("c")).extra.arg == "c");
}

TEST_CASE("module registry: finds by name, refuses duplicates and names unknown modules") {
  // Proves the registry's typed errors name the module at fault.
  ModuleRegistry registry;
  REQUIRE(registry.add(std::make_shared<test::PingModule>()).ok());
  auto again = registry.add(std::make_shared<test::PingModule>());
  REQUIRE_FALSE(again.ok());
  CHECK(is(again.error(), errc::invalid_argument));
  CHECK(again.error().detail.find("'ping'") != std::string::npos);
  CHECK_FALSE(registry.add(nullptr).ok());
  auto found = registry.find("ping");
  REQUIRE(found.ok());
  CHECK((*found)->name() == "ping");
  auto missing = registry.find("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(is(missing.error(), errc::unknown_module));
  CHECK(missing.error().message() == "unknown tenant module: module 'nope'");
  CHECK(registry.names() == std::vector<std::string>{"ping"});
}

TEST_CASE("json helpers: config and capabilities must be objects; errors name the field and offset") {
  // Proves malformed config JSON gives invalid_argument naming the field and byte offset.
  auto good = parse_config(R"({"b":1,"a":2})", R"({"keyspace":{"datastore":"main"}})");
  REQUIRE(good.ok());
  CHECK(to_bytes(good->config) == R"({"a":2,"b":1})");
  CHECK(good->capabilities["keyspace"]["datastore"] == "main");
  auto broken = parse_config(R"({"a":)", "{}");
  REQUIRE_FALSE(broken.ok());
  CHECK(is(broken.error(), errc::invalid_argument));
  CHECK(broken.error().detail.rfind("config: invalid JSON at offset 5", 0) == 0);
  auto array = parse_config("{}", "[1]");
  REQUIRE_FALSE(array.ok());
  CHECK(array.error().detail == "capabilities: must be a JSON object, not array");
  auto bytes = parse_json("nul", "request");
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.error().detail.rfind("request: invalid JSON at offset", 0) == 0);
}

}  // namespace
}  // namespace plexus::tenants
