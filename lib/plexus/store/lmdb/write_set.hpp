// Inside the LMDB backend: a transaction's buffered writes. Point writes
// (a value, or a clear) by key, and range clears kept as disjoint spans; a
// point write after a range clear shows through it, a range clear removes the
// point writes it covers. Reads merge it over the snapshot; the writer
// applies it (range clears first, then points) inside its batch.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plexus::store::lmdb {

class WriteSet {
 public:
  /// One point write: a value, or std::nullopt for a clear.
  using Entry = std::pair<const std::string, std::optional<std::string>>;

  void set(std::string_view key, std::string_view value);
  void clear(std::string_view key);
  void clear_range(std::string_view begin, std::string_view end);

  /// The point write of `key`, or nullptr when there is none.
  [[nodiscard]] const std::optional<std::string>* find(std::string_view key) const;
  /// True when a range clear covers `key` (a point write may still override it).
  [[nodiscard]] bool cleared(std::string_view key) const;
  /// The point writes in [begin, end), in key order or reversed.
  [[nodiscard]] std::vector<const Entry*> in_range(std::string_view begin, std::string_view end, bool reverse) const;

  [[nodiscard]] bool empty() const noexcept { return points_.empty() && cleared_.empty(); }
  /// Bytes buffered (keys, values, range bounds): what a batch's byte limit counts.
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

  /// Applies the writes inside `txn`: 0 or the first LMDB error.
  int apply(MDB_txn* txn, MDB_dbi dbi) const;

 private:
  std::map<std::string, std::optional<std::string>, std::less<>> points_;
  std::map<std::string, std::string, std::less<>> cleared_;  ///< begin -> end, disjoint and not touching
  std::size_t bytes_ = 0;
};

}  // namespace plexus::store::lmdb
