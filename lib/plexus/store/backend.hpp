// The interface a datastore backend implements (LMDB, PostgreSQL). Narrow on
// purpose: Database and Transaction (kv.hpp) check limits, count, and close
// transactions after errors, so a backend only stores and orders bytes and
// keeps its isolation promise:
// - read_write transactions are serializable: commit() fails with `conflict`
//   if anything the transaction read (point reads and the key spans of range
//   reads) was changed by a transaction that committed after it began;
// - snapshot transactions see one consistent committed state;
// - reads see the transaction's own writes;
// - keys order bytewise (memcmp, then length).
// The conformance suite (store/conformance.test.cpp) runs against every backend.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/store/kv.hpp"

namespace plexus::store {

class BackendTransaction {
 public:
  virtual ~BackendTransaction() = default;
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
  /// Transaction::get_held (kv.hpp). By default an ordinary get(), whose
  /// validation at commit already gives the promise.
  virtual Result<std::optional<std::string>> get_held(std::string_view key) { return get(key); }
  /// begin <= key < end, at most `limit` (>= 1) rows, each handed to `sink`
  /// in order; returns `more` when rows were left.
  virtual Result<bool> get_range(std::string_view begin, std::string_view end, std::size_t limit, bool reverse,
                                 RowSink& sink) = 0;
  /// The same into a new RangeResult.
  Result<RangeResult> get_range(std::string_view begin, std::string_view end, std::size_t limit, bool reverse) {
    RangeResult result;
    RowFiller filler(result.rows);
    auto more = get_range(begin, end, limit, reverse, filler);
    if (!more) return more.error();
    filler.finish();
    result.more = *more;
    return result;
  }
  virtual Result<void> set(std::string_view key, std::string_view value) = 0;
  virtual Result<void> clear(std::string_view key) = 0;
  virtual Result<void> clear_range(std::string_view begin, std::string_view end) = 0;
  virtual Result<void> commit() = 0;
  /// Ends the transaction without effects. Must not throw; may be called after an error.
  virtual void cancel() noexcept = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// A new transaction; with Start::with_first_call a backend may defer
  /// taking its snapshot to the transaction's first call.
  virtual Result<std::unique_ptr<BackendTransaction>> begin(Mode mode, Start start) = 0;
  Result<std::unique_ptr<BackendTransaction>> begin(Mode mode) { return begin(mode, Start::at_begin); }
  /// "lmdb" or "postgres".
  [[nodiscard]] virtual std::string_view kind() const noexcept = 0;
  /// The backend's own ceilings; Database lowers its Limits to these.
  [[nodiscard]] virtual Limits native_limits() const noexcept = 0;
};

}  // namespace plexus::store
