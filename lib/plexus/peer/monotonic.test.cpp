// MonotonicBuffer: newest frame per key wins, order of first arrival is kept, and it is bounded.
#include <doctest/doctest.h>

#include "plexus/peer/monotonic.hpp"

using plexus::peer::MonotonicBuffer;

TEST_CASE("a newer frame for a key replaces the waiting one") {
  // Proves monotonic semantics: only the newest value per key is sent.
  MonotonicBuffer buffer(16);
  CHECK_FALSE(buffer.put(1, {10}));
  CHECK_FALSE(buffer.put(2, {20}));
  CHECK(buffer.put(1, {11}));
  CHECK(buffer.put(1, {12}));
  std::vector<std::vector<std::uint8_t>> sent;
  buffer.drain([&](const auto& frame) { sent.push_back(frame); return true; });
  CHECK(sent == std::vector<std::vector<std::uint8_t>>{{12}, {20}});
  CHECK(buffer.replaced() == 2);
  CHECK(buffer.empty());
}

TEST_CASE("drain stops when the connection refuses and resumes later") {
  // Proves frames are not lost when the outbox is still full.
  MonotonicBuffer buffer(16);
  buffer.put(1, {1});
  buffer.put(2, {2});
  int accepted = 0;
  buffer.drain([&](const auto&) { return accepted++ < 1; });
  CHECK(buffer.size() == 1);
  std::vector<std::uint8_t> last;
  buffer.drain([&](const auto& frame) { last = frame; return true; });
  CHECK(last == std::vector<std::uint8_t>{2});
}

TEST_CASE("the number of waiting keys is bounded") {
  // Proves a flood of distinct keys cannot grow the buffer without limit.
  MonotonicBuffer buffer(3);
  for (std::uint64_t k = 0; k < 10; ++k) buffer.put(k, {std::uint8_t(k)});
  CHECK(buffer.size() == 3);
  CHECK(buffer.evicted() == 7);
  std::vector<std::uint8_t> keys;
  buffer.drain([&](const auto& frame) { keys.push_back(frame[0]); return true; });
  CHECK(keys == std::vector<std::uint8_t>{7, 8, 9});
}
