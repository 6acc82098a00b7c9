// A transaction's buffered writes in the LMDB backend (write_set.hpp).
#include "plexus/store/lmdb/write_set.hpp"

#include <algorithm>

#include "plexus/store/lmdb/cursor.hpp"

namespace plexus::store::lmdb {

void WriteSet::set(std::string_view key, std::string_view value) {
  bytes_ += key.size() + value.size();
  auto it = points_.find(key);
  if (it == points_.end()) {
    points_.emplace(std::string(key), std::string(value));
  } else {
    it->second = std::string(value);
  }
}

void WriteSet::clear(std::string_view key) {
  bytes_ += key.size();
  auto it = points_.find(key);
  if (it == points_.end()) {
    points_.emplace(std::string(key), std::nullopt);
  } else {
    it->second.reset();
  }
}

void WriteSet::clear_range(std::string_view begin, std::string_view end) {
  if (begin >= end) return;
  bytes_ += begin.size() + end.size();
  points_.erase(points_.lower_bound(begin), points_.lower_bound(end));
  // Merge with every span that overlaps or touches [begin, end).
  std::string merged_begin(begin), merged_end(end);
  auto it = cleared_.upper_bound(begin);
  if (it != cleared_.begin() && std::prev(it)->second >= begin) --it;
  while (it != cleared_.end() && it->first <= merged_end) {
    if (it->first < merged_begin) merged_begin = it->first;
    if (it->second > merged_end) merged_end = it->second;
    it = cleared_.erase(it);
  }
  cleared_.emplace(std::move(merged_begin), std::move(merged_end));
}

const std::optional<std::string>* WriteSet::find(std::string_view key) const {
  auto it = points_.find(key);
  return it == points_.end() ? nullptr : &it->second;
}

bool WriteSet::cleared(std::string_view key) const {
  auto it = cleared_.upper_bound(key);
  if (it == cleared_.begin()) return false;
  --it;
  return key < std::string_view(it->second);
}

std::vector<const WriteSet::Entry*> WriteSet::in_range(std::string_view begin, std::string_view end,
                                                       bool reverse) const {
  std::vector<const Entry*> entries;
  for (auto it = points_.lower_bound(begin); it != points_.end() && std::string_view(it->first) < end; ++it) {
    entries.push_back(&*it);
  }
  if (reverse) std::reverse(entries.begin(), entries.end());
  return entries;
}

namespace {

/// Rows deleted per cursor pass of a range clear: bounds the keys held in memory.
constexpr std::size_t clear_chunk_rows = 1'024;

int clear_span(MDB_txn* txn, MDB_dbi dbi, std::string_view begin, std::string_view end) {
  std::string from(begin);
  std::vector<std::string> doomed;
  // Each pass deletes up to a chunk and moves `from` past it; the range holds
  // finitely many rows, so the passes end.
  for (;;) {
    doomed.clear();
    {
      RangeCursor rows(txn, dbi, from, end, false);
      for (; rows.valid() && doomed.size() < clear_chunk_rows; rows.next()) doomed.emplace_back(rows.key());
      if (rows.error() != 0) return rows.error();
    }
    for (const auto& key : doomed) {
      StoredKey stored(key);
      MDB_val k = stored.val();
      if (int rc = mdb_del(txn, dbi, &k, nullptr); rc != 0 && rc != MDB_NOTFOUND) return rc;
    }
    if (doomed.size() < clear_chunk_rows) return 0;
    from = doomed.back() + '\0';
  }
}

}  // namespace

int WriteSet::apply(MDB_txn* txn, MDB_dbi dbi) const {
  for (const auto& [begin, end] : cleared_) {
    if (int rc = clear_span(txn, dbi, begin, end); rc != 0) return rc;
  }
  for (const auto& [key, value] : points_) {
    StoredKey stored(key);
    MDB_val k = stored.val();
    if (value) {
      MDB_val v{value->size(), const_cast<char*>(value->data())};
      if (int rc = mdb_put(txn, dbi, &k, &v, 0); rc != 0) return rc;
    } else if (int rc = mdb_del(txn, dbi, &k, nullptr); rc != 0 && rc != MDB_NOTFOUND) {
      return rc;
    }
  }
  return 0;
}

}  // namespace plexus::store::lmdb
