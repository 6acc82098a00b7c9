// bench_store section "reads": LMDB point reads through the tenant API next
// to raw LMDB C calls doing the same work — the same keys in the same random
// order, the same reads per read-only transaction, each value copied into a
// std::string. Tenant side: Tenant::begin(Mode::snapshot), then get(tuple)
// with the tuple ("users", i, "email") BUILT PER READ (as a request handler
// would), or get_raw() with the full key packed beforehand (Tenant::pack).
// Raw side: mdb_txn_begin(MDB_RDONLY), mdb_get of the stored key (prefix byte
// + full key, prepared beforehand), mdb_txn_abort; beside it (no target)
// raw_renew: one transaction mdb_txn_reset + mdb_txn_renew'ed each time, the
// trick the backend itself uses (LmdbOptions::idle_readers_max). Rates are per CPU second
// of the reading thread (one core; the data set is in the page cache).
#include <algorithm>
#include <random>

#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "store_fixture.hpp"
#include "store_measure.hpp"
#include "store_sections.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;

struct ReadKeys {
  std::vector<std::size_t> index;       // row numbers, random order
  std::vector<std::string> full;        // Tenant::pack(user_key(index[k]))
  std::vector<std::string> stored;      // lmdb_key_prefix + full
};

Result<ReadKeys> make_keys(const store::Tenant& tenant, std::size_t rows, std::size_t count) {
  ReadKeys keys;
  std::mt19937_64 random(42);
  std::uniform_int_distribution<std::size_t> pick(0, rows - 1);
  for (std::size_t k = 0; k < count; ++k) {
    keys.index.push_back(pick(random));
    auto full = tenant.pack(user_key(keys.index.back()));
    if (!full.ok()) return full.error();
    keys.stored.push_back(store::lmdb_key_prefix + *full);
    keys.full.push_back(std::move(*full));
  }
  return keys;
}

Error missing(std::size_t k) { return store::make_error(store::errc::backend_error, "read " + std::to_string(k) + " found no value"); }

/// Raw LMDB: `per_transaction` mdb_get calls per read-only transaction, each
/// transaction begun and aborted, or (`renew`) one transaction reset and
/// renewed each time, as the backend does with its kept readers.
Result<Sample> raw_reads(const LmdbFixture& fixture, const ReadKeys& keys, std::size_t count, std::size_t per_transaction,
                         bool renew = false) {
  std::size_t total = 0;
  MDB_txn* kept = nullptr;
  const Stopwatch watch;
  for (std::size_t k = 0; k < count;) {
    MDB_txn* txn = kept;
    const int rc = txn != nullptr ? mdb_txn_renew(txn) : mdb_txn_begin(fixture.env(), nullptr, MDB_RDONLY, &txn);
    if (rc != 0) {
      if (kept != nullptr) mdb_txn_abort(kept);
      return store::make_error(store::errc::backend_error, mdb_strerror(rc));
    }
    for (const std::size_t end = std::min(count, k + per_transaction); k < end; ++k) {
      const auto& stored = keys.stored[k];
      MDB_val key{stored.size(), const_cast<char*>(stored.data())};
      MDB_val value{};
      if (mdb_get(txn, fixture.dbi(), &key, &value) != 0) {
        mdb_txn_abort(txn);  // the kept one included
        return missing(k);
      }
      std::string copy(static_cast<const char*>(value.mv_data), value.mv_size);
      total += copy.size();
    }
    if (renew) {
      mdb_txn_reset(txn);
      kept = txn;
    } else {
      mdb_txn_abort(txn);
    }
  }
  const auto done = sample(count, watch);
  if (kept != nullptr) mdb_txn_abort(kept);
  keep(total);
  return done;
}

/// Through the tenant: get(tuple built here) or get_raw(prepacked key).
Result<Sample> tenant_reads(const LmdbFixture& fixture, const ReadKeys& keys, std::size_t count,
                            std::size_t per_transaction, bool by_tuple) {
  std::size_t total = 0;
  const Stopwatch watch;
  for (std::size_t k = 0; k < count;) {
    auto transaction = fixture.tenant().begin(store::Mode::snapshot);
    if (!transaction.ok()) return transaction.error();
    for (const std::size_t end = std::min(count, k + per_transaction); k < end; ++k) {
      auto value = by_tuple ? transaction->get({"users", static_cast<std::int64_t>(keys.index[k]), "email"})
                            : transaction->get_raw(keys.full[k]);
      if (!value.ok()) return value.error();
      if (!value->has_value()) return missing(k);
      total += (*value)->size();
    }
    if (auto ended = transaction->commit(); !ended.ok()) return ended.error();
  }
  const auto done = sample(count, watch);
  keep(total);
  return done;
}

