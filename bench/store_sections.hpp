// The sections of bench_store, each measuring Plexus's datastore layer next
// to a raw baseline (LMDB C calls or libpq) in the same run, and returning
// its figures as JSON: {"figures": {name: value, ...}, ...details}. A
// section that could not run carries "error" (or "skipped" with a reason).
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace plexus::bench {

struct StoreFlags {
  /// Where the LMDB environment goes ("" = a fresh directory under /tmp); removed at the end.
  std::string dir;
  /// Interleaved rounds per section; figures are medians over rounds.
  std::size_t rounds = 5;
  /// Section tuple: pack + unpack pairs per round.
  std::size_t tuple_ops = 2'000'000;
  /// LMDB data set: keys ("users", i, "email") -> 16-byte value in one tenant.
  std::size_t keys = 1'000'000;
  /// Section reads: reads per variant per round, and reads per snapshot transaction.
  std::size_t reads = 1'000'000;
  std::size_t reads_per_transaction = 1'000;
  /// ... and reads per variant per round with one read per transaction.
  std::size_t single_reads = 200'000;
  /// Section scans: rows per batch (get_range_raw limit) and rows of the tuple get_range.
  std::size_t scan_batch_rows = 1'000;
  std::size_t scan_tuple_rows = 10'000;
  /// Rows each scan variant reads per round (whole-tenant passes, repeated tuple windows).
  std::size_t scan_rows = 2'000'000;
  /// Section writes: concurrent writers and commits each; single-sync baseline commits.
  std::size_t writers = 64;
  std::size_t commits_per_writer = 100;
  std::size_t single_sync_commits = 200;
  /// Section postgres: keys, reads per transaction, read transactions and write transactions per round.
  std::size_t pg_keys = 10'000;
  std::size_t pg_reads_per_transaction = 100;
  std::size_t pg_read_transactions = 50;
  std::size_t pg_writes = 200;
  /// Section tenants: tenants created and opened.
  std::size_t tenants_created = 100;
};

class LmdbFixture;

nlohmann::json run_tuple(const StoreFlags& flags);
nlohmann::json run_reads(const StoreFlags& flags, LmdbFixture& fixture);
nlohmann::json run_scans(const StoreFlags& flags, LmdbFixture& fixture);
nlohmann::json run_writes(const StoreFlags& flags, LmdbFixture& fixture);
nlohmann::json run_postgres(const StoreFlags& flags);
/// Clears the fixture's tenant (its data is gone afterwards), then creates and opens tenants.
nlohmann::json run_tenants(const StoreFlags& flags, LmdbFixture& fixture);

}  // namespace plexus::bench
