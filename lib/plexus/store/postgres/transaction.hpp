// A PostgreSQL backend transaction and the state it shares with its backend.
// Writes are buffered here and reach the server in the same pipelined round
// trip as the next read (so reads see them) or the commit; BEGIN rides along
// with the first round trip. Internal to lib/plexus/store/postgres.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plexus/store/backend.hpp"
#include "plexus/store/postgres/connection.hpp"
#include "plexus/store/postgres/pool.hpp"
#include "plexus/store/postgres/read_set.hpp"

namespace plexus::store::postgres {

/// The prepared statements every pooled connection has (see prepare_sql()).
namespace statement_name {
inline constexpr const char* get = "plexus_get";
inline constexpr const char* get_snapshot = "plexus_get_snapshot";  ///< the value only: nothing to validate
inline constexpr const char* lock = "plexus_lock";  ///< SELECT 1 ... FOR SHARE of one key
inline constexpr const char* range = "plexus_range";
inline constexpr const char* range_reverse = "plexus_range_reverse";
inline constexpr const char* upsert = "plexus_upsert";
inline constexpr const char* remove = "plexus_delete";
inline constexpr const char* remove_range = "plexus_delete_range";
}  // namespace statement_name

/// Buffered writes flush on their own (one round trip, no read) past either bound.
constexpr std::size_t write_buffer_statements_max = 4'096;
constexpr std::size_t write_buffer_bytes_max = 1 << 20;

/// Owned by the backend and by each open transaction, so a transaction that
/// outlives its backend still returns its connection somewhere valid.
struct Shared {
  ConnectSpec spec;
  Limits limits;
  std::chrono::milliseconds reply_timeout{15'000};
  std::unique_ptr<Pool> pool;
  /// Connections for read validation at commit (read_set.hpp), apart from
  /// `pool` so that committing transactions never wait on each other for one.
  std::unique_ptr<Pool> validation_pool;
  /// Round trips sent, for tests of batching.
  std::atomic<std::uint64_t> round_trips{0};
};

class PgTransaction final : public BackendTransaction {
 public:
  PgTransaction(std::shared_ptr<Shared> shared, std::unique_ptr<Connection> connection, Mode mode);
  ~PgTransaction() override;

  /// Sends BEGIN and takes the snapshot now (one round trip), so the
  /// transaction sees the state as of begin(), not as of its first read.
  Result<void> start();

  Result<std::optional<std::string>> get(std::string_view key) override;
  /// get(), validated at commit by locking the row it found (SELECT ... FOR
  /// SHARE, in the commit's own round trip, before the writes): the lock
  /// fails with `conflict` (SQLSTATE 40001) when a commit after this
  /// transaction's snapshot changed or deleted that row version, and holds it
  /// until COMMIT. So it needs no validation connection and no lock while the
  /// transaction runs. An absent key is recorded and validated as any read.
  Result<std::optional<std::string>> get_held(std::string_view key) override;
  using BackendTransaction::get_range;
  Result<bool> get_range(std::string_view begin, std::string_view end, std::size_t limit, bool reverse,
                         RowSink& sink) override;
  Result<void> set(std::string_view key, std::string_view value) override;
  Result<void> clear(std::string_view key) override;
  Result<void> clear_range(std::string_view begin, std::string_view end) override;
  Result<void> commit() override;
  void cancel() noexcept override;

 private:
  struct Write {
    enum class Kind { set, clear, clear_range } kind;
    std::string key;
    std::string value_or_end;  ///< the value (set) or the range's end (clear_range)
  };

  /// Sends BEGIN if not yet sent, the buffered writes, and `last` (a read or
  /// COMMIT), in one round trip. Returns `last`'s result; on error the
  /// transaction is over and its connection back in the pool.
  Result<PgResult> exchange(std::optional<Statement> last, bool commits);
  /// BEGIN (if not sent yet), the held keys' locks when `commits` and the
  /// transaction wrote, and the buffered writes, as statements.
  [[nodiscard]] std::vector<Statement> pending_statements(bool commits) const;
  Result<std::optional<std::string>> read_point(std::string_view key, bool held);
  Result<void> usable() const;
  Result<void> check_key(std::string_view key) const;
  Result<void> buffer(Write write);
  /// Records a read-write transaction's read of [begin, end) (read_set.hpp).
  /// `row_count` rows of `rows` were returned; their keys and xmins are in
  /// the given columns. Snapshots record nothing.
  Result<void> record_read(std::string begin, std::string end, const PGresult* rows, std::size_t row_count,
                           int key_column, int xmin_column);
  /// Checks the read set on a validation connection before COMMIT.
  Result<void> validate_reads();
  /// Ends the transaction on the server if it is still open there (ROLLBACK)
  /// and hands the connection back to the pool.
  void finish() noexcept;

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Connection> connection_;
  Mode mode_;
  bool begun_ = false;     ///< BEGIN has been sent
  bool finished_ = false;  ///< committed, cancelled or failed
  std::vector<Write> pending_;
  std::size_t pending_bytes_ = 0;
  WriteLog writes_;
  ReadSet reads_;
  /// Keys read with get_held() that found a row: locked at commit (get_held()).
  std::vector<std::string> held_;
};

}  // namespace plexus::store::postgres
