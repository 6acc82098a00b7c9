// bench_store section "scans": LMDB range reads through the tenant API next
// to a raw mdb_cursor_get walk of the same rows. Both sides copy each row's
// key and value once into a buffer (back to back, reused from batch to batch:
// what TenantRangeIterator does) and touch every row. Shapes:
// - whole tenant: TenantRangeIterator::raw over Tenant::range(("users",)),
//   batches of scan_batch_rows, vs one cursor walking the whole range;
// - tuple prefix: TenantRangeIterator::tuples(("users",), limit
//   scan_tuple_rows) — rows with their tenant-relative keys, unpacked only on
//   demand — vs a cursor walking the same first scan_tuple_rows rows;
// - tuple window unpacked: TenantTransaction::get_range(("users",), limit
//   scan_tuple_rows), every key unpacked into a Tuple, vs the cursor walk
//   that also unpacks every key (store::unpack) into a row of its own.
#include <algorithm>

#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "store_fixture.hpp"
#include "store_measure.hpp"
#include "store_sections.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;
using store::KeyValue;

/// Copies a row into slot `n` of `batch`, reusing the slot's strings.
void copy_row(std::vector<KeyValue>& batch, std::size_t n, std::string_view key, std::string_view value) {
  if (n < batch.size()) {
    batch[n].key.assign(key);
    batch[n].value.assign(value);
  } else {
    batch.push_back(KeyValue{std::string(key), std::string(value)});
  }
}

struct Walk {
  std::size_t rows = 0;
  std::size_t bytes = 0;
};

/// Where a raw walk copies its rows: back to back into `arena` (cleared every
/// `batch_rows` rows, as TenantRangeIterator's batches), or, when `tuples` is
/// set, into reused KeyValue slots whose keys (prefix removed) are unpacked
/// into `tuples` (as TenantTransaction::get_range builds its TupleRows).
struct Copies {
  std::size_t batch_rows = 0;
  std::string arena;
  std::vector<std::size_t> offsets;
  std::vector<KeyValue> slots;
  std::size_t prefix_bytes = 0;
  std::vector<store::TupleRow>* tuples = nullptr;
};

Result<void> copy_out(Copies& copies, std::size_t n, std::string_view key, std::string_view value) {
  if (copies.tuples == nullptr) {
    if (n % copies.batch_rows == 0) {
      copies.arena.clear();
      copies.offsets.clear();
    }
    copies.offsets.push_back(copies.arena.size());
    copies.arena.append(key);
    copies.arena.append(value);
    return {};
  }
  copy_row(copies.slots, n % copies.batch_rows, key, value);
  KeyValue& row = copies.slots[n % copies.batch_rows];
  auto tuple = store::unpack(std::string_view(row.key).substr(copies.prefix_bytes));
  if (!tuple.ok()) return tuple.error();
  copies.tuples->push_back(store::TupleRow{std::move(*tuple), std::move(row.value)});  // as get_range moves it
  return {};
}

/// Walks stored keys in [begin, end) from a fresh cursor, at most `rows_max` rows, copying each out.
Result<Walk> cursor_walk(MDB_txn* txn, MDB_dbi dbi, const std::string& begin, const std::string& end,
                         std::size_t rows_max, Copies& copies) {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn, dbi, &cursor); rc != 0) return store::make_error(store::errc::backend_error, mdb_strerror(rc));
  MDB_val key{begin.size(), const_cast<char*>(begin.data())};
  MDB_val value{};
  Walk walk;
  for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE); rc == 0 && walk.rows < rows_max;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    const std::string_view stored(static_cast<const char*>(key.mv_data), key.mv_size);
    if (stored >= end) break;
    const std::string_view row_value(static_cast<const char*>(value.mv_data), value.mv_size);
    if (auto copied = copy_out(copies, walk.rows, stored.substr(1), row_value); !copied.ok()) {
      mdb_cursor_close(cursor);
      return copied.error();
    }
    walk.bytes += stored.size() - 1 + row_value.size();
    ++walk.rows;
  }
  mdb_cursor_close(cursor);
  return walk;
}

/// Raw side: `passes` walks of up to `rows_per_pass` rows, each pass in its own read-only transaction.
Result<Sample> raw_scan(const LmdbFixture& fixture, const store::KeyRange& range, std::size_t passes,
                        std::size_t rows_per_pass, std::size_t batch_rows, bool unpack) {
  const std::string begin = store::lmdb_key_prefix + range.begin, end = store::lmdb_key_prefix + range.end;
  std::size_t rows = 0, bytes = 0;
  const Stopwatch watch;
  for (std::size_t pass = 0; pass < passes; ++pass) {
    // Fresh buffers per pass, as the tenant side's iterator (or get_range) has.
    std::vector<store::TupleRow> tuples;
    if (unpack) tuples.reserve(rows_per_pass);  // as get_range reserves its rows
    Copies copies;
    copies.batch_rows = std::max<std::size_t>(1, batch_rows);
    copies.prefix_bytes = fixture.tenant().key_range().begin.size();
    copies.tuples = unpack ? &tuples : nullptr;
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(fixture.env(), nullptr, MDB_RDONLY, &txn); rc != 0) {
      return store::make_error(store::errc::backend_error, mdb_strerror(rc));
    }
    auto walked = cursor_walk(txn, fixture.dbi(), begin, end, rows_per_pass, copies);
    mdb_txn_abort(txn);
    if (!walked.ok()) return walked.error();
    rows += walked->rows;
    bytes += walked->bytes;
  }
  const auto done = sample(rows, watch);
  keep(bytes);
  return done;
}

