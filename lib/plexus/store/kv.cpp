// Transaction and Database (kv.hpp): the backend-independent half of every
// datastore. Limits, the age check, closing after errors, the counters of
// Stats and run()'s retry loop live here, once, so every backend behaves the
// same at the API and only stores, orders and isolates bytes.
#include "plexus/store/kv.hpp"

#include <time.h>

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

#include "plexus/store/backend.hpp"

namespace plexus::store {
namespace {

using std::chrono::steady_clock;

// Every call checks the transaction's age: a coarse clock read costs a few
// nanoseconds where steady_clock::now() costs 20-80 (a fifth of a point read);
// its tick (a few ms on Linux) is far below any sensible age limit. Both read
// CLOCK_MONOTONIC, so the time points compare with steady_clock's.
steady_clock::time_point coarse_now() noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return steady_clock::time_point(std::chrono::duration_cast<steady_clock::duration>(
      std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec)));
}

/// Errors that refuse one call's arguments before it reaches the backend:
/// the transaction stays open after them (kv.hpp).
bool leaves_open(const Error& error) noexcept {
  return is(error, errc::key_too_large) || is(error, errc::value_too_large) ||
         is(error, errc::transaction_too_large) || is(error, errc::invalid_range) || is(error, errc::read_only);
}

void record_commit_latency(Stats& stats, std::uint64_t latency_us) noexcept {
  stats.commit_latency_us_sum.fetch_add(latency_us, std::memory_order_relaxed);
  stats.commit_latency_count.fetch_add(1, std::memory_order_relaxed);
  const auto& bounds = Stats::commit_latency_bounds_us;
  const auto bucket = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), latency_us) - bounds.begin());
  stats.commit_latency_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
}

Limits lower_to(Limits wanted, const Limits& native) noexcept {
  wanted.key_bytes_max = std::min(wanted.key_bytes_max, native.key_bytes_max);
  wanted.value_bytes_max = std::min(wanted.value_bytes_max, native.value_bytes_max);
  wanted.transaction_bytes_max = std::min(wanted.transaction_bytes_max, native.transaction_bytes_max);
  wanted.transaction_age_max = std::min(wanted.transaction_age_max, native.transaction_age_max);
  wanted.range_rows_max = std::max<std::size_t>(1, std::min(wanted.range_rows_max, native.range_rows_max));
  return wanted;
}

/// Full jitter (uniform in [0, ceiling]) over an exponential ceiling, so
/// processes that conflicted once do not collide again in lockstep.
std::chrono::microseconds backoff_for(int attempt, const RetryOptions& options) {
  thread_local std::minstd_rand random{std::random_device{}()};
  auto ceiling = options.backoff_initial;
  for (int i = 1; i < attempt && ceiling < options.backoff_max; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, options.backoff_max);
  if (ceiling.count() <= 0) return std::chrono::microseconds{0};
  std::uniform_int_distribution<std::int64_t> pick(0, ceiling.count());
  return std::chrono::microseconds{pick(random)};
}

}  // namespace

// --- Transaction ---

Transaction::Transaction(std::unique_ptr<BackendTransaction> impl, Mode mode, const Limits& limits, Stats& stats)
    : impl_(std::move(impl)), mode_(mode), limits_(&limits), stats_(&stats), started_(coarse_now()) {
  stats_->transactions_started.fetch_add(1, std::memory_order_relaxed);
}

Transaction::Transaction(Transaction&& other) noexcept
    : impl_(std::move(other.impl_)),
      mode_(other.mode_),
      limits_(other.limits_),
      stats_(other.stats_),
      started_(other.started_),
      bytes_written_(other.bytes_written_),
      bytes_read_(std::exchange(other.bytes_read_, 0)) {}

Transaction& Transaction::operator=(Transaction&& other) noexcept {
  if (this != &other) {
    cancel();
    impl_ = std::move(other.impl_);
    mode_ = other.mode_;
    limits_ = other.limits_;
    stats_ = other.stats_;
    started_ = other.started_;
    bytes_written_ = other.bytes_written_;
    bytes_read_ = std::exchange(other.bytes_read_, 0);
  }
  return *this;
}

Transaction::~Transaction() { cancel(); }

