// TenantRangeIterator (tenant.hpp): a tenant's range read in batches through
// one transaction into one reused vector of rows, handed out as views, with
// the unread rest of the range always at hand as a continuation.
#include <algorithm>
#include <limits>
#include <utility>

#include "plexus/store/tenant.hpp"

namespace plexus::store {

TenantRangeIterator::TenantRangeIterator(TenantTransaction& transaction, std::string begin, std::string end,
                                         RangeOptions options, std::size_t batch_rows)
    : transaction_(&transaction),
      unread_{std::move(begin), std::move(end)},
      batch_span_(unread_),
      remaining_(options.limit == 0 ? std::numeric_limits<std::size_t>::max() : options.limit),
      reverse_(options.reverse),
      batch_rows_(std::max<std::size_t>(1, batch_rows)) {
  row_.prefix_bytes = transaction.space().key_begin.size();
}

Result<TenantRangeIterator> TenantRangeIterator::tuples(TenantTransaction& transaction, const Tuple& prefix,
                                                        RangeOptions options, std::size_t batch_rows) {
  auto bounds = range(prefix);
  if (!bounds.ok()) return bounds.error();
  const std::string& base = transaction.space().key_begin;
  return TenantRangeIterator(transaction, base + bounds->begin, base + bounds->end, options, batch_rows);
}

Result<TenantRangeIterator> TenantRangeIterator::raw(TenantTransaction& transaction, std::string_view begin,
                                                     std::string_view end, RangeOptions options,
                                                     std::size_t batch_rows) {
  if (auto inside = transaction.check_range(begin, end); !inside.ok()) return inside.error();
  if (begin > end) return make_error(errc::invalid_range, "range begin sorts after its end");
  return TenantRangeIterator(transaction, std::string(begin), std::string(end), options, batch_rows);
}

void TenantRangeIterator::Collector::row(std::string_view key, std::string_view value) {
  std::string& arena = owner->arena_;
  const std::size_t key_at = arena.size();
  arena.append(key);
  arena.append(value);
  owner->slots_.push_back(
      Slot{key_at, static_cast<std::uint32_t>(key.size()), static_cast<std::uint32_t>(value.size())});
}

Result<void> TenantRangeIterator::fetch() {
  batch_span_ = unread_;
  arena_.clear();
  slots_.clear();
  const RangeOptions options{std::min(batch_rows_, remaining_), reverse_};
  Transaction& transaction = *transaction_->transaction_;
  Collector collector(this);
  auto more = transaction.scan(unread_.begin, unread_.end, options, collector);
  if (!more) return more.error();
  fetched_ = true;
  position_ = 0;
  if (slots_.empty() || !*more) {
    range_done_ = true;
  } else if (reverse_) {
    unread_.end = key_of(slots_.back());  // the end is exclusive: the next batch ends below the last row
  } else {
    unread_.begin.assign(key_of(slots_.back()));
    unread_.begin += '\0';  // the first key after the last row
  }
  return {};
}

Result<const TenantRow*> TenantRangeIterator::next_batch() {
  if (remaining_ == 0) return nullptr;
  if (position_ == slots_.size()) {
    if (range_done_) return nullptr;
    if (auto fetched = fetch(); !fetched) return fetched.error();
    if (slots_.empty()) return nullptr;
  }
  return hand_out();
}

KeyRange TenantRangeIterator::rest() const {
  if (!fetched_) return batch_span_;
  if (range_done_ && position_ == slots_.size()) return {batch_span_.end, batch_span_.end};
  if (position_ == 0) return batch_span_;
  const std::string last(key_of(slots_[position_ - 1]));
  return reverse_ ? KeyRange{batch_span_.begin, last} : KeyRange{last + '\0', batch_span_.end};
}

}  // namespace plexus::store
