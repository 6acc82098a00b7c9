// bench_tenant: the local tenant host (LocalTenants) end to end on a real
// worker pool over LMDB, each figure beside a baseline of the same run.
//   call     — a call round trip through the host (caller thread -> tenant's
//              strand -> module -> reply -> caller) against a bare Asio strand
//              post-and-reply round trip on the same pool; p50/p99, rounds in
//              alternating order, ratio = median of the rounds' p50 ratios.
//   install  — tenants installed per second on one node: key space, lease,
//              install + run, the install snapshot written under the fence.
//   idle     — resident bytes per idle tenant for --idle of them (RSS and
//              anonymous RSS deltas, after malloc_trim), the budget 1 KiB.
// Prints one JSON document. Numbers mean something only in a release build.
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ping_module.hpp"
#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "plexus/tenants/local.hpp"

namespace {

using namespace plexus::tenants;
using SteadyClock = std::chrono::steady_clock;

using bench::Ping;

struct BenchConfig {
  std::size_t threads = 2, calls = 20'000, installs = 20'000, idle = 100'000;
  int rounds = 5;
  bool durable = false;
};

/// One node: a temporary LMDB environment, a pool and a LocalTenants on it.
struct NodeUnderTest {
  std::string dir;
  ModuleRegistry modules;
  asio::thread_pool pool;
  std::unique_ptr<LocalTenants> host;

