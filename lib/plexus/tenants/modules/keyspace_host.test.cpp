// The local tenant host binds the key space of a tenant installed with the
// `keyspace` capability for the built-in kv module (the node's wiring): keys
// written through calls survive a stop and a resume on a second host over
// the same LMDB files, and a capability naming a datastore the host does not
// run on, or a context, is refused at install with the field named.
#include <doctest/doctest.h>

#include <asio/thread_pool.hpp>

#include <future>
#include <span>

#include <nlohmann/json.hpp>

#include "plexus/store/tenant_test_support.hpp"
#include "plexus/tenants/local.hpp"
#include "plexus/tenants/modules/builtin.hpp"

namespace plexus::tenants {
namespace {

using namespace std::chrono_literals;
using store::tenant_test::Fixture;

/// A LocalTenants with the built-in modules, offered its key spaces as plexusd does.
struct KvHost {
  asio::thread_pool pool{2};
  std::shared_ptr<KeySpaces> keyspaces = std::make_shared<KeySpaces>();
  std::shared_ptr<ModuleRegistry> modules;
  std::unique_ptr<LocalTenants> host;

  KvHost(std::shared_ptr<store::Database> database, std::string node) {
    auto built = modules::build_module_registry(std::span<const std::string>{}, ModuleHost{keyspaces});
    REQUIRE(built.ok());
    modules = *built;
    LocalOptions options;
    options.node = std::move(node);
    options.keyspaces = keyspaces;
    options.datastore = "main";
    auto made = LocalTenants::create(pool.get_executor(), std::move(database), *modules, options);
    REQUIRE(made.ok());
    host = std::move(made).value();
  }
  ~KvHost() {
    host.reset();
    pool.join();
  }
  static Time in(std::chrono::milliseconds after) { return RealClock::instance().now() + after; }

  Result<Reply::Kind> start(const std::string& id, StartMode mode, nlohmann::json capabilities) {
    std::promise<Result<Reply::Kind>> answer;
    auto future = answer.get_future();
    Config config;
    config.capabilities = std::move(capabilities);
    host->start(Tenant{id, "kv", config, 1}, mode, in(5s), [&](Result<Reply::Kind> r) { answer.set_value(std::move(r)); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }
  nlohmann::json call(const std::string& id, const nlohmann::json& request) {
    std::promise<Result<Bytes>> answer;
    auto future = answer.get_future();
    host->call(id, request.dump(), in(5s), [&](Result<Bytes> r) { answer.set_value(std::move(r)); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    auto reply = future.get();
    REQUIRE_MESSAGE(reply.ok(), (reply.ok() ? "" : reply.error().message()));
    return nlohmann::json::parse(*reply);
  }
  Result<Reply::Kind> stop(const std::string& id) {
    std::promise<Result<Reply::Kind>> answer;
    auto future = answer.get_future();
    host->stop(id, "handoff", in(5s), [&](Result<Reply::Kind> r) { answer.set_value(std::move(r)); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }
};

const nlohmann::json main_keyspace = {{"keyspace", {{"datastore", "main"}}}};

TEST_CASE("keyspace host: kv data written through calls survives a handoff to another host") {
  Fixture f;
  if (!f.database) return;
  {
    KvHost a(f.database, "node-a");
    REQUIRE(a.start("shop", StartMode::install, main_keyspace).value() == Reply::Kind::ok);
    CHECK(a.call("shop", {{"op", "set"}, {"key", "apples"}, {"value", "3"}})["set"] == true);
    CHECK(a.call("shop", {{"op", "get"}, {"key", "apples"}})["value"] == "3");
    REQUIRE(a.stop("shop").ok());
    CHECK_FALSE(a.keyspaces->bound("shop"));  // unbound when the tenant ended here
  }
  KvHost b(f.database, "node-b");
  REQUIRE(b.start("shop", StartMode::resume, main_keyspace).ok());
  const auto got = b.call("shop", {{"op", "get"}, {"key", "apples"}});
  CHECK(got["found"] == true);
  CHECK(got["value"] == "3");
}

TEST_CASE("keyspace host: a capability naming another datastore or a context is refused at install") {
  Fixture f;
  if (!f.database) return;
  KvHost a(f.database, "node-a");
  auto other = a.start("t1", StartMode::install, {{"keyspace", {{"datastore", "elsewhere"}}}});
  REQUIRE_FALSE(other.ok());
  CHECK(is(other.error(), errc::invalid_argument));
  CHECK(other.error().message().find("capabilities.keyspace.datastore") != std::string::npos);
  auto context = a.start("t2", StartMode::install, {{"keyspace", {{"datastore", "main"}, {"context", "api"}}}});
  REQUIRE_FALSE(context.ok());
  CHECK(context.error().message().find("capabilities.keyspace.context") != std::string::npos);
  CHECK_FALSE(a.keyspaces->bound("t1"));
  CHECK_FALSE(a.keyspaces->bound("t2"));
}

}  // namespace
}  // namespace plexus::tenants
