// Counters of why connections were refused or dropped, one per error code,
// shared by a node's listener and all its connections (lock-free).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "plexus/core/errors.hpp"

namespace plexus::transport {

class Counters {
 public:
  void count(std::error_code code) noexcept {
    if (code.category() != plexus_category()) code = make_error_code(errc::io_error);
    const auto index = static_cast<std::size_t>(code.value());
    if (index < slots_.size()) slots_[index].fetch_add(1, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get(errc reason) const noexcept {
    const auto index = static_cast<std::size_t>(reason);
    return index < slots_.size() ? slots_[index].load(std::memory_order_relaxed) : 0;
  }

 private:
  std::array<std::atomic<std::uint64_t>, 128> slots_{};
};

}  // namespace plexus::transport
