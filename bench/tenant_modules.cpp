// bench_tenant_modules: the built-in modules' own cost, each against a
// baseline measured in the same run, in rounds of alternating order (A B,
// B A); each figure is the median over rounds, each ratio the median of the
// rounds' own ratios.
//   counter — CounterModule::call {"op":"incr"} (decode the request, decode
//             and encode the state, snapshot flag) against the seed's
//             ping -> pong module's call: the JSON work per counter call.
//   kv_get, kv_set — KvModule::call get / set of one key on LMDB (request
//             decode, KeySpaces lookup, one fenced transaction, JSON reply)
//             against the same read / write done with store::Tenant::run and
//             no lease: the module's and the fence's overhead. LMDB runs with
//             durable = false (no fsync), so CPU is measured, not the disk.
// Times are this process's CPU time (CLOCK_PROCESS_CPUTIME_ID: every thread,
// LMDB's writer too), not wall time, so other load on the machine does not
// count. Prints one JSON document. Numbers mean something only in a release build.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ping_module.hpp"
#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "plexus/tenants/modules/counter.hpp"
#include "plexus/tenants/modules/kv.hpp"

namespace {

using namespace plexus;
using namespace plexus::tenants;

using bench::Ping;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double cpu_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

double ns_per_op(std::size_t ops, const std::function<void()>& op) {
  const double start = cpu_ns();
  for (std::size_t i = 0; i < ops; ++i) op();
  return (cpu_ns() - start) / static_cast<double>(ops);
}

/// Rounds of `subject` against `baseline`, alternating which runs first.
nlohmann::json compare(std::size_t ops, int rounds, const std::function<void()>& subject,
                       const std::function<void()>& baseline) {
  std::vector<double> a, b, ratios;
  for (int round = 0; round < rounds; ++round) {
    double x = 0, y = 0;
    if (round % 2 == 0) {
      x = ns_per_op(ops, subject);
      y = ns_per_op(ops, baseline);
    } else {
      y = ns_per_op(ops, baseline);
      x = ns_per_op(ops, subject);
    }
    a.push_back(x);
    b.push_back(y);
    ratios.push_back(x / y);
  }
  return {{"ops_per_round", ops}, {"rounds", rounds}, {"cpu_ns_per_op_median", median(a)},
          {"baseline_cpu_ns_per_op_median", median(b)}, {"ratio_median", median(ratios)}};
}

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "bench_tenant_modules: %s\n", what);
    std::exit(1);
  }
}

nlohmann::json counter(std::size_t ops, int rounds) {
  modules::CounterModule module;
  Ping ping;
  const Tenant tenant{"t", "counter", {}, 1};
  Bytes state = R"({"default":0,"hits":12345})";
  Bytes ping_state = "{}";
  return compare(
      ops, rounds,
      [&] {
        auto out = module.call(R"({"op":"incr","name":"hits"})", From{1}, tenant, std::move(state));
        state = std::move(out.state);
      },
      [&] {
        auto out = ping.call("ping", From{1}, tenant, std::move(ping_state));
        ping_state = std::move(out.state);
      });
}

nlohmann::json kv(std::size_t ops, int rounds) {
  const auto dir = std::filesystem::temp_directory_path() / ("plexus-bench-kv-" + std::to_string(::getpid()));
  store::LmdbOptions options;
  options.path = dir.string();
  options.durable = false;
  auto backend = store::open_lmdb(options);
  expect(backend.ok(), "open_lmdb failed");
  auto database = std::make_shared<store::Database>("bench", std::move(*backend));
  store::Tenants directory(database);
  auto space = directory.open_or_create("t");
  expect(space.ok(), "open_or_create failed");
  auto lease = acquire(*space, "node-a", 0, std::chrono::hours(1));
  expect(lease.ok(), "acquire failed");
  auto keyspaces = std::make_shared<KeySpaces>();
  keyspaces->bind("t", keyspace_runner(*space, [held = *lease] { return std::optional<Lease>(held); }));
  modules::KvModule module(keyspaces);
  Config config;
  config.capabilities = nlohmann::json::parse(R"({"keyspace":{"datastore":"main"}})");
  const Tenant tenant{"t", "kv", config, 1};
  auto kv_call = [&](const char* request) {
    auto out = module.call(request, From{1}, tenant, "{}");
    expect(out.reply && out.reply->find("error") == std::string::npos, "kv call failed");
  };
  kv_call(R"({"op":"set","key":["users",42],"value":"alice@example.com"})");
  auto direct_get = [&] {
    auto got = space->run([](store::TenantTransaction& t) { return t.get({"users", 42}); });
    expect(got.ok() && got->has_value(), "direct get failed");
  };
  auto direct_set = [&] {
    auto set = space->run([](store::TenantTransaction& t) { return t.set({"users", 42}, "alice@example.com"); });
    expect(set.ok(), "direct set failed");
  };
  nlohmann::json out{
      {"kv_get", compare(ops, rounds, [&] { kv_call(R"({"op":"get","key":["users",42]})"); }, direct_get)},
      {"kv_set", compare(ops, rounds, [&] { kv_call(R"({"op":"set","key":["users",42],"value":"alice@example.com"})"); },
                         direct_set)}};
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("bench_tenant_modules: the built-in tenant modules against baselines in the same run");
  std::size_t counter_calls = 200'000;
  std::size_t kv_calls = 20'000;
  int rounds = 5;
  app.add_option("--counter-calls", counter_calls, "counter calls per round")->check(CLI::Range(1, 100'000'000));
  app.add_option("--kv-calls", kv_calls, "kv calls per round")->check(CLI::Range(1, 10'000'000));
  app.add_option("--rounds", rounds, "rounds")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  nlohmann::json out{{"counter", counter(counter_calls, rounds)}};
  out.update(kv(kv_calls, rounds));
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
