// plexus::store: ordered, transactional key-value datastores. A Database is
// one datastore on one backend (LMDB or PostgreSQL, backend.hpp); every read
// and write happens in a Transaction, serializable when read-write and a
// consistent snapshot when read-only, with FoundationDB's limits checked here,
// once, for every backend. Calls block: run them on a worker thread, never on
// the peer service's io thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/store/errors.hpp"

namespace plexus::store {

class Backend;
class BackendTransaction;

/// FoundationDB's limits by default; a backend may lower them (LMDB's key
/// limit is 511 bytes, PostgreSQL's is set by its btree page), never raise them.
struct Limits {
  std::size_t key_bytes_max = 10'000;
  std::size_t value_bytes_max = 100'000;
  /// Bytes of keys and values written (set, clear, clear_range bounds) in one transaction.
  std::size_t transaction_bytes_max = 10'000'000;
  std::chrono::milliseconds transaction_age_max{5'000};
  /// Rows one get_range() call returns at most (a RangeIterator reads in batches of this).
  std::size_t range_rows_max = 10'000;
};

enum class Mode {
  read_write,  ///< serializable: commits only if nothing it read changed since
  snapshot,    ///< read-only, a consistent snapshot; commit() just ends it
};

/// When a transaction takes its snapshot.
enum class Start {
  /// In begin() itself (PostgreSQL: a round trip of its own).
  at_begin,
  /// With its first call, which the caller makes at once (PostgreSQL: BEGIN
  /// rides in that call's round trip). For callers that read right after begin.
  with_first_call,
};

struct KeyValue {
  std::string key;
  std::string value;
  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

struct RangeOptions {
  /// At most this many rows; 0 means Limits::range_rows_max (also the ceiling).
  std::size_t limit = 0;
  /// Rows from the end of the range backwards.
  bool reverse = false;
};

/// One batch of a range: `more` when rows were left out because of the limit.
struct RangeResult {
  std::vector<KeyValue> rows;
  bool more = false;
};

/// Receives the rows of a range read one at a time (Transaction::scan); the
/// views hold only during the call.
class RowSink {
 public:
  /// What a backend calls for each row: counts its bytes, then row().
  void add(std::string_view key, std::string_view value) {
    bytes_ += key.size() + value.size();
    row(key, value);
  }
  /// Key and value bytes received so far.
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

 protected:
  ~RowSink() = default;
  virtual void row(std::string_view key, std::string_view value) = 0;

 private:
  std::size_t bytes_ = 0;
};

/// A RowSink that fills a reused vector of rows in order (get_range_into): row
/// n is assigned in place when the vector already has it, so its strings keep
/// their memory. finish() drops the rows past the ones received.
class RowFiller final : public RowSink {
 public:
  explicit RowFiller(std::vector<KeyValue>& rows) noexcept : rows_(rows) {}
  void finish() { rows_.resize(count_); }

 private:
  void row(std::string_view key, std::string_view value) override {
    if (count_ < rows_.size()) {
      rows_[count_].key.assign(key);
      rows_[count_].value.assign(value);
    } else {
      rows_.push_back(KeyValue{std::string(key), std::string(value)});
    }
    ++count_;
  }

  std::vector<KeyValue>& rows_;
  std::size_t count_ = 0;
};

/// Counters of one datastore, for /metrics. Monotonic; read with load().
struct Stats {
  std::atomic<std::uint64_t> transactions_started{0};
  std::atomic<std::uint64_t> transactions_committed{0};
  std::atomic<std::uint64_t> transactions_failed{0};  ///< any error other than a conflict
  std::atomic<std::uint64_t> conflicts{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> bytes_read{0};
  std::atomic<std::uint64_t> bytes_written{0};
  /// Commit latency of read-write transactions: count, sum, and a histogram
  /// with the bucket bounds of commit_latency_bounds_us (last bucket +Inf).
  std::atomic<std::uint64_t> commit_latency_us_sum{0};
  std::atomic<std::uint64_t> commit_latency_count{0};
  static constexpr std::array<std::uint64_t, 12> commit_latency_bounds_us{
      50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 1'000'000};
  std::array<std::atomic<std::uint64_t>, 13> commit_latency_buckets{};
};

/// A transaction. Move-only; destroying it uncommitted cancels it; it must
/// end before its Database is destroyed. Reads see the transaction's own
/// writes. Every key (set, clear, get) is at most
/// Limits::key_bytes_max bytes; a range bound may be one byte longer, so that
/// `key + '\0'` (the first key after `key`) is always a valid bound.
/// Errors that refuse one call's arguments before anything happens
/// (key_too_large, value_too_large, transaction_too_large, invalid_range,
/// read_only) leave the transaction open. After commit(), cancel() or any
/// other error (transaction_too_old included: the age is checked on every
/// call and at commit) every call fails with transaction_closed.
class Transaction {
 public:
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) noexcept;
  ~Transaction();

