// Inside the LMDB backend: one transaction — an LMDB read-only snapshot,
// the buffered writes merged over it, the record of what it read, and a
// commit that hands both to the writer (lmdb_backend.hpp has the design).
#pragma once

#include <lmdb.h>

#include <memory>
#include <optional>
#include <string_view>

#include "plexus/store/backend.hpp"
#include "plexus/store/lmdb/cursor.hpp"
#include "plexus/store/lmdb/environment.hpp"
#include "plexus/store/lmdb/read_set.hpp"
#include "plexus/store/lmdb/write_set.hpp"

namespace plexus::store::lmdb {

class LmdbTransaction final : public BackendTransaction {
 public:
  /// Takes ownership of `snapshot` (from Environment::begin_read). The
  /// environment outlives the transaction: its backend does (kv.hpp: a
  /// transaction ends before its Database), and the backend holds it.
  LmdbTransaction(Environment& environment, Mode mode, MDB_txn* snapshot) noexcept;
  ~LmdbTransaction() override;
  LmdbTransaction(const LmdbTransaction&) = delete;
  LmdbTransaction& operator=(const LmdbTransaction&) = delete;

  Result<std::optional<std::string>> get(std::string_view key) override;
  using BackendTransaction::get_range;
  Result<bool> get_range(std::string_view begin, std::string_view end, std::size_t limit, bool reverse,
                         RowSink& sink) override;
  Result<void> set(std::string_view key, std::string_view value) override;
  Result<void> clear(std::string_view key) override;
  Result<void> clear_range(std::string_view begin, std::string_view end) override;
  Result<void> commit() override;
  void cancel() noexcept override;

  /// A thread keeps the blocks of its ended transactions (at most
  /// transaction_blocks_kept) for its next ones: a short transaction, begun
  /// and ended on one thread, allocates nothing.
  static void* operator new(std::size_t size);
  static void operator delete(void* block, std::size_t size) noexcept;

 private:
  [[nodiscard]] bool recording() const noexcept { return mode_ == Mode::read_write; }
  Result<void> room_for_read() const;
  void end_snapshot() noexcept;
  /// The snapshot's cursor for a plain walk of [begin, end): the kept one when
  /// the call reads on exactly where the last one stopped (no seek), else a new one.
  RangeCursor& plain_cursor(std::string_view begin, std::string_view end, bool reverse);
  Result<bool> plain_range(std::string_view begin, std::string_view end, std::size_t limit, bool reverse,
                           RowSink& sink);

  Environment* environment_;
  Mode mode_;
  MDB_txn* snapshot_;
  std::size_t snapshot_txnid_;
  ReadSet reads_;
  WriteSet writes_;
  /// The cursor of the last plain walk, left on the first row it did not
  /// hand out; `resume_at_` is that walk's last row (a view into the map,
  /// valid while the snapshot lives), empty when the cursor cannot go on.
  std::optional<RangeCursor> walk_;
  std::string_view resume_at_;
  bool resumable_ = false;
};

}  // namespace plexus::store::lmdb
