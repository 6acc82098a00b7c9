// bench_store section "scans": LMDB range reads through the tenant API next
// to a raw mdb_cursor_get walk of the same rows, each row copied into a
// KeyValue (two std::strings) as the API returns it. Two shapes:
// - whole tenant: get_range_raw over Tenant::range(("users",)) in batches of
//   scan_batch_rows, resuming after the last key (RangeIterator's algorithm:
//   RangeIterator itself takes a Transaction, which a tenant handle does not
//   expose), vs one cursor walking the whole range;
// - tuple window: get_range(("users",), {limit = scan_tuple_rows}) — rows come
//   back with their keys unpacked into tuples — vs a cursor walking the same
//   first scan_tuple_rows rows. (A tuple get_range cannot resume after its
//   limit, so it only reads windows at the start of a prefix.)
#include <algorithm>

#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "store_fixture.hpp"
#include "store_measure.hpp"
#include "store_sections.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;
using store::KeyValue;

/// Walks stored keys in [begin, end) from a fresh cursor, copying at most
/// `rows_max` rows into `batch` (cleared every `batch_rows`); returns the row count.
Result<std::size_t> cursor_walk(MDB_txn* txn, MDB_dbi dbi, const std::string& begin, const std::string& end,
                                std::size_t rows_max, std::size_t batch_rows, std::vector<KeyValue>& batch) {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn, dbi, &cursor); rc != 0) return store::make_error(store::errc::backend_error, mdb_strerror(rc));
  MDB_val key{begin.size(), const_cast<char*>(begin.data())};
  MDB_val value{};
  std::size_t rows = 0;
  for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE); rc == 0 && rows < rows_max;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    const std::string_view stored(static_cast<const char*>(key.mv_data), key.mv_size);
    if (stored >= end) break;
    if (batch.size() == batch_rows) batch.clear();
    batch.push_back(KeyValue{std::string(stored.substr(1)), std::string(static_cast<const char*>(value.mv_data), value.mv_size)});
    ++rows;
  }
  mdb_cursor_close(cursor);
  return rows;
}

/// Raw side: `passes` walks of up to `rows_per_pass` rows, each pass in its own read-only transaction.
Result<Sample> raw_scan(const LmdbFixture& fixture, const store::KeyRange& range, std::size_t passes,
                        std::size_t rows_per_pass, std::size_t batch_rows) {
  const std::string begin = store::lmdb_key_prefix + range.begin, end = store::lmdb_key_prefix + range.end;
  std::vector<KeyValue> batch;
  batch.reserve(batch_rows);
  std::size_t rows = 0;
  const Stopwatch watch;
  for (std::size_t pass = 0; pass < passes; ++pass) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(fixture.env(), nullptr, MDB_RDONLY, &txn); rc != 0) {
      return store::make_error(store::errc::backend_error, mdb_strerror(rc));
    }
    auto walked = cursor_walk(txn, fixture.dbi(), begin, end, rows_per_pass, batch_rows, batch);
    mdb_txn_abort(txn);
    if (!walked.ok()) return walked.error();
    rows += *walked;
  }
  return sample(rows, watch);
}

/// One whole-range pass through get_range_raw in batches; returns the row count.
Result<std::size_t> tenant_pass(store::TenantTransaction& transaction, const store::KeyRange& range, std::size_t batch_rows) {
  std::string begin = range.begin;
  std::size_t rows = 0;
  // Each batch returns at least one row or ends the loop, so it ends within the range's rows.
  for (;;) {
    auto batch = transaction.get_range_raw(begin, range.end, store::RangeOptions{batch_rows, false});
    if (!batch.ok()) return batch.error();
    rows += batch->rows.size();
    if (!batch->more || batch->rows.empty()) return rows;
    begin = batch->rows.back().key + '\0';
  }
}

