// Tests of the registry's persistence on a real datastore (LMDB files here,
// PostgreSQL in suite 'postgres'): a node's replica, tombstones and version
// floor survive a restart (a new Database handle), installs after it get
// higher generations, nodes sharing a datastore keep separate copies, and a
// malformed stored value is refused naming the tenant.
#include <doctest/doctest.h>

#include "plexus/store/tenant_test_support.hpp"
#include "plexus/store/tuple.hpp"
#include "plexus/tenants/registry_store.hpp"

namespace plexus::tenants {
namespace {

using store::tenant_test::Fixture;
using store::tenant_test::Store;

Config tagged(std::string tag) {
  Config config;
  config.config["tag"] = std::move(tag);
  return config;
}

TEST_CASE("registry store: a node's registry, tombstones and floor survive a restart") {
  // Proves save + load restore the exact map state, so generations keep growing after a restart.
  Fixture f;
  if (!f.database) return;
  Registry before;
  REQUIRE(before.install("t1", "kv", tagged("a")).ok());
  REQUIRE(before.install("t2", "counter", {}).ok());
  REQUIRE(before.update("t1", tagged("b")).ok());
  REQUIRE(before.uninstall("t2").ok());
  REQUIRE(before.forget("t2").ok());
  before.map().raise_version_floor(9);
  RegistryStore saving(f.database, "node-a");
  PLEXUS_REQUIRE_OK(saving.save(before.map().entries()));
  PLEXUS_REQUIRE_OK(saving.save_floor(before.map().version_floor()));

  RegistryStore loading(Store::open(), "node-a");  // a restarted node: a new handle on the same files
  Registry after;
  auto loaded = loading.load(after.map());
  PLEXUS_REQUIRE_OK(loaded);
  CHECK(*loaded == 2);
  CHECK(after.map().entries() == before.map().entries());
  CHECK(after.map().version_floor() == 9);
  CHECK(after.find("t1")->record.config.config["tag"] == "b");
  CHECK_FALSE(after.find("t2"));
  auto again = after.install("t2", "kv", {});
  REQUIRE(again.ok());
  CHECK(again->generation == 4);  // above the restored tombstone (version 3)
}

TEST_CASE("registry store: nodes sharing a datastore keep their own copies; drop removes collected tombstones") {
  // Proves the per-node layout and drop().
  Fixture f;
  if (!f.database) return;
  Registry a, b;
  REQUIRE(a.install("t1", "kv", {}).ok());
  REQUIRE(b.install("t9", "kv", {}).ok());
  RegistryStore store_a(f.database, "a"), store_b(f.database, "b");
  PLEXUS_REQUIRE_OK(store_a.save(a.map().entries()));
  PLEXUS_REQUIRE_OK(store_b.save(b.map().entries()));
  RegistryMap loaded_a;
  CHECK(*store_a.load(loaded_a) == 1);
  CHECK(loaded_a.find("t1") != nullptr);
  CHECK(loaded_a.find("t9") == nullptr);
  const std::vector<std::string> drop{"t1"};
  PLEXUS_REQUIRE_OK(store_a.drop(drop));
  RegistryMap empty;
  CHECK(*store_a.load(empty) == 0);
  RegistryMap loaded_b;
  CHECK(*store_b.load(loaded_b) == 1);
}

TEST_CASE("registry store: saves of more than one batch, and a malformed value refused by tenant") {
  // Proves save() splits large saves, and load() names the bad entry and merges nothing.
  Fixture f;
  if (!f.database) return;
  Registry many;
  for (int i = 0; i < 1'200; ++i) REQUIRE(many.install("t" + std::to_string(i), "kv", {}).ok());
  RegistryStore node(f.database, "n");
  PLEXUS_REQUIRE_OK(node.save(many.map().entries()));
  RegistryMap loaded;
  CHECK(*node.load(loaded) == 1'200);
  auto key = store::pack({"plexus_tenants", "registry", "n", store::Bytes{"t7"}});
  REQUIRE(key.ok());
  PLEXUS_REQUIRE_OK(f.database->run([&](store::Transaction& t) { return t.set("\xff" + *key, "junk"); }));
  RegistryMap refused;
  auto bad = node.load(refused);
  REQUIRE_FALSE(bad.ok());
  CHECK(is(bad.error(), errc::invalid_argument));
  CHECK(bad.error().detail == "registry entry 't7': not (version, removed, record)");
  CHECK(refused.size() == 0);
}

}  // namespace
}  // namespace plexus::tenants
