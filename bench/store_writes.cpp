// bench_store section "writes": durable single-key write transactions. Plexus
// side: `writers` threads each commit `commits_per_writer` transactions of one
// blind set through Database::run, so the LMDB writer thread groups them
// (group commit: one LMDB transaction and one sync per batch). Baselines, raw
// LMDB on the same durable environment, one thread:
// - single sync: mdb_txn_begin, mdb_put, mdb_txn_commit (a sync) per key;
// - same batching: batches of the size group commit reached in that round
//   (lmdb_counters: transactions / batches), one mdb_txn_commit per batch.
// Every key is new (a round and variant in its name), 16-byte values.
// Rates are per wall second: the time goes to syncs, not to this thread.
#include <sys/resource.h>

#include <latch>
#include <thread>

#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "store_fixture.hpp"
#include "store_measure.hpp"
#include "store_sections.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;

std::string write_key(std::size_t round, char variant, std::size_t thread, std::size_t n) {
  char text[48];
  std::snprintf(text, sizeof text, "w/%03zu/%c/%03zu/%08zu", round, variant, thread, n);
  return text;
}

Error lmdb_failure(int rc, const char* what) {
  return store::make_error(store::errc::backend_error, std::string(what) + ": " + mdb_strerror(rc));
}

/// Raw LMDB: `keys` new keys in transactions of `batch` keys, one commit (sync) each.
Result<Sample> raw_writes(const LmdbFixture& fixture, std::size_t round, char variant, std::size_t keys, std::size_t batch) {
  const std::string value = user_value(round);
  const Stopwatch watch;
  for (std::size_t k = 0; k < keys;) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(fixture.env(), nullptr, 0, &txn); rc != 0) return lmdb_failure(rc, "mdb_txn_begin");
    for (const std::size_t end = std::min(keys, k + batch); k < end; ++k) {
      const std::string stored = store::lmdb_key_prefix + write_key(round, variant, 0, k);
      MDB_val key{stored.size(), const_cast<char*>(stored.data())};
      MDB_val data{value.size(), const_cast<char*>(value.data())};
      if (int rc = mdb_put(txn, fixture.dbi(), &key, &data, 0); rc != 0) {
        mdb_txn_abort(txn);
        return lmdb_failure(rc, "mdb_put");
      }
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return lmdb_failure(rc, "mdb_txn_commit");
  }
  return sample(keys, watch);
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct GroupRound {
  Sample commits;  // cpu_s: the whole process's
  double batch_mean = 0;
  std::uint64_t batches = 0;
};

/// `writers` threads, each `commits` Database::run transactions of one set; started together by a latch.
Result<GroupRound> group_writes(LmdbFixture& fixture, std::size_t round, std::size_t writers, std::size_t commits_each) {
  const auto before = store::lmdb_counters(fixture.backend()).value();
  const std::string value = user_value(round);
  std::vector<Error> errors(writers);
  std::latch start(static_cast<std::ptrdiff_t>(writers) + 1);
  std::vector<std::jthread> threads;
  for (std::size_t t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (std::size_t n = 0; n < commits_each; ++n) {
        const std::string key = write_key(round, 'g', t, n);
        auto done = fixture.database().run([&](store::Transaction& transaction) { return transaction.set(key, value); });
        if (!done.ok()) {
          errors[t] = done.error();
          return;
        }
      }
    });
  }
  const Stopwatch watch;
  const double cpu_before = process_cpu_seconds();
  start.arrive_and_wait();
  for (auto& thread : threads) thread.join();
  // CPU time of the whole process (every writer and the LMDB writer thread).
  const Sample commits{writers * commits_each, watch.wall_s(), process_cpu_seconds() - cpu_before};
  for (const auto& error : errors) {
    if (error.code) return error;
  }
  const auto after = store::lmdb_counters(fixture.backend()).value();
  GroupRound out;
  out.commits = commits;
  out.batches = after.batches_committed - before.batches_committed;
  const auto committed = after.transactions_committed - before.transactions_committed;
  out.batch_mean = out.batches ? static_cast<double>(committed) / static_cast<double>(out.batches) : 0;
  return out;
}

json whole(const json& rate) { return rate.is_number() ? json(round_to(rate.get<double>(), 0)) : json(nullptr); }

}  // namespace

json run_writes(const StoreFlags& flags, LmdbFixture& fixture) {
  Rounds rounds;
  json batch_sizes = json::array();
  const std::size_t group_keys = flags.writers * flags.commits_per_writer;
  for (std::size_t round = 0; round < flags.rounds; ++round) {
    // The single-sync baseline runs before the group on even rounds, after it on odd ones.
    auto single = [&]() -> Result<void> {
      auto rate = raw_writes(fixture, round, 's', flags.single_sync_commits, 1);
      if (!rate.ok()) return rate.error();
      rounds.add("raw_single_sync", *rate);
      return {};
    };
    if (round % 2 == 0) {
      if (auto ok = single(); !ok.ok()) return {{"error", "raw single sync: " + ok.error().message()}};
    }
    auto group = group_writes(fixture, round, flags.writers, flags.commits_per_writer);
    if (!group.ok()) return {{"error", "group commit: " + group.error().message()}};
    rounds.add("group_commit", group->commits);
    const auto batch = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(group->batch_mean)));
    auto batched = raw_writes(fixture, round, 'b', group_keys, batch);
    if (!batched.ok()) return {{"error", "raw batched: " + batched.error().message()}};
    rounds.add("raw_same_batching", *batched);
    batch_sizes.push_back({{"batches", group->batches}, {"mean", round_to(group->batch_mean, 1)}, {"raw_batch", batch},
                           {"group_cpu_us_per_commit", round_to(group->commits.cpu_s * 1e6 / static_cast<double>(group_keys), 1)}});
    if (round % 2 == 1) {
      if (auto ok = single(); !ok.ok()) return {{"error", "raw single sync: " + ok.error().message()}};
    }
  }
  const auto counters = store::lmdb_counters(fixture.backend()).value();
  return {{"writers", flags.writers},
          {"commits_per_writer", flags.commits_per_writer},
          {"single_sync_commits", flags.single_sync_commits},
          {"durable", true},
          {"filesystem", fixture.filesystem()},
          {"batch_sizes_per_round", batch_sizes},
          {"lmdb_counters", {{"batches_committed", counters.batches_committed},
                             {"transactions_committed", counters.transactions_committed},
                             {"conflicts", counters.conflicts},
                             {"batch_transactions_max", store::LmdbOptions{}.batch_transactions_max}}},
          {"rates", rounds.to_json()},
          {"figures",
           {{"lmdb_group_commit_vs_single_sync", rounds.median_ratio("group_commit", "raw_single_sync", Per::wall_second)},
            {"lmdb_group_commit_vs_raw_same_batching", rounds.median_ratio("group_commit", "raw_same_batching", Per::wall_second)},
            {"lmdb_group_commits_per_s", whole(rounds.median_rate("group_commit", Per::wall_second))},
            {"lmdb_raw_single_sync_commits_per_s", whole(rounds.median_rate("raw_single_sync", Per::wall_second))}}}};
}

}  // namespace plexus::bench
