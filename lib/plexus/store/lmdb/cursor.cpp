// Stored keys, range cursors and error mapping of the LMDB backend (cursor.hpp).
#include "plexus/store/lmdb/cursor.hpp"

#include <algorithm>
#include <cstring>

#include "plexus/store/lmdb/lmdb_backend.hpp"

namespace plexus::store::lmdb {

StoredKey::StoredKey(std::string_view user_key) noexcept
    : size_(std::min(user_key.size() + 1, stored_key_bytes_max)) {
  bytes_[0] = lmdb_key_prefix;
  std::memcpy(bytes_ + 1, user_key.data(), size_ - 1);
}

RangeCursor::RangeCursor(MDB_txn* txn, MDB_dbi dbi, std::string_view begin, std::string_view end,
                         bool reverse) noexcept
    : reverse_(reverse) {
  begin_.reserve(begin.size() + 1);
  begin_.push_back(lmdb_key_prefix);
  begin_.append(begin);
  end_.reserve(end.size() + 1);
  end_.push_back(lmdb_key_prefix);
  end_.append(end);
  if (int rc = mdb_cursor_open(txn, dbi, &cursor_); rc != 0) {
    cursor_ = nullptr;
    error_ = rc;
    return;
  }
  StoredKey position(reverse ? end : begin);
  key_ = position.val();
  step(MDB_SET_RANGE);
  if (reverse && !valid_ && error_ == 0) step(MDB_LAST);  // every row sorts before `end`
  settle();
}

RangeCursor::~RangeCursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

void RangeCursor::settle() noexcept {
  // Positioning may have used a bound cut to LMDB's key limit: only the cut
  // key itself can lie between the cut and the full bound, so a few steps
  // always reach the first row inside.
  for (int steps = 0; valid_ && steps < 4; ++steps) {
    const auto key = as_view(key_);
    if (!reverse_ && key < std::string_view(begin_)) {
      step(MDB_NEXT);
    } else if (reverse_ && key >= std::string_view(end_)) {
      step(MDB_PREV);
    } else {
      break;
    }
  }
  if (!valid_) return;
  const auto key = as_view(key_);
  valid_ = key >= std::string_view(begin_) && key < std::string_view(end_);
}

Error lmdb_error(int rc, std::string_view what) {
  std::string detail(what);
  detail += ": ";
  detail += mdb_strerror(rc);
  switch (rc) {
    case MDB_READERS_FULL:
      return make_error(errc::unavailable, detail + " (raise LmdbOptions::max_readers)");
    case MDB_TXN_FULL:
      return make_error(errc::transaction_too_large, detail);
    case MDB_BAD_VALSIZE:
      return make_error(errc::key_too_large, detail);
    default:
      return make_error(errc::backend_error, detail);
  }
}

}  // namespace plexus::store::lmdb