Result<Sample> tenant_scan_raw(const LmdbFixture& fixture, const store::KeyRange& range, std::size_t passes,
                               std::size_t batch_rows) {
  std::size_t rows = 0;
  const Stopwatch watch;
  for (std::size_t pass = 0; pass < passes; ++pass) {
    auto transaction = fixture.tenant().begin(store::Mode::snapshot);
    if (!transaction.ok()) return transaction.error();
    auto walked = tenant_pass(*transaction, range, batch_rows);
    if (!walked.ok()) return walked.error();
    rows += *walked;
    if (auto ended = transaction->commit(); !ended.ok()) return ended.error();
  }
  return sample(rows, watch);
}

Result<Sample> tenant_scan_tuple(const LmdbFixture& fixture, std::size_t passes, std::size_t window_rows) {
  std::size_t rows = 0;
  const Stopwatch watch;
  for (std::size_t pass = 0; pass < passes; ++pass) {
    auto transaction = fixture.tenant().begin(store::Mode::snapshot);
    if (!transaction.ok()) return transaction.error();
    auto window = transaction->get_range(store::Tuple{"users"}, store::RangeOptions{window_rows, false});
    if (!window.ok()) return window.error();
    rows += window->rows.size();
    if (auto ended = transaction->commit(); !ended.ok()) return ended.error();
  }
  return sample(rows, watch);
}

}  // namespace

json run_scans(const StoreFlags& flags, LmdbFixture& fixture) {
  if (auto filled = fixture.fill(flags.keys); !filled.ok()) return {{"error", "filling: " + filled.error().message()}};
  auto range = fixture.tenant().range(store::Tuple{"users"});
  if (!range.ok()) return {{"error", range.error().message()}};
  const std::size_t rows = fixture.filled();
  const std::size_t window = std::min(flags.scan_tuple_rows, rows);
  const std::size_t whole_passes = std::max<std::size_t>(1, flags.scan_rows / std::max<std::size_t>(1, rows));
  const std::size_t window_passes = std::max<std::size_t>(1, flags.scan_rows / std::max<std::size_t>(1, window));
  const std::size_t batch = flags.scan_batch_rows;
  std::vector<Variant> variants{
      {"raw_cursor_whole", [&] { return raw_scan(fixture, *range, whole_passes, rows, batch); }},
      {"tenant_get_range_raw_whole", [&] { return tenant_scan_raw(fixture, *range, whole_passes, batch); }},
      {"raw_cursor_window", [&] { return raw_scan(fixture, *range, window_passes, window, window); }},
      {"tenant_get_range_tuple_window", [&] { return tenant_scan_tuple(fixture, window_passes, window); }},
  };
  auto rounds = run_rounds(variants, flags.rounds);
  if (!rounds.ok()) return {{"error", rounds.error().message()}};
  const auto m = [](const json& rate) { return rate.is_number() ? json(round_to(rate.get<double>() / 1e6, 3)) : json(nullptr); };
  return {{"rows_in_range", rows},
          {"whole", {{"passes_per_round", whole_passes}, {"batch_rows", batch}}},
          {"window", {{"rows", window}, {"passes_per_round", window_passes}}},
          {"rates", rounds->to_json()},
          {"figures",
           {{"lmdb_scan_raw_batches_vs_cursor", rounds->median_ratio("tenant_get_range_raw_whole", "raw_cursor_whole", Per::cpu_second)},
            {"lmdb_scan_tuple_window_vs_cursor", rounds->median_ratio("tenant_get_range_tuple_window", "raw_cursor_window", Per::cpu_second)},
            {"lmdb_scan_raw_batches_M_rows_per_s", m(rounds->median_rate("tenant_get_range_raw_whole", Per::cpu_second))},
            {"lmdb_scan_tuple_window_M_rows_per_s", m(rounds->median_rate("tenant_get_range_tuple_window", Per::cpu_second))},
            {"lmdb_scan_raw_cursor_M_rows_per_s", m(rounds->median_rate("raw_cursor_whole", Per::cpu_second))}}}};
}

}  // namespace plexus::bench