  Result<std::optional<std::string>> get(std::string_view key);
  /// get() with the same promise (a read-write transaction conflicts if a
  /// commit after its begin changed the key), checked in a way that suits a
  /// small, rarely written row read by many writers (a tenant's directory
  /// entry). LMDB validates it at commit like any read. PostgreSQL locks the
  /// row it found (FOR SHARE) in the commit's own round trip, which fails if
  /// the row changed since the snapshot: no validation round trip, and no lock
  /// held while the transaction runs. An absent key is validated as by get().
  Result<std::optional<std::string>> get_held(std::string_view key);
  /// Rows with begin <= key < end, in key order (or reverse), at most
  /// options.limit. invalid_range if begin > end.
  Result<RangeResult> get_range(std::string_view begin, std::string_view end, RangeOptions options = {});
  /// get_range() into `rows`, which it replaces, reusing their memory (the
  /// vector's and each string's), so that reading batch after batch into the
  /// same vector allocates nothing once it has grown. Returns `more`.
  Result<bool> get_range_into(std::string_view begin, std::string_view end, RangeOptions options,
                              std::vector<KeyValue>& rows);
  /// get_range() handing each row to `sink` as a view, copying nothing: the
  /// cheapest way to read a range (TenantRangeIterator stands on it). Returns `more`.
  Result<bool> scan(std::string_view begin, std::string_view end, RangeOptions options, RowSink& sink);
  Result<void> set(std::string_view key, std::string_view value);
  Result<void> clear(std::string_view key);
  /// Clears begin <= key < end.
  Result<void> clear_range(std::string_view begin, std::string_view end);
  /// Makes the writes durable (read-write), or ends the snapshot. conflict
  /// when a concurrent commit changed what this transaction read.
  Result<void> commit();
  void cancel() noexcept;

  [[nodiscard]] Mode mode() const noexcept { return mode_; }
  /// Bytes counted against Limits::transaction_bytes_max so far.
  [[nodiscard]] std::size_t bytes_written() const noexcept { return bytes_written_; }
  [[nodiscard]] const Limits& limits() const noexcept { return *limits_; }

 private:
  friend class Database;
  Transaction(std::unique_ptr<BackendTransaction> impl, Mode mode, const Limits& limits, Stats& stats);
  Result<void> usable();
  Result<void> check_key(std::string_view key) const;
  Result<void> check_bound(std::string_view key) const;
  Result<void> count_write(std::size_t bytes);
  Result<void> fail(Error error);
  /// Ends the backend transaction and adds the bytes read to Stats (once per transaction).
  void close() noexcept;

  std::unique_ptr<BackendTransaction> impl_;
  Mode mode_;
  const Limits* limits_;  ///< the Database's, which outlives the transaction
  Stats* stats_;
  std::chrono::steady_clock::time_point started_;
  std::size_t bytes_written_ = 0;
  std::size_t bytes_read_ = 0;  ///< added to Stats::bytes_read when the transaction ends
};

/// Reads [begin, end) through a transaction in batches of `batch_rows`, so a
/// long range never sits in memory at once. `limit` 0 = the whole range.
class RangeIterator {
 public:
  RangeIterator(Transaction& transaction, std::string begin, std::string end, std::size_t limit = 0,
                bool reverse = false, std::size_t batch_rows = 1'000);
  /// The next row, std::nullopt at the end, or the transaction's error.
  Result<std::optional<KeyValue>> next();

 private:
  Transaction* transaction_;
  std::string begin_, end_;
  std::size_t remaining_;
  bool reverse_;
  std::size_t batch_rows_;
  std::vector<KeyValue> batch_;  ///< reused from batch to batch (get_range_into)
  std::size_t position_ = 0;
  bool exhausted_ = false;
};

/// How run() retries: attempts on conflict (and transaction_too_old), with
/// jittered exponential backoff between them.
struct RetryOptions {
  int attempts_max = 100;
  std::chrono::microseconds backoff_initial{100};
  std::chrono::microseconds backoff_max{50'000};
};

/// One datastore. Thread-safe: any number of threads may begin transactions.
class Database {
 public:
  Database(std::string name, std::unique_ptr<Backend> backend, Limits limits = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Result<Transaction> begin(Mode mode = Mode::read_write, Start start = Start::at_begin);

  /// Runs `fn(Transaction&) -> Result<T>` in a read-write transaction and
  /// commits it, re-running both on conflict or transaction_too_old, up to
  /// RetryOptions::attempts_max times (then retry_limit_reached, holding the
  /// last conflict's detail). Any other error is returned as it is, after
  /// cancelling the transaction. `fn` must not have effects outside the
  /// transaction that cannot be repeated.
  /// `start` as for begin(): Start::with_first_call when `fn` reads at once.
  template <class F>
  auto run(F&& fn, RetryOptions options = {}, Start start = Start::at_begin)
      -> std::invoke_result_t<F&, Transaction&>;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// "lmdb" or "postgres".
  [[nodiscard]] std::string_view backend_kind() const noexcept;
  /// The limits in force: the options' limits lowered to the backend's.
  [[nodiscard]] const Limits& limits() const noexcept { return limits_; }
  [[nodiscard]] const Stats& stats() const noexcept { return stats_; }

 private:
  Result<void> run_erased(const std::function<Result<void>(Transaction&)>& attempt, const RetryOptions& options,
                          Start start);

  std::string name_;
  std::unique_ptr<Backend> backend_;
  Limits limits_;
  mutable Stats stats_;
};

template <class F>
auto Database::run(F&& fn, RetryOptions options, Start start) -> std::invoke_result_t<F&, Transaction&> {
  using R = std::invoke_result_t<F&, Transaction&>;
  if constexpr (std::is_same_v<R, Result<void>>) {
    return run_erased([&](Transaction& t) { return fn(t); }, options, start);
  } else {
    std::optional<R> last;
    auto outcome = run_erased(
        [&](Transaction& t) -> Result<void> {
          last.emplace(fn(t));
          if (!last->ok()) return last->error();
          return {};
        },
        options, start);
    if (!outcome.ok()) return outcome.error();
    return std::move(*last);
  }
}

}  // namespace plexus::store
