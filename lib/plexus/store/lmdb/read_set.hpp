// Inside the LMDB backend: what a read-write transaction read, kept so the
// writer can re-check it at commit (optimistic concurrency). A point read is
// its key and a digest of the value it saw (or its absence); a range read is
// the span of keys it covered and a digest of every stored row in that span,
// in the order read. Digests are BLAKE2b-128 (libsodium crypto_generichash)
// over length-prefixed keys and values, so they cost 16 bytes however large
// the values are.
#pragma once

#include <lmdb.h>
#include <sodium.h>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace plexus::store::lmdb {

using Digest = std::array<unsigned char, 16>;

/// Digests a sequence of rows (or one value).
class RowDigest {
 public:
  RowDigest() noexcept;
  void add(std::string_view key, std::string_view value) noexcept;
  [[nodiscard]] Digest finish() noexcept;

 private:
  void add_bytes(std::string_view bytes) noexcept;
  crypto_generichash_state state_{};
};

struct PointRead {
  std::string key;
  bool present = false;
  Digest value{};  ///< of the value when present
};

struct SpanRead {
  std::string begin, end;  ///< the keys covered: begin <= key < end
  bool reverse = false;    ///< the order the rows were digested in
  Digest rows{};
};

struct ReadSet {
  std::vector<PointRead> points;
  std::vector<SpanRead> spans;
  [[nodiscard]] bool empty() const noexcept { return points.empty() && spans.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return points.size() + spans.size(); }
};

/// The digest of one value.
Digest digest_value(std::string_view value) noexcept;

/// Re-reads every record inside `txn`: 0 with `unchanged` set when each would
/// read the same now, or an LMDB error.
int validate(MDB_txn* txn, MDB_dbi dbi, const ReadSet& reads, bool& unchanged);

}  // namespace plexus::store::lmdb
