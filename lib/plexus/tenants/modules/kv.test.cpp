// Tests of the built-in `kv` module through the Module interface on real
// LMDB files (this executable links the LMDB conformance target): get, set,
// clear and range; writes through the fence refused for a stale owner;
// uninstall; the key-space hook; and bad requests as typed error replies.
#include <doctest/doctest.h>

#include <chrono>

#include "plexus/store/tenant_test_support.hpp"
#include "plexus/tenants/modules/kv.hpp"
#include "plexus/tenants/modules/kv_request.hpp"

namespace plexus::tenants::modules {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using store::tenant_test::Fixture;

Tenant kv_tenant(std::string id) {
  Config config;
  config.capabilities = json::parse(R"({"keyspace":{"datastore":"main"}})");
  return Tenant{std::move(id), "kv", std::move(config), 1};
}

json call(KvModule& module, const Tenant& tenant, const std::string& request) {
  auto out = module.call(request, From{1}, tenant, "{}");
  REQUIRE(out.kind == CallOutcome::Kind::reply);
  CHECK(out.state == "{}");
  return json::parse(*out.reply);
}

/// A kv module bound to tenant "t1" of the fixture's datastore (unfenced).
struct Bound {
  Fixture f;
  std::shared_ptr<KeySpaces> keyspaces = std::make_shared<KeySpaces>();
  KvModule module{keyspaces};
  Tenant tenant = kv_tenant("t1");
  std::optional<store::Tenant> space;
  Bound() {
    if (!f.database) return;
    auto opened = f.tenants.open_or_create("t1");
    PLEXUS_REQUIRE_OK(opened);
    space = *opened;
    keyspaces->bind("t1", keyspace_runner(*space));
  }
};

TEST_CASE("kv: set, get and clear a key given as a JSON tuple or a string, with text and bytes values") {
  // Proves the calls' replies (the admin API's shapes) and that the values land in the tenant's key space.
  Bound b;
  if (!b.f.database) return;
  CHECK(call(b.module, b.tenant, R"({"op":"set","key":["users",42],"value":"alice"})") ==
        json::parse(R"({"key":["users",42],"set":true})"));
  CHECK(call(b.module, b.tenant, R"({"op":"get","key":["users",42]})") ==
        json::parse(R"({"key":["users",42],"found":true,"value":"alice"})"));
  CHECK(call(b.module, b.tenant, R"({"op":"set","key":"plain","value":{"bytes":"00ff"}})")["set"] == true);
  CHECK(call(b.module, b.tenant, R"({"op":"get","key":["plain"]})")["value"] == json::parse(R"({"bytes":"00ff"})"));
  auto stored = b.space->run([](store::TenantTransaction& t) { return t.get({"users", 42}); });
  PLEXUS_REQUIRE_OK(stored);
  CHECK(*stored == std::optional<std::string>("alice"));
  CHECK(call(b.module, b.tenant, R"({"op":"clear","key":["users",42]})") ==
        json::parse(R"({"key":["users",42],"cleared":true})"));
  CHECK(call(b.module, b.tenant, R"({"op":"get","key":["users",42]})") ==
        json::parse(R"({"key":["users",42],"found":false,"value":null})"));
}

TEST_CASE("kv: range reads a prefix in tuple order, forwards and backwards, up to a limit") {
  // Proves range's prefix, limit, reverse and more, and that the manager's reserved keys never show.
  Bound b;
  if (!b.f.database) return;
  for (int i = 0; i < 5; ++i) {
    call(b.module, b.tenant, R"({"op":"set","key":["n",)" + std::to_string(i) + R"(],"value":"v)" + std::to_string(i) + "\"}");
  }
  call(b.module, b.tenant, R"({"op":"set","key":["other"],"value":"x"})");
  auto lease = acquire(*b.space, "node-a", 0, 1h);  // writes ("__plexus","lease"): must stay hidden
  PLEXUS_REQUIRE_OK(lease);
  auto page = call(b.module, b.tenant, R"({"op":"range","prefix":["n"],"limit":2})");
  CHECK(page == json::parse(R"({"rows":[{"key":["n",0],"value":"v0"},{"key":["n",1],"value":"v1"}],"more":true})"));
  auto back = call(b.module, b.tenant, R"({"op":"range","prefix":"n","limit":2,"reverse":true})");
  CHECK(back["rows"][0]["key"] == json::parse(R"(["n",4])"));
  CHECK(back["more"] == true);
  auto all = call(b.module, b.tenant, R"({"op":"range"})");
  CHECK(all["rows"].size() == 6);
  CHECK(all["more"] == false);
  for (const auto& row : all["rows"]) CHECK(row["key"][0] != "__plexus");
  auto reserved = call(b.module, b.tenant, R"({"op":"set","key":["__plexus","lease"],"value":"mine"})");
  CHECK(reserved["error"] == "reserved_key");
  b.keyspaces->unbind("t1");  // the host stopped the tenant here: its key space is gone for the module
  CHECK(call(b.module, b.tenant, R"({"op":"range"})")["error"] == "unavailable");
}

