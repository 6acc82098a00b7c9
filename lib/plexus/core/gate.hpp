// Gate: clean shutdown of background work, after Seastar's gate.hh. Every
// background task holds the gate while it runs; close() stops new tasks from
// entering and calls back once the last one has left. Single-threaded, like
// the actor that owns it: no locks, no atomics.
#pragma once

#include <cassert>
#include <cstddef>
#include <functional>
#include <optional>
#include <utility>

namespace plexus {

class Gate {
 public:
  /// Proof that a task is inside; leaving is the destructor. Movable, not copyable.
  class Holder {
   public:
    Holder(Holder&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Holder& operator=(Holder&& other) noexcept {
      if (this != &other) {
        release();
        gate_ = std::exchange(other.gate_, nullptr);
      }
      return *this;
    }
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    ~Holder() { release(); }
    /// Leave now instead of at destruction.
    void release() noexcept {
      if (auto* gate = std::exchange(gate_, nullptr)) gate->leave();
    }

   private:
    friend class Gate;
    explicit Holder(Gate* gate) noexcept : gate_(gate) {}
    Gate* gate_;
  };

  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  /// Every holder must have left (the owner waits for close()'s callback).
  ~Gate() { assert(inside_ == 0); }

  /// Enter, or nullopt once close() was called.
  [[nodiscard]] std::optional<Holder> try_enter() noexcept {
    if (closed_) return std::nullopt;
    ++inside_;
    return Holder(this);
  }
  /// Refuse new tasks; `done` runs when the last holder leaves (at once if
  /// none is inside). A second close() is a bug.
  void close(std::function<void()> done) {
    assert(!closed_);
    closed_ = true;
    done_ = std::move(done);
    if (inside_ == 0) finish();
  }
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// Tasks holding the gate now.
  [[nodiscard]] std::size_t inside() const noexcept { return inside_; }

 private:
  void leave() noexcept {
    assert(inside_ > 0);
    if (--inside_ == 0 && closed_) finish();
  }
  void finish() noexcept {
    if (auto done = std::exchange(done_, nullptr)) done();
  }

  std::size_t inside_ = 0;
  bool closed_ = false;
  std::function<void()> done_;
};

}  // namespace plexus
