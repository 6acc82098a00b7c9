// Tests of the seed's MyTenant built as a module library (my_tenant.so):
// loaded the way the node loads --module-lib, it installs, runs and answers
// ping with pong through the Lifecycle core; a library built for another
// module ABI is refused with both versions named.
#include <doctest/doctest.h>

#include "plexus/tenants/module_loader.hpp"
#include "plexus/tenants/modules/builtin.hpp"
#include "plexus/tenants/test_driver.hpp"

namespace plexus::tenants {
namespace {

TEST_CASE("my_tenant.so: loaded with the built-ins, it installs, runs and answers ping with pong") {
  // Proves a module library works end to end through the manager's life cycle core.
  const std::vector<std::string> libs{MY_TENANT_SO};
  auto registry = modules::build_module_registry(libs);
  REQUIRE_MESSAGE(registry.ok(), registry.error().message());
  CHECK((*registry)->names() == std::vector<std::string>{"counter", "kv", "my_tenant"});
  auto module = (*registry)->find("my_tenant");
  REQUIRE(module.ok());
  test::Driver driver(**module);
  driver.install(1);
  REQUIRE(driver.reply_to(1).kind == Reply::Kind::ok);
  CHECK(driver.core.status() == Status::running);
  driver.call(2, "ping");
  CHECK(driver.reply_to(2).value == "pong");
  driver.update(3, "v2", 2);
  CHECK(driver.reply_to(3).kind == Reply::Kind::ok);
  driver.call(4, "ping");
  CHECK(driver.reply_to(4).value == "pong");
  driver.uninstall(5);
  CHECK(driver.reply_to(5).kind == Reply::Kind::ok);
  CHECK(driver.core.status() == Status::uninstalled);
}

TEST_CASE("my_tenant.so: a request the seed has no clause for stops the tenant, which restarts") {
  // Proves the library's stop result reaches the core: the caller gets stopped, later pings still answer.
  auto module = load_module_library(MY_TENANT_SO);
  REQUIRE(module.ok());
  test::Driver driver(**module);
  driver.install(1);
  driver.call(2, "pang");
  CHECK(test::is_error(driver.reply_to(2), errc::stopped));
  driver.advance_to_next();  // the restart's backoff
  driver.call(3, "ping");
  CHECK(driver.reply_to(3).value == "pong");
}

TEST_CASE("my_tenant: a library built for another module ABI version is refused with a clear error") {
  // Proves the version check: the node names both versions and the file.
  const std::vector<std::string> libs{MY_TENANT_SO, WRONG_ABI_SO};
  auto registry = modules::build_module_registry(libs);
  REQUIRE_FALSE(registry.ok());
  REQUIRE(is(registry.error(), load_errc::abi_mismatch));
  CHECK(registry.error().message().find("built for module ABI version 999, this node loads version 1") !=
        std::string::npos);
  CHECK(registry.error().detail.find(WRONG_ABI_SO) != std::string::npos);
}

}  // namespace
}  // namespace plexus::tenants