TEST_CASE("kv: with a lease, writes go through the fence and a stale owner's are refused") {
  // Proves the host-supplied runner fences the module: after the lease moves, the old owner's set fails with fenced.
  Bound b;
  if (!b.f.database) return;
  auto held = acquire(*b.space, "node-a", 0, 100ms);
  PLEXUS_REQUIRE_OK(held);
  Lease lease = *held;
  b.keyspaces->bind("t1", keyspace_runner(*b.space, [&lease] { return std::optional<Lease>(lease); }));
  CHECK(call(b.module, b.tenant, R"({"op":"set","key":["k"],"value":"a"})")["set"] == true);
  auto taken = acquire(*b.space, "node-b", 1'000, 100ms);  // a's lease expired at 100 ms
  PLEXUS_REQUIRE_OK(taken);
  auto refused = call(b.module, b.tenant, R"({"op":"set","key":["k"],"value":"stale"})");
  CHECK(refused["error"] == "fenced");
  CHECK(refused["detail"] == "lease of 'node-a' at epoch 1 is stale: stored is 'node-b' at epoch 2");
  auto value = b.space->run([](store::TenantTransaction& t) { return t.get({"k"}); });
  PLEXUS_REQUIRE_OK(value);
  CHECK(*value == std::optional<std::string>("a"));
  lease = *taken;  // the host renewed its view: the new owner writes
  CHECK(call(b.module, b.tenant, R"({"op":"set","key":["k"],"value":"b"})")["set"] == true);
}

TEST_CASE("kv: uninstall clears the tenant's keys but not the manager's lease and snapshot") {
  // Proves uninstall empties the key space of module keys only.
  Bound b;
  if (!b.f.database) return;
  call(b.module, b.tenant, R"({"op":"set","key":["a"],"value":"1"})");
  auto lease = acquire(*b.space, "node-a", 0, 1h);
  PLEXUS_REQUIRE_OK(lease);
  auto snapshot = fenced_run(*b.space, *lease, [](FencedTransaction& t) { return t.write_snapshot("{}"); });
  PLEXUS_REQUIRE_OK(snapshot);
  auto done = b.module.uninstall(b.tenant, "{}");
  REQUIRE(done.kind == Outcome::Kind::ok);
  CHECK(call(b.module, b.tenant, R"({"op":"range"})")["rows"].empty());
  auto kept = read_lease(*b.space);
  PLEXUS_REQUIRE_OK(kept);
  CHECK(kept->has_value());
  auto stored = fenced_run(*b.space, *lease, [](FencedTransaction& t) { return t.read_snapshot(); });
  PLEXUS_REQUIRE_OK(stored);
  CHECK(*stored == std::optional<std::string>("{}"));
}

TEST_CASE("kv: install needs the keyspace capability; calls without a bound key space are unavailable") {
  // Proves the capability is checked with a precise message, and an unbound tenant fails only its call.
  KvModule module(std::make_shared<KeySpaces>());
  auto missing = module.install(Tenant{"t", "kv", {}, 1});
  REQUIRE(missing.kind == Outcome::Kind::error);
  CHECK(missing.reason.rfind("capabilities.keyspace: required by module 'kv'", 0) == 0);
  Config bad;
  bad.capabilities = json::parse(R"({"keyspace":{"datastore":7}})");
  auto malformed = module.install(Tenant{"t", "kv", bad, 1});
  CHECK(malformed.reason == "capabilities.keyspace.datastore: must be a string, not number");
  const auto tenant = kv_tenant("t");
  REQUIRE(module.install(tenant).kind == Outcome::Kind::ok);
  auto unbound = call(module, tenant, R"({"op":"get","key":"a"})");
  CHECK(unbound["error"] == "unavailable");
  CHECK(unbound["detail"].get<std::string>().rfind("tenant 't' has no key space here", 0) == 0);
  KvModule detached;
  CHECK(call(detached, tenant, R"({"op":"get","key":"a"})")["error"] == "unavailable");
  ModuleHost host{std::make_shared<KeySpaces>()};
  detached.attach(host);
  CHECK(call(detached, tenant, R"({"op":"get","key":"a"})")["detail"].get<std::string>().find("has no key space here") !=
        std::string::npos);
}

TEST_CASE("kv: bad requests get a typed error reply naming the field and the tuple element") {
  // Proves the decoder's refusals are invalid_argument with precise details, and nothing is written.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "request: invalid JSON at offset 1"},
      {R"({"op":"put"})", "op: unknown operation (kv knows get, set, clear, range)"},
      {R"({"op":"get"})", "key: required (a JSON tuple such as [\"users\", 42], or a string)"},
      {R"({"op":"get","key":[]})", "key: must not be the empty tuple"},
      {R"({"op":"get","key":5})", "key: must be a JSON tuple (an array) or a string, not number"},
      {R"({"op":"get","key":[1,{"bytes":"abc"}]})", "key: [1].bytes: odd number of hex digits (3)"},
      {R"({"op":"set","key":"k"})", "value: required (a string, or {\"bytes\": \"<hex>\"})"},
      {R"({"op":"set","key":"k","value":3})", "value: must be a string, or {\"bytes\": \"<hex>\"}, not number"},
      {R"({"op":"set","key":"k","value":{"bytes":"0"}})", "value.bytes: odd number of hex digits"},
      {R"({"op":"range","limit":0})", "limit: must be an integer in [1, 10000], not 0"},
      {R"({"op":"range","reverse":"yes"})", "reverse: must be true or false, not string"},
      {R"({"op":"range","prefix":[{"uuid":1}]})", "prefix: [0].uuid: expected 8-4-4-4-12 hex digits"},
      {R"({"op":"clear","key":"k","value":"v"})", "\"value\": unknown field for op 'clear'"},
  };
  for (const auto& [request, detail] : cases) {
    CAPTURE(request);
    auto decoded = decode_kv_request(request);
    REQUIRE_FALSE(decoded.ok());
    CHECK(is(decoded.error(), errc::invalid_argument));
    CHECK(decoded.error().detail.rfind(detail, 0) == 0);
  }
  KvModule module(std::make_shared<KeySpaces>());
  auto reply = call(module, kv_tenant("t"), R"({"op":"get","key":[1,{"bytes":"abc"}]})");
  CHECK(reply == json{{"error", "invalid_argument"}, {"detail", "key: [1].bytes: odd number of hex digits (3)"}});
}

TEST_CASE("keyspace capability: parsed from the tenant's capabilities, refused naming the field") {
  // Proves the helper the host uses to open a tenant's key space reads datastore and context precisely.
  auto none = keyspace_capability(json::object());
  PLEXUS_REQUIRE_OK(none);
  CHECK_FALSE(none->has_value());
  auto both = keyspace_capability(json::parse(R"({"keyspace":{"datastore":"main","context":"app"}})"));
  PLEXUS_REQUIRE_OK(both);
  CHECK(**both == KeySpaceCapability{"main", "app"});
  auto array = keyspace_capability(json::parse(R"({"keyspace":[]})"));
  REQUIRE_FALSE(array.ok());
  CHECK(array.error().detail == "capabilities.keyspace: must be an object {\"datastore\", \"context\"?}, not array");
  auto empty = keyspace_capability(json::parse(R"({"keyspace":{"datastore":""}})"));
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().detail == "capabilities.keyspace.datastore: must not be empty");
}

}  // namespace
}  // namespace plexus::tenants::modules
