// Inside the LMDB backend: one open environment in this process — the
// MDB_env, its database handle, the transaction gate that lets the map be
// resized, the counters, and the writer thread (writer.hpp). Shared by every
// backend and transaction on the same path (lmdb_backend.hpp: one process
// opens an environment once).
#pragma once

#include <lmdb.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "plexus/core/result.hpp"
#include "plexus/store/lmdb/lmdb_backend.hpp"

namespace plexus::store::lmdb {

class Writer;

/// The counters of LmdbCounters, updated by the writer and the gate.
struct AtomicCounters {
  std::atomic<std::uint64_t> batches_committed{0};
  std::atomic<std::uint64_t> transactions_committed{0};
  std::atomic<std::uint64_t> conflicts{0};
  std::atomic<std::uint64_t> validations_skipped{0};
  std::atomic<std::uint64_t> map_resizes{0};
  std::atomic<std::uint64_t> map_size_bytes{0};
  std::atomic<std::uint64_t> stale_readers_cleared{0};
};

class Environment {
 public:
  /// The environment at options.path: the one this process already has open, or a new one.
  static Result<std::shared_ptr<Environment>> open(const LmdbOptions& options);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  [[nodiscard]] MDB_env* env() const noexcept { return env_; }
  [[nodiscard]] MDB_dbi dbi() const noexcept { return dbi_; }
  [[nodiscard]] const LmdbOptions& options() const noexcept { return options_; }
  /// The longest user key: LMDB's key limit minus the prefix byte.
  [[nodiscard]] std::size_t key_bytes_max() const noexcept { return key_bytes_max_; }
  [[nodiscard]] Writer& writer() noexcept { return *writer_; }
  [[nodiscard]] AtomicCounters& counters() noexcept { return counters_; }

  /// A read-only snapshot, through the gate; end it with end_read().
  Result<MDB_txn*> begin_read();
  void end_read(MDB_txn* txn) noexcept;
  /// The write transaction (writer thread only), through the gate; the
  /// caller commits or aborts it, then calls end_write().
  Result<MDB_txn*> begin_write();
  void end_write() noexcept;
  /// Doubles the map (bounded by map_size_bytes_max) once no transaction of
  /// this process is active; the caller must hold none.
  Result<void> grow_map();
  /// Marks the environment closing: waits end with `unavailable`.
  void shut_down() noexcept;

 private:
  explicit Environment(const LmdbOptions& options);
  Result<void> open_env();
  Result<void> resize_to(std::size_t size_bytes);
  Result<void> enter_gate();
  Result<void> enter_gate_slowly();
  void leave_gate() noexcept;
  void note_map_size() noexcept;

  LmdbOptions options_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::size_t key_bytes_max_ = 0;
  pid_t opener_pid_;
  AtomicCounters counters_;
  std::unique_ptr<Writer> writer_;

  // The gate, lock-free on the way in and out: active_txns_ counts this
  // process's open LMDB transactions (readers and the writer's). A resize sets
  // resizing_ (under gate_mutex_) and waits for zero; a transaction entering
  // counts itself, then backs out and waits on gate_changed_ if resizing_ is
  // set (both sequentially consistent, so one of the two always sees the other).
  std::mutex gate_mutex_;
  std::condition_variable gate_changed_;
  std::atomic<std::size_t> active_txns_{0};
  std::atomic<bool> resizing_{false};
  std::atomic<bool> closing_{false};

  /// Reset read-only transactions for renewal (LmdbOptions::idle_readers_max):
  /// each slot holds one or is null, taken and returned with one atomic operation.
  static constexpr std::size_t idle_slots = 64;
  MDB_txn* take_idle_reader() noexcept;
  bool keep_idle_reader(MDB_txn* txn) noexcept;
  std::array<std::atomic<MDB_txn*>, idle_slots> idle_readers_{};

  friend class Registry;
};

}  // namespace plexus::store::lmdb
