// Read records and their validation in the LMDB backend (read_set.hpp).
#include "plexus/store/lmdb/read_set.hpp"

#include <cstdint>

#include "plexus/store/lmdb/cursor.hpp"

namespace plexus::store::lmdb {

RowDigest::RowDigest() noexcept { crypto_generichash_init(&state_, nullptr, 0, Digest{}.size()); }

void RowDigest::add_bytes(std::string_view bytes) noexcept {
  // Length first, little-endian, so ("ab","c") and ("a","bc") differ.
  const auto size = static_cast<std::uint64_t>(bytes.size());
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(size >> (8 * i));
  crypto_generichash_update(&state_, length, sizeof length);
  crypto_generichash_update(&state_, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

void RowDigest::add(std::string_view key, std::string_view value) noexcept {
  add_bytes(key);
  add_bytes(value);
}

Digest RowDigest::finish() noexcept {
  Digest digest{};
  crypto_generichash_final(&state_, digest.data(), digest.size());
  return digest;
}

Digest digest_value(std::string_view value) noexcept {
  Digest digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(value.data()), value.size(),
                     nullptr, 0);
  return digest;
}

namespace {

int point_unchanged(MDB_txn* txn, MDB_dbi dbi, const PointRead& read, bool& unchanged) {
  StoredKey stored(read.key);
  MDB_val key = stored.val();
  MDB_val value{};
  const int rc = mdb_get(txn, dbi, &key, &value);
  if (rc == MDB_NOTFOUND) {
    unchanged = !read.present;
    return 0;
  }
  if (rc != 0) return rc;
  unchanged = read.present && digest_value(as_view(value)) == read.value;
  return 0;
}

int span_unchanged(MDB_txn* txn, MDB_dbi dbi, const SpanRead& read, bool& unchanged) {
  RowDigest digest;
  RangeCursor rows(txn, dbi, read.begin, read.end, read.reverse);
  for (; rows.valid(); rows.next()) digest.add(rows.key(), rows.value());
  if (rows.error() != 0) return rows.error();
  unchanged = digest.finish() == read.rows;
  return 0;
}

}  // namespace

int validate(MDB_txn* txn, MDB_dbi dbi, const ReadSet& reads, bool& unchanged) {
  unchanged = true;
  for (const auto& read : reads.points) {
    if (int rc = point_unchanged(txn, dbi, read, unchanged); rc != 0 || !unchanged) return rc;
  }
  for (const auto& read : reads.spans) {
    if (int rc = span_unchanged(txn, dbi, read, unchanged); rc != 0 || !unchanged) return rc;
  }
  return 0;
}

}  // namespace plexus::store::lmdb
