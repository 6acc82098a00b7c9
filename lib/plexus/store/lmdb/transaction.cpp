// One LMDB backend transaction (transaction.hpp): reads merge the buffered
// writes over the snapshot and, in read-write mode, leave a record for the
// writer to re-check; commit hands reads and writes to the writer.
#include "plexus/store/lmdb/transaction.hpp"

#include <algorithm>
#include <array>
#include <new>

#include "plexus/store/lmdb/cursor.hpp"
#include "plexus/store/lmdb/writer.hpp"

namespace plexus::store::lmdb {
namespace {

/// Blocks of ended transactions one thread keeps for its next transactions.
constexpr std::size_t transaction_blocks_kept = 4;

/// Trivially destructible, so it stays usable while the thread's other
/// thread_local objects are destroyed; BlockCacheCleanup frees its blocks.
struct BlockCache {
  std::array<void*, transaction_blocks_kept> blocks;
  std::size_t count;
  bool cleanup_registered;
  bool closed;  ///< the thread is ending: blocks go back to the heap
};
thread_local BlockCache block_cache{};

struct BlockCacheCleanup {
  ~BlockCacheCleanup() {
    block_cache.closed = true;
    while (block_cache.count > 0) ::operator delete(block_cache.blocks[--block_cache.count]);
  }
  /// Any call constructs the object in this thread, which registers its destructor.
  [[gnu::noinline]] void arm() noexcept { block_cache.cleanup_registered = true; }
};
thread_local BlockCacheCleanup block_cache_cleanup;

}  // namespace

void* LmdbTransaction::operator new(std::size_t size) {
  BlockCache& cache = block_cache;
  if (size == sizeof(LmdbTransaction) && cache.count > 0) return cache.blocks[--cache.count];
  return ::operator new(size);
}

void LmdbTransaction::operator delete(void* block, std::size_t size) noexcept {
  BlockCache& cache = block_cache;
  if (size == sizeof(LmdbTransaction) && !cache.closed && cache.count < transaction_blocks_kept) {
    if (!cache.cleanup_registered) block_cache_cleanup.arm();
    cache.blocks[cache.count++] = block;
    return;
  }
  ::operator delete(block);
}

LmdbTransaction::LmdbTransaction(Environment& environment, Mode mode, MDB_txn* snapshot) noexcept
    : environment_(&environment), mode_(mode), snapshot_(snapshot), snapshot_txnid_(mdb_txn_id(snapshot)) {}

LmdbTransaction::~LmdbTransaction() { cancel(); }

void LmdbTransaction::end_snapshot() noexcept {
  if (snapshot_ == nullptr) return;
  walk_.reset();  // a read-only transaction's cursor is closed by hand, before the snapshot is reused
  resumable_ = false;
  environment_->end_read(snapshot_);
  snapshot_ = nullptr;
}

Result<void> LmdbTransaction::room_for_read() const {
  if (snapshot_ == nullptr) return make_error(errc::transaction_closed);
  if (recording() && reads_.size() >= environment_->options().read_records_max) {
    return make_error(errc::transaction_too_large, "more than LmdbOptions::read_records_max " +
                                                       std::to_string(environment_->options().read_records_max) +
                                                       " reads to re-check at commit");
  }
  return {};
}

Result<std::optional<std::string>> LmdbTransaction::get(std::string_view key) {
  // Answers from the transaction's own writes depend on nothing stored: no record.
  if (!writes_.empty()) {
    if (const auto* written = writes_.find(key)) return *written;
    if (writes_.cleared(key)) return std::optional<std::string>{};
  }
  if (auto ok = room_for_read(); !ok) return ok.error();
  StoredKey stored(key);
  MDB_val k = stored.val();
  MDB_val v{};
  const int rc = mdb_get(snapshot_, environment_->dbi(), &k, &v);
  if (rc == MDB_NOTFOUND) {
    if (recording()) reads_.points.push_back(PointRead{std::string(key), false, {}});
    return std::optional<std::string>{};
  }
  if (rc != 0) return lmdb_error(rc, "mdb_get");
  if (recording()) reads_.points.push_back(PointRead{std::string(key), true, digest_value(as_view(v))});
  return std::optional<std::string>(std::string(as_view(v)));
}

Result<bool> LmdbTransaction::get_range(std::string_view begin, std::string_view end, std::size_t limit, bool reverse,
                                        RowSink& sink) {
  if (auto ok = room_for_read(); !ok) return ok.error();
  const bool buffering = !writes_.empty();
  // A snapshot with nothing buffered: nothing to merge or record, a plain cursor walk.
  if (!buffering && !recording()) return plain_range(begin, end, limit, reverse, sink);
  resumable_ = false;
  RangeCursor stored(snapshot_, environment_->dbi(), begin, end, reverse);
  const auto buffered = buffering ? writes_.in_range(begin, end, reverse) : std::vector<const WriteSet::Entry*>{};
  std::size_t next_buffered = 0;
  std::optional<RowDigest> digest;
  if (recording()) digest.emplace();
  std::size_t count = 0;
  bool more = false;
  std::optional<std::string> stopped_at;  // the first row past the limit: `more` is exact
  auto offer = [&](std::string_view key, std::string_view value) {
    if (count == limit) {
      if (digest) stopped_at.emplace(key);  // only a recorded span needs it
      more = true;
      return false;
    }
    sink.add(key, value);
    ++count;
    return true;
  };
  auto before = [&](std::string_view a, std::string_view b) { return reverse ? a > b : a < b; };
  // Each turn consumes a stored row, a buffered write, or both (same key):
  // the loop ends when both run out or the limit is passed.
  while (stored.valid() || next_buffered < buffered.size()) {
    const bool have_buffered = next_buffered < buffered.size();
    const std::string_view buffered_key = have_buffered ? std::string_view(buffered[next_buffered]->first) : "";
    if (stored.valid() && (!have_buffered || !before(buffered_key, stored.key()))) {
      const auto key = stored.key();
      if (digest) digest->add(key, stored.value());  // every stored row of the span, shadowed or not
      const bool shadowed = have_buffered && key == buffered_key;
      if (!shadowed && !(buffering && writes_.cleared(key)) && !offer(key, stored.value())) break;
      stored.next();
      if (!shadowed) continue;
    }
    const auto& value = buffered[next_buffered]->second;
    ++next_buffered;
    if (value && !offer(buffered_key, *value)) break;
  }
  if (stored.error() != 0) return lmdb_error(stored.error(), "reading a range");
  if (digest) {
    SpanRead span{std::string(begin), std::string(end), reverse, digest->finish()};
    if (stopped_at) {
      if (reverse) {
        span.begin = std::move(*stopped_at);
      } else {
        span.end = std::move(*stopped_at) + '\0';
      }
    }
    reads_.spans.push_back(std::move(span));
  }
  return more;
}

RangeCursor& LmdbTransaction::plain_cursor(std::string_view begin, std::string_view end, bool reverse) {
  if (!resumable_ || !walk_->continues(begin, end, reverse, resume_at_)) {
    walk_.reset();  // close the old cursor before opening the next
    walk_.emplace(snapshot_, environment_->dbi(), begin, end, reverse);
  }
  resumable_ = false;
  return *walk_;
}

Result<bool> LmdbTransaction::plain_range(std::string_view begin, std::string_view end, std::size_t limit,
                                          bool reverse, RowSink& sink) {
  // A range read in batches (TenantRangeIterator, RangeIterator) asks for the
  // rows right after the last batch: the cursor kept from it is already there.
  RangeCursor& stored = plain_cursor(begin, end, reverse);
  std::string_view last;
  for (std::size_t count = 0; stored.valid(); stored.next(), ++count) {
    if (count == limit) {
      resume_at_ = last;
      resumable_ = count != 0;
      return true;
    }
    last = stored.key();
    sink.add(last, stored.value());
  }
  if (stored.error() != 0) return lmdb_error(stored.error(), "reading a range");
  return false;
}

Result<void> LmdbTransaction::set(std::string_view key, std::string_view value) {
  if (snapshot_ == nullptr) return make_error(errc::transaction_closed);
  writes_.set(key, value);
  return {};
}

Result<void> LmdbTransaction::clear(std::string_view key) {
  if (snapshot_ == nullptr) return make_error(errc::transaction_closed);
  writes_.clear(key);
  return {};
}

Result<void> LmdbTransaction::clear_range(std::string_view begin, std::string_view end) {
  if (snapshot_ == nullptr) return make_error(errc::transaction_closed);
  writes_.clear_range(begin, end);
  return {};
}

Result<void> LmdbTransaction::commit() {
  if (snapshot_ == nullptr) return make_error(errc::transaction_closed);
  if (mode_ == Mode::snapshot || (reads_.empty() && writes_.empty())) {
    end_snapshot();
    return {};
  }
  auto request = std::make_shared<CommitRequest>();
  request->reads = std::move(reads_);
  request->writes = std::move(writes_);
  request->snapshot_txnid = snapshot_txnid_;
  // The snapshot is not needed to validate (the writer re-reads), and ending
  // it first lets a map resize proceed while this commit waits.
  end_snapshot();
  return environment_->writer().commit(request);
}

void LmdbTransaction::cancel() noexcept { end_snapshot(); }

}  // namespace plexus::store::lmdb
