// Inside the LMDB backend: the environment's one writer thread and its group
// commit. commit() queues a request (reads to re-check, writes to apply) and
// waits for its outcome; the thread takes every queued request up to the
// batch limits, validates and applies them in order inside ONE LMDB write
// transaction, commits it once, and answers every waiter.
#pragma once

#include <lmdb.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/store/lmdb/read_set.hpp"
#include "plexus/store/lmdb/write_set.hpp"

namespace plexus::store::lmdb {

class Environment;

/// One read-write transaction's commit, shared by its waiter and the writer
/// (the waiter may stop waiting; the writer still answers into it).
struct CommitRequest {
  ReadSet reads;
  WriteSet writes;
  /// mdb_txn_id() of the snapshot the reads came from.
  std::size_t snapshot_txnid = 0;

  std::mutex mutex;
  std::condition_variable answered;
  bool done = false;
  Result<void> outcome;
};

class Writer {
 public:
  explicit Writer(Environment& environment);
  /// Answers every queued request `unavailable` and joins the thread.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Queues `request` and waits for its batch, both bounded by commit_wait_max.
  Result<void> commit(const std::shared_ptr<CommitRequest>& request);

 private:
  using Batch = std::vector<std::shared_ptr<CommitRequest>>;
  void loop();
  Batch take_batch(std::unique_lock<std::mutex>& lock);
  void run_batch(std::span<const std::shared_ptr<CommitRequest>> batch, int depth);
  /// Validates and applies the batch in `txn`; the outcomes of refused
  /// commits go to `outcomes`. 0, or the LMDB error and the index it hit.
  int apply_batch(MDB_txn* txn, std::span<const std::shared_ptr<CommitRequest>> batch,
                  std::vector<Result<void>>& outcomes, std::size_t& failed_at);
  static void answer(CommitRequest& request, Result<void> outcome);

  Environment& environment_;
  std::mutex queue_mutex_;
  std::condition_variable queue_filled_;
  std::condition_variable queue_drained_;
  std::deque<std::shared_ptr<CommitRequest>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace plexus::store::lmdb
