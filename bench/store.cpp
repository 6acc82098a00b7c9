// bench_store: Plexus's datastore layer next to raw baselines measured in the
// same run — the tuple layer, LMDB point reads, range scans and durable
// group-committed writes through tenants vs raw LMDB C calls, PostgreSQL
// reads and writes through a tenant vs raw libpq, and the cost of clearing
// and creating tenants. Prints one JSON document on stdout (logs go to
// stderr) with every figure, its target and whether it was met; exits
// non-zero when a section failed to run (not when a target is missed).
// docs/store.md, "Benchmarks", says what each figure means.
//
//   bench_store [--only tuple,reads,scans,writes,postgres,tenants] [--quick] [--rounds 5]
//               [--keys 1000000] [--dir DIR] [sizes: see --help]
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>
#include <thread>

#include "store_fixture.hpp"
#include "store_measure.hpp"
#include "store_sections.hpp"

namespace {

using nlohmann::json;
using namespace plexus::bench;

struct Figure {
  const char* name;
  double target;  // NaN: reported, no target
  bool at_most;
};

constexpr double none = std::numeric_limits<double>::quiet_NaN();

const Figure figures[] = {
    {"tuple_pack_unpack_M_per_s", 10, false},
    {"lmdb_get_tuple_many_per_txn_vs_raw", 0.9, false},
    {"lmdb_get_raw_many_per_txn_vs_raw", 0.9, false},
    {"lmdb_get_tuple_many_per_txn_M_reads_per_s", 1, false},
    {"lmdb_get_raw_many_per_txn_M_reads_per_s", 1, false},
    {"lmdb_raw_many_per_txn_M_reads_per_s", none, false},
    {"lmdb_get_tuple_1_per_txn_vs_raw", 0.9, false},
    {"lmdb_get_raw_1_per_txn_vs_raw", 0.9, false},
    {"lmdb_get_tuple_1_per_txn_M_reads_per_s", none, false},
    {"lmdb_raw_1_per_txn_M_reads_per_s", none, false},
    {"lmdb_get_tuple_1_per_txn_vs_raw_renew", none, false},
    {"lmdb_raw_renew_1_per_txn_M_reads_per_s", none, false},
    {"lmdb_scan_raw_batches_vs_cursor", 0.9, false},
    {"lmdb_scan_tuple_prefix_vs_cursor", 0.9, false},
    {"lmdb_scan_tuple_unpacked_vs_cursor_unpacked", 0.9, false},
    {"lmdb_scan_raw_batches_M_rows_per_s", none, false},
    {"lmdb_scan_tuple_prefix_M_rows_per_s", none, false},
    {"lmdb_scan_tuple_unpacked_M_rows_per_s", none, false},
    {"lmdb_scan_raw_cursor_M_rows_per_s", none, false},
    {"lmdb_group_commit_vs_single_sync", 20, false},
    {"lmdb_group_commit_vs_raw_same_batching", 0.9, false},
    {"lmdb_group_commits_per_s", none, false},
    {"lmdb_raw_single_sync_commits_per_s", none, false},
    {"pg_get_tuple_vs_libpq", 0.8, false},
    {"pg_tenant_write_vs_libpq", 0.8, false},
    {"pg_database_write_vs_libpq", none, false},
    {"pg_get_tuple_reads_per_s", none, false},
    {"pg_tenant_writes_per_s", none, false},
    {"tenant_clear_s", none, true},
    {"tenant_clear_M_rows_per_s", none, false},
    {"tenant_create_open_per_s", none, false},
};

const char* const sections[] = {"tuple", "reads", "scans", "writes", "postgres", "tenants"};

/// Small sizes for a smoke run (--quick): every section in a few seconds.
StoreFlags quick_flags() {
  StoreFlags flags;
  flags.rounds = 2;
  flags.tuple_ops = 100'000;
  flags.keys = 20'000;
  flags.reads = 100'000;
  flags.single_reads = 20'000;
  flags.scan_rows = 100'000;
  flags.scan_tuple_rows = 5'000;
  flags.commits_per_writer = 3;
  flags.single_sync_commits = 10;
  flags.pg_keys = 1'000;
  flags.pg_reads_per_transaction = 20;
  flags.pg_read_transactions = 5;
  flags.pg_writes = 20;
  flags.tenants_created = 10;
  return flags;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

json load_average() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return nullptr;
  return {round_to(load[0], 2), round_to(load[1], 2), round_to(load[2], 2)};
}

/// A size flag, bounded so that every loop of a run stays bounded.
void size_option(CLI::App& app, const char* name, std::size_t& value, const char* help,
                 std::size_t max = 100'000'000) {
  app.add_option(name, value, help)->check(CLI::Range(std::size_t{1}, max));
}

void parse(int argc, char** argv, StoreFlags& flags, std::set<std::string>& only, bool& quick) {
  for (int i = 1; i < argc; ++i) quick = quick || std::strcmp(argv[i], "--quick") == 0;
  if (quick) flags = quick_flags();
  CLI::App app{"Plexus datastore benchmark (JSON on stdout)"};
  std::vector<std::string> parts(std::begin(sections), std::end(sections));
  app.add_option("--only", parts, "Sections to run")->delimiter(',')->check(CLI::IsMember(parts));
  app.add_flag("--quick", quick, "Small sizes, for a smoke run (explicit sizes still apply)");
  app.add_option("--dir", flags.dir, "Directory for the LMDB environment (default: a fresh one under /tmp, removed)");
  size_option(app, "--rounds", flags.rounds, "Interleaved rounds per section (figures: medians)", 100);
  size_option(app, "--tuple-ops", flags.tuple_ops, "Tuple operations per variant per round");
  size_option(app, "--keys", flags.keys, "Rows of the LMDB data set");
  size_option(app, "--reads", flags.reads, "Point reads per variant per round (many per transaction)");
  size_option(app, "--reads-per-transaction", flags.reads_per_transaction, "Point reads per read transaction");
  size_option(app, "--single-reads", flags.single_reads, "Point reads per variant per round, one per transaction");
  size_option(app, "--scan-rows", flags.scan_rows, "Rows each scan variant reads per round");
  size_option(app, "--scan-batch-rows", flags.scan_batch_rows, "TenantRangeIterator batch size");
  size_option(app, "--scan-tuple-rows", flags.scan_tuple_rows, "Rows of one tuple-prefix scan and get_range window");
  size_option(app, "--writers", flags.writers, "Concurrent writer threads", 1'024);
  size_option(app, "--commits-per-writer", flags.commits_per_writer, "Commits of each writer per round", 100'000);
  size_option(app, "--single-sync-commits", flags.single_sync_commits, "Raw commits (one sync each) per round", 100'000);
  size_option(app, "--pg-keys", flags.pg_keys, "Rows of the PostgreSQL data set");
  size_option(app, "--pg-reads-per-transaction", flags.pg_reads_per_transaction, "PostgreSQL reads per transaction");
  size_option(app, "--pg-read-transactions", flags.pg_read_transactions, "PostgreSQL read transactions per variant per round");
  size_option(app, "--pg-writes", flags.pg_writes, "PostgreSQL write transactions per variant per round", 100'000);
  size_option(app, "--tenants-created", flags.tenants_created, "Tenants created and opened", 100'000);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  only.insert(parts.begin(), parts.end());
}

/// Runs the chosen sections in a fixed order (tenants last: it clears the data set).
json run_sections(const StoreFlags& flags, const std::set<std::string>& only, json& environment) {
  json results = json::object();
  if (only.count("tuple")) results["tuple"] = run_tuple(flags);
  std::unique_ptr<LmdbFixture> fixture;
  if (only.count("reads") || only.count("scans") || only.count("writes") || only.count("tenants")) {
    auto opened = LmdbFixture::open(flags.dir);
    if (!opened.ok()) return {{"lmdb", {{"error", "opening: " + opened.error().message()}}}};
    fixture = std::move(*opened);
    environment = {{"dir", fixture->dir()}, {"filesystem", fixture->filesystem()}, {"durable", true}};
  }
  for (const char* name : {"reads", "scans", "writes"}) {
    if (!only.count(name)) continue;
    spdlog::info("section {}", name);
    if (std::strcmp(name, "reads") == 0) results[name] = run_reads(flags, *fixture);
    if (std::strcmp(name, "scans") == 0) results[name] = run_scans(flags, *fixture);
    if (std::strcmp(name, "writes") == 0) results[name] = run_writes(flags, *fixture);
  }
  if (only.count("postgres")) results["postgres"] = run_postgres(flags);
  if (only.count("tenants")) results["tenants"] = run_tenants(flags, *fixture);
  if (fixture) environment["fill_seconds"] = round_to(fixture->fill_seconds(), 2);
  return results;
}

json summarize(const json& results, json& targets, json& met) {
  json values = json::object();
  for (const auto& [section, body] : results.items()) {
    if (body.contains("figures")) values.update(body["figures"]);
  }
  json summary = json::object();
  for (const auto& f : figures) {
    const json value = values.value(f.name, json(nullptr));
    summary[f.name] = {{"value", value}};
    if (std::isnan(f.target)) continue;
    targets[f.name] = (f.at_most ? "<= " : ">= ") + json(f.target).dump();
    met[f.name] = value.is_number() ? json(f.at_most ? value.get<double>() <= f.target : value.get<double>() >= f.target)
                                    : json(nullptr);
    summary[f.name]["target"] = targets[f.name];
    summary[f.name]["met"] = met[f.name];
  }
  return summary;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  StoreFlags flags;
  std::set<std::string> only;
  bool quick = false;
  parse(argc, argv, flags, only, quick);
  const json load_before = load_average();
  const auto started = Clock::now();
  json environment = nullptr;
  const json results = run_sections(flags, only, environment);
  json targets = json::object(), met = json::object();
  const json summary = summarize(results, targets, met);
  const json document = {
      {"benchmark", "store"},
      {"machine", {{"cores", std::thread::hardware_concurrency()}, {"cpu", cpu_model()}}},
      {"load_average", {{"before", load_before}, {"after", load_average()}}},
      {"seconds", round_to(seconds_since(started), 1)},
      {"settings", {{"quick", quick}, {"sections", only}, {"rounds", flags.rounds}, {"keys", flags.keys},
                    {"lmdb", environment}}},
      {"notes", "one thread per side unless stated; every ratio is the median over interleaved rounds"
                " (order reversed every other round) of Plexus / raw in the same round"},
      {"results", results},
      {"summary", summary},
      {"targets", targets},
      {"met", met}};
  std::cout << document.dump(2) << std::endl;
  return has_error(results) ? 1 : 0;
}
