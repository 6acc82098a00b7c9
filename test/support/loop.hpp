// Test helper: run an io_context until a condition holds or a deadline passes
// (the way tests wait: on a condition, never on a sleep).
#pragma once

#include <asio/io_context.hpp>

#include <chrono>

namespace plexus::testing {

template <class Predicate>
bool run_until(asio::io_context& io, Predicate&& done,
               std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace plexus::testing
