// Tests of the tenant registry: the seed's command errors on one replica,
// the canonical record codec, and seeded property tests of its merge laws
// over random histories of 3-6 replicas (as replica's map_property tests):
// merge is idempotent, commutative and associative; digest exchanges
// converge to the greatest record ever written per tenant; generations
// never go back on any replica. A failure prints the command replaying it.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "plexus/core/test_seed.hpp"
#include "plexus/tenants/registry.hpp"

namespace plexus::tenants {
namespace {

Config tagged(std::string tag) {
  Config config;
  config.config["tag"] = std::move(tag);
  return config;
}

TEST_CASE("registry: install, update, uninstall and forget with the seed's errors") {
  // Proves already_exists (also while uninstalling), tenant_not_found, and growing generations.
  Registry registry;
  auto installed = registry.install("t1", "kv", tagged("a"));
  REQUIRE(installed.ok());
  CHECK(installed->generation == 1);
  auto again = registry.install("t1", "kv", {});
  REQUIRE_FALSE(again.ok());
  CHECK(is(again.error(), errc::already_exists));
  CHECK(again.error().detail == "tenant 't1' (generation 1, desired running)");
  auto updated = registry.update("t1", tagged("b"));
  REQUIRE(updated.ok());
  CHECK(updated->generation == 2);
  CHECK(registry.find("t1")->record.config.config["tag"] == "b");
  CHECK(is(registry.update("t2", {}).error(), errc::tenant_not_found));
  REQUIRE(registry.uninstall("t1").ok());
  CHECK(is(registry.install("t1", "kv", {}).error(), errc::already_exists));
  CHECK(is(registry.update("t1", {}).error(), errc::tenant_not_found));
  CHECK(is(registry.uninstall("t1").error(), errc::tenant_not_found));
  REQUIRE(registry.forget("t1").ok());
  CHECK_FALSE(registry.find("t1"));
  auto reinstalled = registry.install("t1", "counter", {});
  REQUIRE(reinstalled.ok());
  CHECK(reinstalled->generation == 5);  // above the tombstone: beats every older copy
  CHECK(is(registry.install("", "kv", {}).error(), errc::invalid_argument));
  CHECK(registry.install(std::string(129, 'x'), "kv", {}).error().detail == "tenant_id: must be 1..128 bytes, not 129");
}

TEST_CASE("registry: records encode canonically and malformed records are refused by field") {
  // Proves equal records give equal bytes, and decode names what is wrong.
  Record record{"kv", tagged("a"), Desired::uninstalled};
  record.config.capabilities["keyspace"] = {{"datastore", "main"}};
  const auto bytes = RecordCodec::encode(record);
  CHECK(bytes == R"({"capabilities":{"keyspace":{"datastore":"main"}},"config":{"tag":"a"},"desired":"uninstalled","module":"kv"})");
  CHECK(RecordCodec::decode(bytes) == record);
  CHECK(decode_record(R"({"module":"kv","config":{},"capabilities":{}})").error().detail == "record: field 'desired' missing");
  CHECK(decode_record(R"({"module":1,"config":{},"capabilities":{},"desired":"running"})").error().detail ==
        "record: field 'module': must be a string");
  CHECK(decode_record(R"({"module":"m","config":[],"capabilities":{},"desired":"running"})").error().detail ==
        "record: field 'config': must be an object");
  CHECK(decode_record(R"({"module":"m","config":{},"capabilities":{},"desired":"gone"})").error().detail ==
        "record: field 'desired': must be running or uninstalled");
  CHECK_FALSE(RecordCodec::decode("{"));
}

// ---- properties ----

constexpr std::uint64_t histories = 300;

std::uint32_t below(std::mt19937_64& rng, std::uint32_t bound) { return static_cast<std::uint32_t>(rng() % bound); }

std::string replay(std::uint64_t seed, const char* name) {
  return test_seed::replay(seed, "lib/plexus/tenants/tenants_test", name);
}

/// Replicas writing at random, each remembering the greatest entry it held per id.
struct History {
  std::mt19937_64 rng;
  std::vector<Registry> replicas;
  std::vector<RegistryEntry> written;  ///< every entry any write produced
  std::vector<std::map<std::string, std::uint64_t>> high_water;

  explicit History(std::uint64_t seed) : rng(seed) {
    replicas.resize(3 + below(rng, 4));
    high_water.resize(replicas.size());
  }

  void record_write(Registry& replica, const std::string& id) {
    if (const auto* entry = replica.map().find(id)) written.push_back(*entry);
  }

