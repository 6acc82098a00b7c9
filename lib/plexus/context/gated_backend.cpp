// The gate and the gated backend of a context (gated_backend.hpp).
#include "plexus/context/gated_backend.hpp"

#include "plexus/store/errors.hpp"

namespace plexus::context::detail {
namespace {

/// A transaction of a read-only LMDB context: reads pass, writes fail.
class RefusingWrites final : public store::BackendTransaction {
 public:
  RefusingWrites(std::unique_ptr<store::BackendTransaction> inner, const std::string& context)
      : inner_(std::move(inner)), context_(context) {}

  Result<std::optional<std::string>> get(std::string_view key) override { return inner_->get(key); }
  Result<std::optional<std::string>> get_held(std::string_view key) override { return inner_->get_held(key); }
  using store::BackendTransaction::get_range;
  Result<bool> get_range(std::string_view begin, std::string_view end, std::size_t limit, bool reverse,
                         store::RowSink& sink) override {
    return inner_->get_range(begin, end, limit, reverse, sink);
  }
  Result<void> set(std::string_view, std::string_view) override { return refuse(); }
  Result<void> clear(std::string_view) override { return refuse(); }
  Result<void> clear_range(std::string_view, std::string_view) override { return refuse(); }
  Result<void> commit() override { return inner_->commit(); }
  void cancel() noexcept override { inner_->cancel(); }

 private:
  [[nodiscard]] Error refuse() const {
    return store::make_error(store::errc::permission_denied, "context " + context_ + " is read_only");
  }
  std::unique_ptr<store::BackendTransaction> inner_;
  std::string context_;
};

}  // namespace

void Gate::set(State state, std::string reason) {
  {
    std::lock_guard lock(mutex_);
    reason_ = std::move(reason);
    state_.store(state, std::memory_order_release);
  }
  changed_.notify_all();
}

std::string Gate::reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

Error Gate::refuse(State state, const std::string& reason) const {
  std::string detail = "context " + context_ + " is " + std::string(to_string(state));
  if (!reason.empty()) detail += ": " + reason;
  return store::make_error(store::errc::unavailable, detail);
}

Result<void> Gate::wait_ready(std::chrono::milliseconds timeout) {
  if (state_.load(std::memory_order_acquire) == State::ready) return {};
  waits_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock lock(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Waiting makes sense only while the supervisor is still trying.
  const auto settled = [&] {
    const State s = state_.load(std::memory_order_acquire);
    return s == State::ready || s == State::not_started || s == State::parked;
  };
  changed_.wait_until(lock, deadline, settled);
  const State now = state_.load(std::memory_order_acquire);
  if (now == State::ready) return {};
  wait_failures_.fetch_add(1, std::memory_order_relaxed);
  return refuse(now, reason_);
}

State Gate::wait_verdict(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return state_.load(std::memory_order_acquire) != State::started; });
  return state_.load(std::memory_order_acquire);
}

GatedBackend::GatedBackend(std::shared_ptr<Gate> gate, std::chrono::milliseconds call_wait_max, bool refuse_writes,
                           std::string_view kind, store::Limits limits, std::shared_ptr<store::Backend> inner,
                           std::function<void()> suspect)
    : gate_(std::move(gate)),
      call_wait_max_(call_wait_max),
      refuse_writes_(refuse_writes),
      kind_(kind),
      limits_(limits),
      suspect_(std::move(suspect)),
      inner_(std::move(inner)) {}

void GatedBackend::set_inner(std::shared_ptr<store::Backend> inner) {
  std::lock_guard lock(mutex_);
  inner_ = std::move(inner);
}

std::shared_ptr<store::Backend> GatedBackend::inner() const {
  std::lock_guard lock(mutex_);
  return inner_;
}

Result<std::unique_ptr<store::BackendTransaction>> GatedBackend::begin(store::Mode mode, store::Start start) {
  if (auto ready = gate_->wait_ready(call_wait_max_); !ready) return ready.error();
  auto backend = inner();
  if (!backend) return store::make_error(store::errc::unavailable, "context stopped");
  auto transaction = backend->begin(mode, start);
  if (!transaction) {
    if (store::is(transaction.error(), store::errc::unavailable) && suspect_) suspect_();
    return transaction.error();
  }
  if (!refuse_writes_) return transaction;
  return std::unique_ptr<store::BackendTransaction>(std::make_unique<RefusingWrites>(std::move(*transaction), gate_->context()));
}

}  // namespace plexus::context::detail
