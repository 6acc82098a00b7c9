// The LMDB backend's writer thread and group commit (writer.hpp).
#include "plexus/store/lmdb/writer.hpp"

#include <chrono>
#include <string>

#include "plexus/store/lmdb/cursor.hpp"
#include "plexus/store/lmdb/environment.hpp"

namespace plexus::store::lmdb {
namespace {

/// Map growths one batch may need: doubling from LMDB's minimum reaches any
/// sane map_size_bytes_max well within this.
constexpr int map_growths_max = 48;
/// Splits of a batch too large for one LMDB transaction (MDB_TXN_FULL).
constexpr int batch_splits_max = 32;

}  // namespace

Writer::Writer(Environment& environment) : environment_(environment), thread_([this] { loop(); }) {}

Writer::~Writer() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_filled_.notify_all();
  queue_drained_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<void> Writer::commit(const std::shared_ptr<CommitRequest>& request) {
  const auto wait_max = environment_.options().commit_wait_max;
  const auto deadline = std::chrono::steady_clock::now() + wait_max;
  {
    std::unique_lock lock(queue_mutex_);
    const auto queue_max = environment_.options().write_queue_max;
    if (!queue_drained_.wait_until(lock, deadline, [&] { return stopping_ || queue_.size() < queue_max; })) {
      return make_error(errc::unavailable, "the LMDB write queue stayed full (write_queue_max " +
                                               std::to_string(queue_max) + ") for " +
                                               std::to_string(wait_max.count()) + " ms");
    }
    if (stopping_) return make_error(errc::unavailable, "the LMDB environment is closing");
    queue_.push_back(request);
  }
  queue_filled_.notify_one();
  std::unique_lock lock(request->mutex);
  if (!request->answered.wait_until(lock, deadline, [&] { return request->done; })) {
    return make_error(errc::commit_unknown_result,
                      "no answer from the LMDB writer within " + std::to_string(wait_max.count()) + " ms");
  }
  return request->outcome;
}

void Writer::answer(CommitRequest& request, Result<void> outcome) {
  {
    std::lock_guard lock(request.mutex);
    request.outcome = std::move(outcome);
    request.done = true;
  }
  request.answered.notify_all();
}

Writer::Batch Writer::take_batch(std::unique_lock<std::mutex>& /*held*/) {
  const auto& options = environment_.options();
  Batch batch;
  std::size_t bytes = 0;
  while (!queue_.empty() && batch.size() < options.batch_transactions_max) {
    const std::size_t next_bytes = queue_.front()->writes.bytes();
    if (!batch.empty() && bytes + next_bytes > options.batch_bytes_max) break;
    bytes += next_bytes;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void Writer::loop() {
  // Runs until the destructor sets stopping_; each turn handles one batch.
  for (;;) {
    Batch batch;
    {
      std::unique_lock lock(queue_mutex_);
      queue_filled_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        for (auto& request : queue_) answer(*request, make_error(errc::unavailable, "the LMDB environment is closing"));
        queue_.clear();
        return;
      }
      batch = take_batch(lock);
    }
    queue_drained_.notify_all();
    run_batch(batch, 0);
  }
}

int Writer::apply_batch(MDB_txn* txn, std::span<const std::shared_ptr<CommitRequest>> batch,
                        std::vector<Result<void>>& outcomes, std::size_t& failed_at) {
  const std::size_t txnid = mdb_txn_id(txn);
  const MDB_dbi dbi = environment_.dbi();
  bool dirty = false;  // an earlier commit of this batch wrote
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& request = *batch[i];
    // Nothing committed since the snapshot (the write transaction is the next
    // id and this batch wrote nothing yet): the reads are still current.
    const bool current = !dirty && request.snapshot_txnid + 1 == txnid;
    if (!current && !request.reads.empty()) {
      bool unchanged = false;
      if (int rc = validate(txn, dbi, request.reads, unchanged); rc != 0) {
        failed_at = i;
        return rc;
      }
      if (!unchanged) {
        outcomes[i] = make_error(errc::conflict, "a concurrent commit changed what this transaction read");
        continue;
      }
    } else if (current && !request.reads.empty()) {
      environment_.counters().validations_skipped.fetch_add(1, std::memory_order_relaxed);
    }
    if (request.writes.empty()) continue;
    if (int rc = request.writes.apply(txn, dbi); rc != 0) {
      failed_at = i;
      return rc;
    }
    dirty = true;
  }
  return 0;
}

void Writer::run_batch(std::span<const std::shared_ptr<CommitRequest>> batch, int depth) {
  if (batch.empty()) return;
  for (int growth = 0;; ++growth) {
    auto txn = environment_.begin_write();
    if (!txn) {
      for (const auto& request : batch) answer(*request, txn.error());
      return;
    }
    std::vector<Result<void>> outcomes(batch.size());
    std::size_t failed_at = batch.size();
    int rc = apply_batch(*txn, batch, outcomes, failed_at);
    if (rc == 0) {
      rc = mdb_txn_commit(*txn);
    } else {
      mdb_txn_abort(*txn);
    }
    environment_.end_write();
    if (rc == 0) {
      auto& counters = environment_.counters();
      counters.batches_committed.fetch_add(1, std::memory_order_relaxed);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i].ok()) {
          counters.transactions_committed.fetch_add(1, std::memory_order_relaxed);
        } else {
          counters.conflicts.fetch_add(1, std::memory_order_relaxed);
        }
        answer(*batch[i], std::move(outcomes[i]));
      }
      return;
    }
    if (rc == MDB_MAP_FULL && growth < map_growths_max) {
      if (auto grown = environment_.grow_map(); !grown) {
        for (const auto& request : batch) answer(*request, grown.error());
        return;
      }
      continue;  // redo the whole batch in the larger map
    }
    if (batch.size() > 1 && depth < batch_splits_max) {
      if (failed_at < batch.size() && rc != MDB_TXN_FULL) {
        // One commit failed on its own (not the batch's size): it alone fails.
        answer(*batch[failed_at], lmdb_error(rc, "applying a commit"));
        Batch rest(batch.begin(), batch.end());
        rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(failed_at));
        run_batch(rest, depth + 1);
        return;
      }
      if (rc == MDB_TXN_FULL) {
        // Too many dirty pages for one LMDB transaction: halve the batch.
        const std::size_t half = batch.size() / 2;
        run_batch(batch.first(half), depth + 1);
        run_batch(batch.subspan(half), depth + 1);
        return;
      }
    }
    const auto error = lmdb_error(rc, failed_at < batch.size() ? "applying a commit" : "mdb_txn_commit");
    for (const auto& request : batch) answer(*request, error);
    return;
  }
}

}  // namespace plexus::store::lmdb