Result<void> Transaction::usable() {
  if (!impl_) return make_error(errc::transaction_closed);
  const auto age = coarse_now() - started_;
  if (age > limits_->transaction_age_max) {
    const auto age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(age).count();
    return fail(make_error(errc::transaction_too_old,
                           "age " + std::to_string(age_ms) + " ms over transaction_age_max " +
                               std::to_string(limits_->transaction_age_max.count()) + " ms"));
  }
  return {};
}

Result<void> Transaction::check_key(std::string_view key) const {
  if (key.size() <= limits_->key_bytes_max) return {};
  return make_error(errc::key_too_large,
                    "key of " + std::to_string(key.size()) + " bytes over key_bytes_max " +
                        std::to_string(limits_->key_bytes_max));
}

Result<void> Transaction::check_bound(std::string_view key) const {
  if (key.size() <= limits_->key_bytes_max + 1) return {};
  return make_error(errc::key_too_large,
                    "range bound of " + std::to_string(key.size()) + " bytes over key_bytes_max + 1 = " +
                        std::to_string(limits_->key_bytes_max + 1));
}

Result<void> Transaction::count_write(std::size_t bytes) {
  if (mode_ == Mode::snapshot) return make_error(errc::read_only, "write in a snapshot transaction");
  if (bytes_written_ + bytes > limits_->transaction_bytes_max) {
    return make_error(errc::transaction_too_large,
                      std::to_string(bytes_written_ + bytes) + " bytes written over transaction_bytes_max " +
                          std::to_string(limits_->transaction_bytes_max));
  }
  bytes_written_ += bytes;
  return {};
}

Result<void> Transaction::fail(Error error) {
  if (leaves_open(error) || !impl_) return error;
  close();
  if (is(error, errc::conflict)) {
    stats_->conflicts.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats_->transactions_failed.fetch_add(1, std::memory_order_relaxed);
  }
  return error;
}

Result<std::optional<std::string>> Transaction::get(std::string_view key) {
  if (auto ok = usable(); !ok) return ok.error();
  if (auto ok = check_key(key); !ok) return ok.error();
  auto value = impl_->get(key);
  if (!value) return fail(value.error()).error();
  if (*value) bytes_read_ += key.size() + (*value)->size();
  return value;
}

Result<std::optional<std::string>> Transaction::get_held(std::string_view key) {
  if (auto ok = usable(); !ok) return ok.error();
  if (auto ok = check_key(key); !ok) return ok.error();
  auto value = impl_->get_held(key);
  if (!value) return fail(value.error()).error();
  if (*value) bytes_read_ += key.size() + (*value)->size();
  return value;
}

Result<RangeResult> Transaction::get_range(std::string_view begin, std::string_view end, RangeOptions options) {
  RangeResult result;
  auto more = get_range_into(begin, end, options, result.rows);
  if (!more) return more.error();
  result.more = *more;
  return result;
}

Result<bool> Transaction::get_range_into(std::string_view begin, std::string_view end, RangeOptions options,
                                         std::vector<KeyValue>& rows) {
  RowFiller filler(rows);
  auto more = scan(begin, end, options, filler);
  filler.finish();
  return more;
}

Result<bool> Transaction::scan(std::string_view begin, std::string_view end, RangeOptions options, RowSink& sink) {
  if (auto ok = usable(); !ok) return ok.error();
  if (auto ok = check_bound(begin); !ok) return ok.error();
  if (auto ok = check_bound(end); !ok) return ok.error();
  if (begin > end) return make_error(errc::invalid_range, "range begin sorts after its end");
  const std::size_t limit = options.limit == 0 ? limits_->range_rows_max : std::min(options.limit, limits_->range_rows_max);
  if (begin == end) return false;
  const std::size_t bytes_before = sink.bytes();
  auto more = impl_->get_range(begin, end, limit, options.reverse, sink);
  bytes_read_ += sink.bytes() - bytes_before;
  if (!more) return fail(more.error()).error();
  return more;
}

