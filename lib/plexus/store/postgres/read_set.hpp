// Read validation for the PostgreSQL backend's read-write transactions, so
// that they keep backend.hpp's promise literally: commit() fails with
// `conflict` when anything the transaction read was changed by a transaction
// that committed after it began. PostgreSQL's SERIALIZABLE alone refuses only
// dependency cycles (write skew, lost updates); a reader whose range gained a
// row from a later commit, with no cycle, would commit there. So each read
// records its key span and a digest of the committed row versions it saw
// (key and xmin, which changes with every insert, update or delete), and at
// commit a second connection, on a fresh snapshot, reads the same spans
// again: any difference is a commit after ours began. Keys the transaction
// had itself written before a read are left out on both sides (its own
// uncommitted versions are invisible to the second connection; the server's
// row conflicts already cover them). Internal to lib/plexus/store/postgres.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/store/postgres/connection.hpp"

namespace plexus::store::postgres {

/// The prepared statement that reads a span's row versions:
/// key, xmin::text, begin <= key < end, in key order, at most $3 rows.
inline constexpr const char* validate_statement = "plexus_validate";

/// Reads recorded in one transaction at most; one more is transaction_too_large.
constexpr std::size_t read_records_max = 10'000;
/// Rows one span may hold when validated; more counts as a change.
constexpr std::size_t validation_rows_max = 100'000;

/// The keys and ranges a transaction wrote, in order, so a read can ask
/// "written before read number n?".
class WriteLog {
 public:
  void add_key(std::string_view key);
  void add_range(std::string_view begin, std::string_view end);
  /// Writes logged so far; a read remembers this as its mark.
  [[nodiscard]] std::size_t mark() const noexcept { return count_; }
  /// True when one of the first `mark` writes set, cleared or range-cleared `key`.
  [[nodiscard]] bool covers(std::string_view key, std::size_t mark) const;

 private:
  struct Range {
    std::string begin, end;
    std::size_t index;
  };
  std::map<std::string, std::size_t, std::less<>> first_write_;  ///< key -> index of its first write
  std::vector<Range> ranges_;
  std::size_t count_ = 0;
};

/// One row version as the validation compares it.
struct RowVersion {
  std::string_view key;
  std::string_view xmin;
};

/// A digest of row versions (BLAKE2b-128 over length-prefixed keys and xmins).
using Digest = std::array<unsigned char, 16>;
Digest digest_of(std::span<const RowVersion> rows, const WriteLog& writes, std::size_t mark);

class ReadSet {
 public:
  /// Records a read of [begin, end) that saw `rows` (in any order). Fails
  /// with transaction_too_large past read_records_max.
  Result<void> add(std::string begin, std::string end, std::span<const RowVersion> rows, const WriteLog& writes);
  [[nodiscard]] bool empty() const noexcept { return records_.empty(); }

  /// Reads every recorded span again on `connection` (a fresh snapshot, not
  /// the transaction's) in one round trip; `conflict` naming the first span
  /// that changed, or the connection's error.
  Result<void> validate(Connection& connection, const WriteLog& writes, Clock::time_point deadline) const;

 private:
  struct Record {
    std::string begin, end;
    std::size_t mark;
    Digest digest;
  };
  std::vector<Record> records_;
};

}  // namespace plexus::store::postgres
