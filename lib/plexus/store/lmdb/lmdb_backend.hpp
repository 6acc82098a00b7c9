// plexus::store's embedded backend: one LMDB environment (a directory holding
// data.mdb and lock.mdb) behind the Backend interface (backend.hpp).
//
// Design (docs/store.md, "LMDB backend"):
// - Reads. Every transaction reads from its own LMDB read-only snapshot
//   (MDB_NOTLS, so a transaction may move between threads), merged with its
//   buffered writes: it reads its own sets, clears and range clears.
// - Commit. A read-write transaction records what it read — a point read as
//   the key and a BLAKE2b digest of the value (or its absence), a range read
//   as the key span it covered and a digest of the rows in it — and buffers
//   its writes. commit() hands both to the environment's one writer thread,
//   which runs group commit: it takes every queued commit (up to
//   batch_transactions_max and batch_bytes_max), opens ONE LMDB write
//   transaction (LMDB's write lock is cross-process, so this also serializes
//   with other processes), and for each commit in order re-validates its
//   reads against the current state (including the batch's earlier commits):
//   unchanged, its writes are applied; changed, it fails with `conflict`.
//   Then one mdb_txn_commit (one fsync) completes the whole batch. Snapshot
//   transactions and transactions that neither read nor wrote never reach
//   the writer.
// - Map size. The map starts at map_size_bytes (sparse: only written pages
//   take disk). On MDB_MAP_FULL the writer doubles it (up to
//   map_size_bytes_max) and redoes the batch; a size grown by another process
//   is adopted on MDB_MAP_RESIZED. mdb_env_set_mapsize needs no transaction
//   active in this process, so every transaction passes a gate that a resize
//   closes: new transactions wait (at most resize_wait_max) and the resize
//   waits for the active ones to end.
// - Keys. Stored behind a one-byte prefix so the empty key, which LMDB
//   refuses, is an ordinary key; order is unchanged (bytewise). The key limit
//   is therefore mdb_env_get_maxkeysize() - 1 (510 with Debian's liblmdb).
// - One process opens an environment once: open_lmdb() on a path already open
//   in this process returns another backend on the same environment (and
//   writer thread); the first opener's options hold. After fork(), a child
//   must open the path itself and must not use the parent's backends.
// Errors map to plexus.store codes with LMDB's message in the detail; every
// wait is bounded and a closed environment answers `unavailable`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "plexus/core/result.hpp"
#include "plexus/store/backend.hpp"

struct MDB_env;

namespace plexus::store {

struct LmdbOptions {
  /// The environment's directory; created (with parents) if missing.
  std::string path;
  /// The initial map size. Sparse: reserves address space, not disk.
  std::size_t map_size_bytes = std::size_t{16} << 30;
  /// The map doubles on MDB_MAP_FULL up to this; then commits fail with backend_error.
  std::size_t map_size_bytes_max = std::size_t{1} << 40;
  /// Concurrent transactions of all processes (each holds one reader slot).
  unsigned max_readers = 512;
  /// Ended read-only LMDB transactions this process keeps (mdb_txn_reset) to
  /// renew for the next transaction, which skips the reader-table lock and an
  /// allocation. Each keeps its reader slot (of max_readers). 0..64; 0 = none.
  std::size_t idle_readers_max = 8;
  /// fsync at every commit (batch). False: MDB_NOSYNC — a crash of the process
  /// loses nothing, a crash of the machine may lose the last commits.
  bool durable = true;
  /// Group commit: at most this many transactions per LMDB write transaction...
  std::size_t batch_transactions_max = 256;
  /// ...and at most this many buffered bytes (a larger single commit runs alone).
  std::size_t batch_bytes_max = std::size_t{64} << 20;
  /// Commits waiting for the writer; commit() waits for room at most commit_wait_max.
  std::size_t write_queue_max = 4'096;
  /// How long commit() waits for room in the queue and then for its batch
  /// (unavailable, or commit_unknown_result once queued).
  std::chrono::milliseconds commit_wait_max{30'000};
  /// How long a map resize waits for this process's transactions to end, and
  /// a new transaction for a resize to finish (then: unavailable).
  std::chrono::milliseconds resize_wait_max{10'000};
  /// Recorded reads of one read-write transaction (points and ranges); more is transaction_too_large.
  std::size_t read_records_max = 1'000'000;
};

/// Opens (creating if needed) the environment at options.path.
/// invalid_option for bad options, backend_error with LMDB's message otherwise.
Result<std::unique_ptr<Backend>> open_lmdb(const LmdbOptions& options);

/// Counters of one environment in this process, for tests and /metrics.
struct LmdbCounters {
  std::uint64_t batches_committed = 0;       ///< LMDB write transactions committed by the writer
  std::uint64_t transactions_committed = 0;  ///< read-write transactions applied in them
  std::uint64_t conflicts = 0;               ///< commits refused by validation
  std::uint64_t validations_skipped = 0;     ///< commits applied without re-reading (nothing changed since their snapshot)
  std::uint64_t map_resizes = 0;             ///< growths done here plus sizes adopted from other processes
  std::uint64_t map_size_bytes = 0;          ///< the current map size
  std::uint64_t stale_readers_cleared = 0;   ///< reader slots of dead processes freed by mdb_reader_check
};

/// The counters of an LMDB backend; nullopt when `backend` is another kind.
std::optional<LmdbCounters> lmdb_counters(const Backend& backend);

/// The raw environment, for benchmarks that compare with plain LMDB calls;
/// nullptr when `backend` is another kind. Stored keys carry a one-byte
/// prefix (lmdb_key_prefix) and live in the unnamed database.
MDB_env* lmdb_env(Backend& backend);
inline constexpr char lmdb_key_prefix = '\x01';

}  // namespace plexus::store