Result<void> Transaction::set(std::string_view key, std::string_view value) {
  if (auto ok = usable(); !ok) return ok;
  if (auto ok = check_key(key); !ok) return ok;
  if (value.size() > limits_->value_bytes_max) {
    return make_error(errc::value_too_large,
                      "value of " + std::to_string(value.size()) + " bytes over value_bytes_max " +
                          std::to_string(limits_->value_bytes_max));
  }
  if (auto ok = count_write(key.size() + value.size()); !ok) return ok;
  if (auto ok = impl_->set(key, value); !ok) return fail(ok.error());
  return {};
}

Result<void> Transaction::clear(std::string_view key) {
  if (auto ok = usable(); !ok) return ok;
  if (auto ok = check_key(key); !ok) return ok;
  if (auto ok = count_write(key.size()); !ok) return ok;
  if (auto ok = impl_->clear(key); !ok) return fail(ok.error());
  return {};
}

Result<void> Transaction::clear_range(std::string_view begin, std::string_view end) {
  if (auto ok = usable(); !ok) return ok;
  if (auto ok = check_bound(begin); !ok) return ok;
  if (auto ok = check_bound(end); !ok) return ok;
  if (begin > end) return make_error(errc::invalid_range, "clear_range begin sorts after its end");
  if (auto ok = count_write(begin.size() + end.size()); !ok) return ok;
  if (begin == end) return {};
  if (auto ok = impl_->clear_range(begin, end); !ok) return fail(ok.error());
  return {};
}

Result<void> Transaction::commit() {
  if (auto ok = usable(); !ok) return ok;
  // Only read-write commits are timed (the latency histogram); a snapshot's commit just ends it.
  const auto commit_started = mode_ == Mode::read_write ? steady_clock::now() : steady_clock::time_point{};
  auto outcome = impl_->commit();
  if (mode_ == Mode::read_write) {
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - commit_started);
    record_commit_latency(*stats_, static_cast<std::uint64_t>(latency.count()));
  }
  if (!outcome) {
    // A failed commit always ends the transaction, whatever the code.
    auto error = outcome.error();
    if (leaves_open(error)) {
      close();
      stats_->transactions_failed.fetch_add(1, std::memory_order_relaxed);
      return error;
    }
    return fail(std::move(error));
  }
  close();
  stats_->transactions_committed.fetch_add(1, std::memory_order_relaxed);
  if (bytes_written_ != 0) stats_->bytes_written.fetch_add(bytes_written_, std::memory_order_relaxed);
  return {};
}

void Transaction::cancel() noexcept {
  if (impl_) close();
}

void Transaction::close() noexcept {
  impl_->cancel();
  impl_.reset();
  if (bytes_read_ != 0) stats_->bytes_read.fetch_add(std::exchange(bytes_read_, 0), std::memory_order_relaxed);
}

// --- Database ---

Database::Database(std::string name, std::unique_ptr<Backend> backend, Limits limits)
    : name_(std::move(name)), backend_(std::move(backend)), limits_(lower_to(limits, backend_->native_limits())) {}

Database::~Database() = default;

std::string_view Database::backend_kind() const noexcept { return backend_->kind(); }

Result<Transaction> Database::begin(Mode mode, Start start) {
  auto impl = backend_->begin(mode, start);
  if (!impl) {
    stats_.transactions_failed.fetch_add(1, std::memory_order_relaxed);
    return impl.error();
  }
  return Transaction(std::move(*impl), mode, limits_, stats_);
}

Result<void> Database::run_erased(const std::function<Result<void>(Transaction&)>& attempt,
                                  const RetryOptions& options, Start start) {
  if (options.attempts_max < 1) return make_error(errc::invalid_option, "RetryOptions::attempts_max must be >= 1");
  Error last{};
  for (int attempt_number = 1; attempt_number <= options.attempts_max; ++attempt_number) {
    if (attempt_number > 1) {
      stats_.retries.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(backoff_for(attempt_number - 1, options));
    }
    auto transaction = begin(Mode::read_write, start);
    if (!transaction) return transaction.error();
    auto outcome = attempt(*transaction);
    if (outcome) outcome = transaction->commit();
    if (outcome) return {};
    transaction->cancel();
    last = outcome.error();
    if (!is(last, errc::conflict) && !is(last, errc::transaction_too_old)) return last;
  }
  return make_error(errc::retry_limit_reached, std::to_string(options.attempts_max) + " attempts; last: " + last.message());
}

}  // namespace plexus::store
