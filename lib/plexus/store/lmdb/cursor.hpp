// Inside the LMDB backend: how user keys become LMDB keys (one prefix byte,
// lmdb_backend.hpp), a cursor over [begin, end) of user keys in either
// direction, and LMDB return codes turned into plexus.store errors.
#pragma once

#include <lmdb.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "plexus/core/result.hpp"
#include "plexus/store/errors.hpp"

namespace plexus::store::lmdb {

/// LMDB's compile-time key limit (MDB_MAXKEYSIZE in Debian's build); the
/// runtime value (mdb_env_get_maxkeysize) is checked against it at open.
inline constexpr std::size_t stored_key_bytes_max = 511;

/// A user key as stored: prefix byte + key, without allocating. A key longer
/// than LMDB allows (only range bounds can be) is cut to the limit; `cut`
/// says so, and positioning code compares with the full key.
class StoredKey {
 public:
  explicit StoredKey(std::string_view user_key) noexcept;
  [[nodiscard]] MDB_val val() noexcept { return MDB_val{size_, bytes_}; }
  [[nodiscard]] std::string_view view() const noexcept { return {bytes_, size_}; }

 private:
  char bytes_[stored_key_bytes_max];
  std::size_t size_;
};

/// a < b in the store's order (bytewise, then the shorter first), inline and
/// 8 bytes at a time: a walk compares every row with its bound, and for short
/// keys a call to memcmp (and its page-crossing checks) costs more than the
/// comparison itself.
inline bool bytes_less(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x = 0, y = 0;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      if constexpr (std::endian::native == std::endian::little) return __builtin_bswap64(x) < __builtin_bswap64(y);
      return x < y;
    }
  }
  for (; i < n; ++i) {
    const auto p = static_cast<unsigned char>(a[i]), q = static_cast<unsigned char>(b[i]);
    if (p != q) return p < q;
  }
  return a.size() < b.size();
}

inline std::string_view as_view(const MDB_val& val) noexcept {
  return {static_cast<const char*>(val.mv_data), val.mv_size};
}

/// The rows of [begin, end) (user keys) of one transaction, forwards or
/// backwards. Copying is not allowed; the cursor closes with the object.
class RangeCursor {
 public:
  RangeCursor(MDB_txn* txn, MDB_dbi dbi, std::string_view begin, std::string_view end, bool reverse) noexcept;
  ~RangeCursor();
  RangeCursor(const RangeCursor&) = delete;
  RangeCursor& operator=(const RangeCursor&) = delete;

  /// On a row inside the range.
  [[nodiscard]] bool valid() const noexcept { return valid_; }
  /// 0, or the LMDB error that stopped the walk.
  [[nodiscard]] int error() const noexcept { return error_; }
  /// The user key (prefix removed) and value of the current row; views into the map.
  [[nodiscard]] std::string_view key() const noexcept { return as_view(key_).substr(1); }
  [[nodiscard]] std::string_view value() const noexcept { return as_view(value_); }
  /// True when a walk of [begin, end) (user keys) in the same direction
  /// starts at the current row: the walk so far stopped after handing out
  /// `last` (the row before the current one, in walk order), and the new
  /// range is what follows it — [last + 00, end) forwards, [begin, last)
  /// backwards — with the other bound unchanged.
  [[nodiscard]] bool continues(std::string_view begin, std::string_view end, bool reverse,
                               std::string_view last) const noexcept {
    if (!valid_ || reverse != reverse_) return false;
    if (reverse) return end == last && begin == std::string_view(begin_).substr(1);
    return end == std::string_view(end_).substr(1) && begin.size() == last.size() + 1 && begin.back() == '\0' &&
           begin.starts_with(last);
  }
  /// Inline: a scan calls it once per row.
  void next() noexcept {
    if (!valid_) return;
    step(reverse_ ? MDB_PREV : MDB_NEXT);
    if (!valid_) return;
    const auto key = as_view(key_);
    valid_ = reverse_ ? !bytes_less(key, begin_) : bytes_less(key, end_);
  }

 private:
  void step(MDB_cursor_op op) noexcept {
    const int rc = mdb_cursor_get(cursor_, &key_, &value_, op);
    valid_ = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND) error_ = rc;
  }
  void settle() noexcept;

  MDB_cursor* cursor_ = nullptr;
  std::string begin_, end_;  // stored form, full length
  bool reverse_;
  bool valid_ = false;
  int error_ = 0;
  MDB_val key_{}, value_{};
};

/// An LMDB return code as a plexus.store error: `what` names the call.
Error lmdb_error(int rc, std::string_view what);

}  // namespace plexus::store::lmdb
