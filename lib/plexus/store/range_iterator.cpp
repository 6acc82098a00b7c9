// RangeIterator (kv.hpp): walks a long range in batches through one
// transaction, narrowing the remaining range after each batch, so memory holds
// one batch and never the whole range.
#include <algorithm>
#include <limits>

#include "plexus/store/kv.hpp"

namespace plexus::store {

RangeIterator::RangeIterator(Transaction& transaction, std::string begin, std::string end, std::size_t limit,
                             bool reverse, std::size_t batch_rows)
    : transaction_(&transaction),
      begin_(std::move(begin)),
      end_(std::move(end)),
      remaining_(limit == 0 ? std::numeric_limits<std::size_t>::max() : limit),
      reverse_(reverse),
      batch_rows_(std::max<std::size_t>(1, batch_rows)) {}

Result<std::optional<KeyValue>> RangeIterator::next() {
  if (remaining_ == 0) return std::optional<KeyValue>{};
  if (position_ == batch_.size()) {
    if (exhausted_) return std::optional<KeyValue>{};
    auto more = transaction_->get_range_into(begin_, end_, RangeOptions{std::min(batch_rows_, remaining_), reverse_},
                                             batch_);
    if (!more) return more.error();
    position_ = 0;
    if (batch_.empty() || !*more) {
      exhausted_ = true;
    } else if (reverse_) {
      end_ = batch_.back().key;  // the end is exclusive: the next batch ends below the last row
    } else {
      begin_ = batch_.back().key + '\0';  // the first key after the last row
    }
    if (batch_.empty()) return std::optional<KeyValue>{};
  }
  --remaining_;
  return std::optional<KeyValue>(std::move(batch_[position_++]));
}

}  // namespace plexus::store