std::vector<Variant> variants_for(const LmdbFixture& fixture, const ReadKeys& keys, std::size_t count,
                                  std::size_t per_transaction, const std::string& suffix) {
  return {
      {"raw" + suffix, [=, &fixture, &keys] { return raw_reads(fixture, keys, count, per_transaction); }},
      {"raw_renew" + suffix, [=, &fixture, &keys] { return raw_reads(fixture, keys, count, per_transaction, true); }},
      {"tenant_get_tuple" + suffix, [=, &fixture, &keys] { return tenant_reads(fixture, keys, count, per_transaction, true); }},
      {"tenant_get_raw" + suffix, [=, &fixture, &keys] { return tenant_reads(fixture, keys, count, per_transaction, false); }},
  };
}

json millions(const json& rate) { return rate.is_number() ? json(round_to(rate.get<double>() / 1e6, 3)) : json(nullptr); }

}  // namespace

json run_reads(const StoreFlags& flags, LmdbFixture& fixture) {
  if (auto filled = fixture.fill(flags.keys); !filled.ok()) return {{"error", "filling: " + filled.error().message()}};
  auto keys = make_keys(fixture.tenant(), flags.keys, std::max(flags.reads, flags.single_reads));
  if (!keys.ok()) return {{"error", keys.error().message()}};
  const std::string many = "_" + std::to_string(flags.reads_per_transaction) + "_per_txn";
  auto batched = run_rounds(variants_for(fixture, *keys, flags.reads, flags.reads_per_transaction, many), flags.rounds);
  if (!batched.ok()) return {{"error", batched.error().message()}};
  auto single = run_rounds(variants_for(fixture, *keys, flags.single_reads, 1, "_1_per_txn"), flags.rounds);
  if (!single.ok()) return {{"error", single.error().message()}};
  json figures = {
      {"lmdb_get_tuple_many_per_txn_vs_raw", batched->median_ratio("tenant_get_tuple" + many, "raw" + many, Per::cpu_second)},
      {"lmdb_get_raw_many_per_txn_vs_raw", batched->median_ratio("tenant_get_raw" + many, "raw" + many, Per::cpu_second)},
      {"lmdb_get_tuple_many_per_txn_M_reads_per_s", millions(batched->median_rate("tenant_get_tuple" + many, Per::cpu_second))},
      {"lmdb_get_raw_many_per_txn_M_reads_per_s", millions(batched->median_rate("tenant_get_raw" + many, Per::cpu_second))},
      {"lmdb_raw_many_per_txn_M_reads_per_s", millions(batched->median_rate("raw" + many, Per::cpu_second))},
      {"lmdb_get_tuple_1_per_txn_vs_raw", single->median_ratio("tenant_get_tuple_1_per_txn", "raw_1_per_txn", Per::cpu_second)},
      {"lmdb_get_raw_1_per_txn_vs_raw", single->median_ratio("tenant_get_raw_1_per_txn", "raw_1_per_txn", Per::cpu_second)},
      {"lmdb_get_tuple_1_per_txn_M_reads_per_s", millions(single->median_rate("tenant_get_tuple_1_per_txn", Per::cpu_second))},
      {"lmdb_raw_1_per_txn_M_reads_per_s", millions(single->median_rate("raw_1_per_txn", Per::cpu_second))},
      {"lmdb_get_tuple_1_per_txn_vs_raw_renew", single->median_ratio("tenant_get_tuple_1_per_txn", "raw_renew_1_per_txn", Per::cpu_second)},
      {"lmdb_raw_renew_1_per_txn_M_reads_per_s", millions(single->median_rate("raw_renew_1_per_txn", Per::cpu_second))},
  };
  return {{"data_set", {{"keys", fixture.filled()}, {"value_bytes", 16}, {"fill_seconds", round_to(fixture.fill_seconds(), 2)}}},
          {"reads_per_transaction", flags.reads_per_transaction},
          {"reads_per_variant_per_round", flags.reads},
          {"single_reads_per_variant_per_round", flags.single_reads},
          {"key_order", "uniform random rows (seed 42), the same sequence for every variant"},
          {"tuple_built_per_read", true},
          {"rates", {{"many_per_txn", batched->to_json()}, {"one_per_txn", single->to_json()}}},
          {"figures", figures}};
}

}  // namespace plexus::bench
