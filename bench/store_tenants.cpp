// bench_store section "tenants": how long Tenants::clear takes on the data
// set's tenant (all `keys` rows; the rows are gone afterwards), and how many
// tenants per second Tenants::create + Tenants::open manage on the durable
// LMDB environment (each create is one durable commit). Reported, no target.
#include <unistd.h>

#include "store_fixture.hpp"
#include "store_measure.hpp"
#include "store_sections.hpp"

namespace plexus::bench {

using nlohmann::json;

json run_tenants(const StoreFlags& flags, LmdbFixture& fixture) {
  if (auto filled = fixture.fill(flags.keys); !filled.ok()) return {{"error", "filling: " + filled.error().message()}};
  const std::size_t rows = fixture.filled();
  const auto clear_started = Clock::now();
  if (auto cleared = fixture.tenants().clear(fixture.tenant().id()); !cleared.ok()) {
    return {{"error", "clear: " + cleared.error().message()}};
  }
  const double clear_seconds = seconds_since(clear_started);
  fixture.forget_rows();

  const auto created_started = Clock::now();
  for (std::size_t i = 0; i < flags.tenants_created; ++i) {
    const std::string id = "t" + std::to_string(i) + "-" + std::to_string(::getpid());
    if (auto created = fixture.tenants().create(id); !created.ok()) return {{"error", "create: " + created.error().message()}};
    if (auto opened = fixture.tenants().open(id); !opened.ok()) return {{"error", "open: " + opened.error().message()}};
  }
  const double created_seconds = seconds_since(created_started);
  return {{"cleared_rows", rows},
          {"tenants_created", flags.tenants_created},
          {"figures",
           {{"tenant_clear_s", round_to(clear_seconds, 3)},
            {"tenant_clear_M_rows_per_s", round_to(per_second(rows, clear_seconds) / 1e6, 3)},
            {"tenant_create_open_per_s", round_to(per_second(flags.tenants_created, created_seconds), 1)}}}};
}

}  // namespace plexus::bench