  void step() {
    const std::size_t i = below(rng, static_cast<std::uint32_t>(replicas.size()));
    Registry& self = replicas[i];
    const std::string id = "t" + std::to_string(below(rng, 4));
    switch (below(rng, 8)) {
      case 0: if (self.install(id, below(rng, 2) ? "kv" : "counter", tagged(std::to_string(below(rng, 3)))).ok()) record_write(self, id); break;
      case 1: if (self.update(id, tagged(std::to_string(below(rng, 3)))).ok()) record_write(self, id); break;
      case 2: if (self.uninstall(id).ok()) record_write(self, id); break;
      case 3: if (self.forget(id).ok()) record_write(self, id); break;
      default: {
        const Registry& other = replicas[below(rng, static_cast<std::uint32_t>(replicas.size()))];
        std::vector<RegistryEntry> some;
        for (const auto& entry : other.map().entries()) {
          if (below(rng, 2) == 0) some.push_back(entry);
        }
        REQUIRE(self.map().merge(some).ok());
      }
    }
    check_monotone(i);
  }

  void check_monotone(std::size_t i) {
    for (const auto& entry : replicas[i].map().entries()) {
      auto& seen = high_water[i][entry.key];
      CHECK_MESSAGE(entry.version >= seen, "replica ", i, " tenant ", entry.key, " went back to generation ", entry.version);
      seen = std::max(seen, entry.version);
    }
  }
};

std::vector<RegistryEntry> join(const std::vector<std::vector<RegistryEntry>>& states) {
  RegistryMap into;
  for (const auto& state : states) REQUIRE(into.merge(state).ok());
  return into.entries();
}

TEST_CASE("registry property: merge is idempotent, commutative and associative on tenant records") {
  // Proves the join laws on registry states reached by random installs, updates, uninstalls, forgets and merges.
  const char* name = "registry property: merge is idempotent, commutative and associative on tenant records";
  for (const auto seed : test_seed::seeds(histories)) {
    INFO("replay: ", replay(seed, name));
    History h(seed);
    const std::uint32_t steps = 20 + below(h.rng, 60);
    for (std::uint32_t s = 0; s < steps; ++s) h.step();
    const auto a = h.replicas[0].map().entries();
    const auto b = h.replicas[1].map().entries();
    const auto c = h.replicas[2].map().entries();
    CHECK(join({a, a}) == join({a}));
    CHECK(join({a, b}) == join({b, a}));
    CHECK(join({join({a, b}), c}) == join({a, join({b, c})}));
    CHECK(join({join({a, b}), b}) == join({a, b}));
  }
}

TEST_CASE("registry property: digest exchanges converge to the greatest record ever written per tenant") {
  // Proves every replica ends with, per tenant, the maximum (generation, live, encoding) of all writes anywhere.
  const char* name = "registry property: digest exchanges converge to the greatest record ever written per tenant";
  std::size_t with_tombstone = 0, with_uninstalled = 0;
  for (const auto seed : test_seed::seeds(histories)) {
    INFO("replay: ", replay(seed, name));
    History h(seed);
    const std::uint32_t steps = 20 + below(h.rng, 60);
    for (std::uint32_t s = 0; s < steps; ++s) h.step();
    std::map<std::string, RegistryEntry> oracle;
    for (const auto& entry : h.written) {
      auto [it, fresh] = oracle.try_emplace(entry.key, entry);
      if (!fresh && RegistryMap::compare(entry, it->second) > 0) it->second = entry;
    }
    for (auto& a : h.replicas) {
      for (auto& b : h.replicas) {
        if (&a == &b) continue;
        const auto diff = b.map().diff(a.map().digest());
        REQUIRE(diff.ok());
        REQUIRE(a.map().merge(diff->push).ok());
        REQUIRE(b.map().merge(a.map().entries_for(diff->pull)).ok());
      }
    }
    for (std::size_t i = 0; i < h.replicas.size(); ++i) {
      h.check_monotone(i);
      std::vector<RegistryEntry> expected;
      for (const auto& [id, entry] : oracle) expected.push_back(entry);
      CHECK(h.replicas[i].map().entries() == expected);
      CHECK(h.replicas[i].list().size() == h.replicas[0].list().size());
    }
    for (const auto& [id, entry] : oracle) {
      with_tombstone += entry.removed ? 1 : 0;
      with_uninstalled += !entry.removed && entry.value.desired == Desired::uninstalled ? 1 : 0;
    }
  }
  // The histories must really reach forgets and pending uninstalls, not only installs.
  if (!test_seed::from_env()) {
    CHECK(with_tombstone >= histories / 10);
    CHECK(with_uninstalled >= histories / 10);
  }
}

}  // namespace
}  // namespace plexus::tenants