  explicit NodeUnderTest(const BenchConfig& config) : pool(config.threads) {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/plexus-bench-tenant-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    plexus::store::LmdbOptions lmdb;
    lmdb.path = dir;
    lmdb.durable = config.durable;
    lmdb.map_size_bytes = std::size_t{4} << 30;
    auto backend = plexus::store::open_lmdb(lmdb);
    if (!backend) throw std::runtime_error(backend.error().message());
    auto database = std::make_shared<plexus::store::Database>("bench", std::move(backend).value());
    if (!modules.add(std::make_shared<Ping>()).ok()) throw std::runtime_error("module");
    LocalOptions options;
    options.node = "bench";
    options.lease_ttl = std::chrono::milliseconds(600'000);  // no renewal sweep inside a measurement
    options.lease_renew_interval = std::chrono::milliseconds(300'000);
    auto made = LocalTenants::create(pool.get_executor(), database, modules, options);
    if (!made) throw std::runtime_error(made.error().message());
    host = std::move(made).value();
    // As the cluster side's outbox does once an event is stored: acknowledge it,
    // so the tenant's outbox empties and it stops re-emitting.
    host->subscribe([this](const LocalEvent& e) {
      if (e.kind == LocalEvent::Kind::lifecycle) host->ack_event(e.tenant, e.event.seq);
    });
  }
  ~NodeUnderTest() {
    host->subscribe(nullptr);
    host.reset();
    pool.join();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  /// Waits until every tenant prefix-i is running with an empty outbox: a
  /// call to each answers (its strand has drained what was queued before it).
  void quiesce(const std::string& prefix, std::size_t count) {
    std::atomic<std::size_t> answered{0};
    const auto deadline = plexus::RealClock::instance().now() + std::chrono::seconds(600);
    for (std::size_t i = 0; i < count; ++i) {
      host->call(prefix + std::to_string(i), "ping", deadline, [&](plexus::Result<Bytes>) { answered.fetch_add(1); });
    }
    const auto start = SteadyClock::now();
    while (answered.load() < count) {
      if (SteadyClock::now() - start > std::chrono::seconds(600)) throw std::runtime_error("quiesce timed out");
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // the main thread only watches a counter
    }
  }

  /// Installs `count` tenants named prefix-i at once; returns the seconds until all answered.
  double install(const std::string& prefix, std::size_t count) {
    std::atomic<std::size_t> answered{0}, failed{0};
    const auto start = SteadyClock::now();
    const auto deadline = plexus::RealClock::instance().now() + std::chrono::seconds(600);
    for (std::size_t i = 0; i < count; ++i) {
      host->start(Tenant{prefix + std::to_string(i), "ping", {}, 1}, StartMode::install, deadline,
                  [&](plexus::Result<Reply::Kind> r) {
                    if (!r.ok() || *r != Reply::Kind::ok) failed.fetch_add(1);
                    answered.fetch_add(1, std::memory_order_release);
                  });
    }
    for (int spin = 0; answered.load(std::memory_order_acquire) < count; ++spin) {
      if (SteadyClock::now() - start > std::chrono::seconds(600)) throw std::runtime_error("installs did not finish");
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // the main thread only watches a counter
    }
    if (failed.load() != 0) throw std::runtime_error(std::to_string(failed.load()) + " installs failed");
    return std::chrono::duration<double>(SteadyClock::now() - start).count();
  }
};

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

/// Spins (yielding) until `flag`; the same wait for both sides of the comparison.
void wait_flag(const std::atomic<bool>& flag) {
  while (!flag.load(std::memory_order_acquire)) std::this_thread::yield();
}

nlohmann::json calls(const BenchConfig& config) {
  NodeUnderTest node(config);
  node.install("call-", 1);
  auto strand = asio::make_strand(node.pool.get_executor());
  std::vector<double> host_p50, host_p99, strand_p50, strand_p99, ratios;
  std::vector<double> samples(config.calls);
  std::atomic<bool> done{false};
  auto run_host = [&] {
    bool ok = true;
    for (auto& sample : samples) {
      done.store(false, std::memory_order_relaxed);
      const auto start = SteadyClock::now();
      node.host->call("call-0", "ping", plexus::RealClock::instance().now() + std::chrono::seconds(5),
                      [&](plexus::Result<Bytes> r) {
                        ok = ok && r.ok() && *r == "pong";
                        done.store(true, std::memory_order_release);
                      });
      wait_flag(done);
      sample = std::chrono::duration<double, std::nano>(SteadyClock::now() - start).count();
    }
    if (!ok) throw std::runtime_error("a call failed");
    host_p50.push_back(percentile(samples, 0.5));
    host_p99.push_back(percentile(samples, 0.99));
  };
  auto run_strand = [&] {
    for (auto& sample : samples) {
      done.store(false, std::memory_order_relaxed);
      const auto start = SteadyClock::now();
      asio::post(strand, [&] { done.store(true, std::memory_order_release); });
      wait_flag(done);
      sample = std::chrono::duration<double, std::nano>(SteadyClock::now() - start).count();
    }
    strand_p50.push_back(percentile(samples, 0.5));
    strand_p99.push_back(percentile(samples, 0.99));
  };
  for (int round = 0; round < config.rounds; ++round) {
    if (round % 2 == 0) {
      run_host();
      run_strand();
    } else {
      run_strand();
      run_host();
    }
    ratios.push_back(host_p50.back() / strand_p50.back());
  }
  auto med = [](std::vector<double> v) { return percentile(std::move(v), 0.5); };
  return {{"calls_per_round", config.calls}, {"rounds", config.rounds},
          {"host_call_p50_ns", med(host_p50)}, {"host_call_p99_ns", med(host_p99)},
          {"strand_round_trip_p50_ns", med(strand_p50)}, {"strand_round_trip_p99_ns", med(strand_p99)},
          {"ratio_p50_host_to_strand_median", med(ratios)}, {"target_ratio", 2.0}};
}

nlohmann::json installs(const BenchConfig& config) {
  NodeUnderTest node(config);
  const double seconds = node.install("install-", config.installs);
  auto counters = node.host->counters();
  return {{"installs", config.installs}, {"seconds", seconds},
          {"installs_per_second", static_cast<double>(config.installs) / seconds},
          {"store_batches", counters.store_batches}, {"snapshots_written", counters.snapshots_written},
          {"durable", config.durable}, {"target_installs_per_second", 10'000}};
}

/// (total RSS, anonymous RSS) in bytes, from /proc/self/status.
std::pair<long, long> resident() {
  std::ifstream status("/proc/self/status");
  std::string line;
  long rss = 0, anon = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stol(line.substr(6)) * 1024;
    if (line.rfind("RssAnon:", 0) == 0) anon = std::stol(line.substr(8)) * 1024;
  }
  return {rss, anon};
}

nlohmann::json idle(const BenchConfig& config) {
  NodeUnderTest node(config);
  node.install("warm-", 100);  // pool threads, LMDB reader slots and caches exist before the baseline
  ::malloc_trim(0);
  const auto before = resident();
  const auto heap_before = ::mallinfo2().uordblks;
  node.install("idle-", config.idle);
  node.quiesce("idle-", config.idle);
  ::malloc_trim(0);
  const auto after = resident();
  const auto heap_after = ::mallinfo2().uordblks;
  const auto n = static_cast<long>(config.idle);
  return {{"tenants", config.idle}, {"resident_bytes_per_idle_tenant", (after.first - before.first) / n},
          {"anonymous_resident_bytes_per_idle_tenant", (after.second - before.second) / n},
          {"heap_bytes_in_use_per_idle_tenant", static_cast<long>(heap_after - heap_before) / n},
          {"budget_bytes_per_tenant", 1024}, {"size_on_node", node.host->size()}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("bench_tenant: the local tenant host end to end");
  BenchConfig config;
  app.add_option("--threads", config.threads, "pool threads")->check(CLI::Range(1, 64));
  app.add_option("--calls", config.calls, "calls per round")->check(CLI::Range(10, 10'000'000));
  app.add_option("--rounds", config.rounds, "rounds of the call comparison")->check(CLI::Range(1, 100));
  app.add_option("--installs", config.installs, "installs to time")->check(CLI::Range(1, 10'000'000));
  app.add_option("--idle", config.idle, "idle tenants for the footprint")->check(CLI::Range(1, 10'000'000));
  app.add_flag("--durable", config.durable, "fsync every LMDB commit (default: off, as a node with durable=false)");
  CLI11_PARSE(app, argc, argv);
  try {
    nlohmann::json out;
    out["call"] = calls(config);
    out["install"] = installs(config);
    out["idle"] = idle(config);
    std::printf("%s\n", out.dump(2).c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_tenant: %s\n", error.what());
    return 1;
  }
  return 0;
}
