// The store Backend a context's Database runs on: it holds the context's
// current backend (replaced when the context is stopped and started again),
// makes every begin() wait for the context to be ready (the Gate), tells the
// supervisor when a begin() finds the server unavailable, and for a
// read-only context on LMDB (which has no roles) refuses writes with
// permission_denied as PostgreSQL does for a read-only role.
// Internal to plexus::context.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "plexus/context/supervisor.hpp"
#include "plexus/store/backend.hpp"

namespace plexus::context::detail {

/// A context's state as calls see it: waited on, set by the supervisor shell.
class Gate {
 public:
  explicit Gate(std::string context) : context_(std::move(context)) {}

  void set(State state, std::string reason);
  [[nodiscard]] State state() const { return state_.load(std::memory_order_acquire); }
  [[nodiscard]] std::string reason() const;
  [[nodiscard]] const std::string& context() const { return context_; }
  /// ok once ready; store::errc::unavailable at `timeout`, or at once when
  /// not started or parked. Counts waits and failed waits.
  Result<void> wait_ready(std::chrono::milliseconds timeout);
  /// Waits, at most `timeout`, until the state is no longer `started` (the
  /// first probe answered); returns the state then.
  State wait_verdict(std::chrono::milliseconds timeout);
  [[nodiscard]] std::uint64_t waits() const { return waits_.load(); }
  [[nodiscard]] std::uint64_t wait_failures() const { return wait_failures_.load(); }

 private:
  Error refuse(State state, const std::string& reason) const;

  const std::string context_;
  std::atomic<State> state_{State::not_started};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string reason_;
  std::atomic<std::uint64_t> waits_{0};
  std::atomic<std::uint64_t> wait_failures_{0};
};

class GatedBackend final : public store::Backend {
 public:
  /// `suspect` is called (any thread) when a begin() fails `unavailable`.
  /// `inner` may be null (a context whose server was down at start: the
  /// supervisor sets it once it connects); `kind` and `limits` are then the
  /// backend's to be.
  GatedBackend(std::shared_ptr<Gate> gate, std::chrono::milliseconds call_wait_max, bool refuse_writes,
               std::string_view kind, store::Limits limits, std::shared_ptr<store::Backend> inner,
               std::function<void()> suspect);

  using store::Backend::begin;
  Result<std::unique_ptr<store::BackendTransaction>> begin(store::Mode mode, store::Start start) override;
  [[nodiscard]] std::string_view kind() const noexcept override { return kind_; }
  [[nodiscard]] store::Limits native_limits() const noexcept override { return limits_; }

  /// The backend calls go to (nullptr: stopped).
  void set_inner(std::shared_ptr<store::Backend> inner);
  [[nodiscard]] std::shared_ptr<store::Backend> inner() const;

 private:
  std::shared_ptr<Gate> gate_;
  const std::chrono::milliseconds call_wait_max_;
  const bool refuse_writes_;
  std::string_view kind_;
  store::Limits limits_;
  std::function<void()> suspect_;
  mutable std::mutex mutex_;
  std::shared_ptr<store::Backend> inner_;
};

}  // namespace plexus::context::detail