/// Tenant side: `passes` TenantRangeIterator walks, each in its own snapshot transaction.
Result<Sample> tenant_scan(const LmdbFixture& fixture, const store::KeyRange& range, std::size_t passes,
                           std::size_t rows_per_pass, std::size_t batch_rows, bool by_tuple) {
  std::size_t rows = 0, bytes = 0;
  const Stopwatch watch;
  for (std::size_t pass = 0; pass < passes; ++pass) {
    auto transaction = fixture.tenant().begin(store::Mode::snapshot);
    if (!transaction.ok()) return transaction.error();
    const store::RangeOptions options{rows_per_pass, false};
    auto rows_of = by_tuple ? store::TenantRangeIterator::tuples(*transaction, store::Tuple{"users"}, options, batch_rows)
                            : store::TenantRangeIterator::raw(*transaction, range.begin, range.end, options, batch_rows);
    if (!rows_of.ok()) return rows_of.error();
    // Each call hands out a row or ends the walk: bounded by the range's rows.
    for (;;) {
      auto row = rows_of->next();
      if (!row.ok()) return row.error();
      if (*row == nullptr) break;
      bytes += (*row)->full_key.size() + (*row)->value.size();
      ++rows;
    }
    if (auto ended = transaction->commit(); !ended.ok()) return ended.error();
  }
  const auto done = sample(rows, watch);
  keep(bytes);
  return done;
}

Result<Sample> tenant_get_range_unpacked(const LmdbFixture& fixture, std::size_t passes, std::size_t window_rows) {
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
      {"raw_cursor_whole", [&] { return raw_scan(fixture, *range, whole_passes, rows, batch, false); }},
      {"tenant_iterator_raw_whole", [&] { return tenant_scan(fixture, *range, whole_passes, 0, batch, false); }},
      {"raw_cursor_window", [&] { return raw_scan(fixture, *range, window_passes, window, batch, false); }},
      {"tenant_iterator_tuples_window", [&] { return tenant_scan(fixture, *range, window_passes, window, batch, true); }},
      {"raw_cursor_window_unpacked", [&] { return raw_scan(fixture, *range, window_passes, window, window, true); }},
      {"tenant_get_range_window_unpacked", [&] { return tenant_get_range_unpacked(fixture, window_passes, window); }},
  };
  auto rounds = run_rounds(variants, flags.rounds);
  if (!rounds.ok()) return {{"error", rounds.error().message()}};
  const auto m = [](const json& rate) { return rate.is_number() ? json(round_to(rate.get<double>() / 1e6, 3)) : json(nullptr); };
  return {{"rows_in_range", rows},
          {"whole", {{"passes_per_round", whole_passes}, {"batch_rows", batch}}},
          {"window", {{"rows", window}, {"passes_per_round", window_passes}, {"batch_rows", batch}}},
          {"rates", rounds->to_json()},
          {"figures",
           {{"lmdb_scan_raw_batches_vs_cursor", rounds->median_ratio("tenant_iterator_raw_whole", "raw_cursor_whole", Per::cpu_second)},
            {"lmdb_scan_tuple_prefix_vs_cursor", rounds->median_ratio("tenant_iterator_tuples_window", "raw_cursor_window", Per::cpu_second)},
            {"lmdb_scan_tuple_unpacked_vs_cursor_unpacked",
             rounds->median_ratio("tenant_get_range_window_unpacked", "raw_cursor_window_unpacked", Per::cpu_second)},
            {"lmdb_scan_raw_batches_M_rows_per_s", m(rounds->median_rate("tenant_iterator_raw_whole", Per::cpu_second))},
            {"lmdb_scan_tuple_prefix_M_rows_per_s", m(rounds->median_rate("tenant_iterator_tuples_window", Per::cpu_second))},
            {"lmdb_scan_tuple_unpacked_M_rows_per_s", m(rounds->median_rate("tenant_get_range_window_unpacked", Per::cpu_second))},
            {"lmdb_scan_raw_cursor_M_rows_per_s", m(rounds->median_rate("raw_cursor_whole", Per::cpu_second))}}}};
}

}  // namespace plexus::bench
