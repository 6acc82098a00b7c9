// bench_tenants_core: the tenant manager's sans-IO cores on one thread, each
// figure against a baseline measured in the same run.
//   idle_footprint  — resident bytes per idle Lifecycle (a resumed, running
//                     tenant with a small state), for --tenants of them; the
//                     issue's budget for a whole tenant is 1 KiB.
//   call            — a call through the Lifecycle core (queue, invoke, the
//                     module's callback, outcome, reply) against calling the
//                     module's callback directly: the core's overhead ratio.
//   install         — install + run through the core, and Registry::install,
//                     per second; rounds alternate order (A B, B A) and the
//                     ratio is the median of the rounds' own ratios.
// Prints one JSON document. Numbers mean something only in a release build.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ping_module.hpp"
#include "plexus/tenants/tenants.hpp"

namespace {

using namespace plexus::tenants;
using Clock = std::chrono::steady_clock;

using bench::Ping;

long resident_kb() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

void keep(std::size_t value) {
  static volatile std::size_t sink = 0;
  sink = sink + value;
}

double ns_per(Clock::time_point start, std::size_t ops) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / static_cast<double>(ops);
}

/// Runs whatever the core asks for against `module` until it asks for nothing.
std::size_t drive(Lifecycle& core, Module& module, plexus::Time now) {
  std::size_t replies = 0;
  for (int guard = 0; guard < 16; ++guard) {
    auto out = core.take();
    replies += out.replies.size();
    if (!out.invoke) return replies;
    const auto& what = *out.invoke;
    switch (what.callback) {
      case Callback::install: core.on_outcome(module.install(core.tenant()), now); break;
      case Callback::run: core.on_run(module.run(core.tenant(), what.state), now); break;
      case Callback::call: core.on_call(module.call(what.arg, what.from, core.tenant(), what.state), now); break;
      default: return replies;
    }
  }
  return replies;
}

nlohmann::json idle_footprint(std::size_t tenants) {
  auto options = std::make_shared<const LifecycleOptions>();
  Ping module;
  std::vector<std::unique_ptr<Lifecycle>> all;
  all.reserve(tenants);
  const long before = resident_kb();
  for (std::size_t i = 0; i < tenants; ++i) {
    auto core = std::make_unique<Lifecycle>(Tenant{"tenant-" + std::to_string(i), "ping", {}, 1}, options, 1, i);
    core->resume("{\"count\":12345}", plexus::Time{0});
    drive(*core, module, plexus::Time{0});
    all.push_back(std::move(core));
  }
  const long after = resident_kb();
  return {{"tenants", tenants}, {"sizeof_lifecycle_bytes", sizeof(Lifecycle)},
          {"resident_bytes_per_idle_tenant", (after - before) * 1024 / static_cast<long>(tenants)},
          {"budget_bytes_per_tenant", 1024}};
}

nlohmann::json calls(std::size_t count, int rounds) {
  Ping module;
  Lifecycle core(Tenant{"t", "ping", {}, 1}, nullptr, 1, 1);
  core.install(0, plexus::Time::max(), plexus::Time{0});
  drive(core, module, plexus::Time{0});
  std::vector<double> through_core, direct, ratios;
  const Tenant tenant{"t", "ping", {}, 1};
  for (int round = 0; round < rounds; ++round) {
    auto run_core = [&] {
      const auto start = Clock::now();
      std::size_t replies = 0;
      for (std::size_t i = 1; i <= count; ++i) {
        core.call("ping", i, plexus::Time::max(), plexus::Time{0});
        replies += drive(core, module, plexus::Time{0});
      }
      keep(replies);
      through_core.push_back(ns_per(start, count));
    };
    auto run_direct = [&] {
      const auto start = Clock::now();
      Bytes state = "{}";
      std::size_t bytes = 0;
      for (std::size_t i = 1; i <= count; ++i) {
        auto out = module.call("ping", From{i}, tenant, std::move(state));
        state = std::move(out.state);
        bytes += out.reply->size();
      }
      keep(bytes);
      direct.push_back(ns_per(start, count));
    };
    if (round % 2 == 0) { run_core(); run_direct(); } else { run_direct(); run_core(); }
    ratios.push_back(through_core.back() / direct.back());
  }
  std::sort(through_core.begin(), through_core.end());
  std::sort(direct.begin(), direct.end());
  std::sort(ratios.begin(), ratios.end());
  return {{"calls_per_round", count}, {"rounds", rounds}, {"core_ns_per_call_median", through_core[through_core.size() / 2]},
          {"direct_ns_per_call_median", direct[direct.size() / 2]}, {"ratio_core_to_direct_median", ratios[ratios.size() / 2]}};
}

nlohmann::json installs(std::size_t count) {
  Ping module;
  auto options = std::make_shared<const LifecycleOptions>();
  auto start = Clock::now();
  std::size_t replies = 0;
  for (std::size_t i = 0; i < count; ++i) {
    Lifecycle core(Tenant{"tenant-" + std::to_string(i), "ping", {}, 1}, options, 1, i);
    core.install(1, plexus::Time::max(), plexus::Time{0});
    replies += drive(core, module, plexus::Time{0});
  }
  keep(replies);
  const double core_ns = ns_per(start, count);
  Registry registry(plexus::replica::Limits{count + 1, (std::uint64_t{1} << 53) - 1});
  start = Clock::now();
  for (std::size_t i = 0; i < count; ++i) keep(registry.install("tenant-" + std::to_string(i), "ping", {}).ok());
  const double registry_ns = ns_per(start, count);
  return {{"installs", count}, {"lifecycle_installs_per_second", 1e9 / core_ns},
          {"registry_installs_per_second", 1e9 / registry_ns}, {"target_installs_per_second", 10'000}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("bench_tenants_core: the tenant manager's sans-IO cores");
  std::size_t tenants = 100'000, call_count = 200'000, install_count = 100'000;
  int rounds = 5;
  app.add_option("--tenants", tenants, "idle tenants for the footprint")->check(CLI::Range(1, 10'000'000));
  app.add_option("--calls", call_count, "calls per round")->check(CLI::Range(1, 100'000'000));
  app.add_option("--installs", install_count, "installs")->check(CLI::Range(1, 10'000'000));
  app.add_option("--rounds", rounds, "rounds of the call comparison")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  nlohmann::json out;
  out["idle_footprint"] = idle_footprint(tenants);
  out["call"] = calls(call_count, rounds);
  out["install"] = installs(install_count);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
