// The built-in sink: bounded by count and bytes, sequence numbers survive clear().
#include <doctest/doctest.h>

#include "plexus/node/sink.hpp"

using namespace plexus;
using namespace plexus::node;

namespace {

peer::Received message(const std::string& text) {
  peer::Received r;
  r.from = "a";
  r.channel = "default";
  r.payload.assign(text.begin(), text.end());
  return r;
}

}  // namespace

TEST_CASE("the sink keeps the newest messages within its limits and numbers them") {
  // Proves eviction order, counters and reading after a sequence number.
  Sink sink(3, 1024);
  for (int i = 1; i <= 5; ++i) sink.push(message(std::to_string(i)));
  auto held = sink.read(0, 100);
  REQUIRE(held.size() == 3);
  CHECK(held.front().seq == 3);
  CHECK(held.back().seq == 5);
  CHECK(sink.read(4, 100).size() == 1);
  CHECK(sink.read(0, 2).size() == 2);
  const auto c = sink.counters();
  CHECK(c.received == 5);
  CHECK(c.evicted == 2);
  CHECK(c.held == 3);
  sink.clear();
  CHECK(sink.read(0, 100).empty());
  CHECK(sink.counters().received == 0);
  CHECK(sink.counters().lifetime_received == 5);
  sink.push(message("6"));
  CHECK(sink.read(0, 100).front().seq == 6);
}

TEST_CASE("the sink's byte limit evicts old messages but keeps the newest") {
  // Proves max_bytes bounds the memory while the last message always stays readable.
  Sink sink(100, 10);
  sink.push(message("123456"));
  sink.push(message("abcdef"));
  auto held = sink.read(0, 100);
  REQUIRE(held.size() == 1);
  CHECK(held.front().seq == 2);
  sink.push(message(std::string(50, 'x')));
  CHECK(sink.read(0, 100).size() == 1);
}
