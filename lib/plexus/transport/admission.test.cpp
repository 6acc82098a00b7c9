#include "plexus/transport/admission.hpp"

#include <doctest/doctest.h>

#include <random>

using plexus::errc;
using plexus::transport::Admission;
using plexus::transport::AdmissionLimits;
using namespace std::chrono_literals;

namespace {

AdmissionLimits small(std::size_t capacity, std::size_t reserved, std::size_t per_source) {
  return AdmissionLimits{capacity, reserved, per_source, 100ms};
}

}  // namespace

SCENARIO("a full table gives the slot of the weakest pending handshake to the newcomer") {
  // Proves the eviction order: idle before partial, partial before a stranger's hello, oldest first.
  const auto t0 = Admission::Clock::now();
  Admission admission(small(4, 0, 100));
  GIVEN("four pending handshakes at different stages") {
    CHECK(admission.on_accept(1, "10.0.0.1", false, t0).empty());
    CHECK(admission.on_accept(2, "10.0.0.2", false, t0).empty());
    CHECK(admission.on_accept(3, "10.0.0.3", false, t0).empty());
    CHECK(admission.on_accept(4, "10.0.0.4", false, t0).empty());
    admission.on_hello(1, true);
    admission.on_bytes(2);
    admission.on_hello(3, false);
    WHEN("newcomers arrive") {
      const auto first = admission.on_accept(5, "10.0.0.5", false, t0);
      const auto second = admission.on_accept(6, "10.0.0.6", false, t0);
      THEN("the idle one goes, then the youngest idle newcomer is not preferred over older idle ones") {
        REQUIRE(first.size() == 1);
        CHECK(first[0].id == 4);
        CHECK(first[0].reason == errc::evicted_table_full);
        REQUIRE(second.size() == 1);
        CHECK(second[0].id == 5);  // idle, and older than 6
        const auto third = admission.on_accept(7, "10.0.0.7", false, t0);
        CHECK(third[0].id == 6);
        admission.on_bytes(7);
        const auto fourth = admission.on_accept(8, "10.0.0.8", false, t0);
        CHECK(fourth[0].id == 2);  // partial hello, older than 7
        CHECK(admission.pending() == 4);
        CHECK(admission.stage(1) == Admission::Stage::hello_member);
      }
    }
  }
}

SCENARIO("strangers cannot take the slots reserved for members' addresses") {
  // Proves the reserved share: strangers evict each other while members keep their slots.
  const auto t0 = Admission::Clock::now();
  Admission admission(small(4, 2, 100));
  CHECK(admission.on_accept(1, "10.0.0.1", true, t0).empty());
  CHECK(admission.on_accept(2, "6.6.6.6", false, t0).empty());
  CHECK(admission.on_accept(3, "6.6.6.7", false, t0).empty());
  const auto out = admission.on_accept(4, "6.6.6.8", false, t0);
  REQUIRE(out.size() == 1);
  CHECK(out[0].id == 2);
  CHECK(admission.on_accept(5, "10.0.0.2", true, t0).empty());  // a member's address takes the reserved slot
  const auto full = admission.on_accept(6, "10.0.0.3", true, t0);
  REQUIRE(full.size() == 1);
  CHECK(full[0].id == 3);  // at the same stage a stranger makes room before a member
  CHECK(admission.stage(1).has_value());
  CHECK(admission.stage(5).has_value());
}

SCENARIO("one stranger address is held to its own share") {
  // Proves the per-source limit: a flood from one address evicts only its own handshakes.
  const auto t0 = Admission::Clock::now();
  Admission admission(small(100, 0, 3));
  CHECK(admission.on_accept(1, "10.0.0.9", false, t0).empty());
  for (Admission::Id id = 2; id <= 4; ++id) CHECK(admission.on_accept(id, "6.6.6.6", false, t0).empty());
  const auto out = admission.on_accept(5, "6.6.6.6", false, t0);
  REQUIRE(out.size() == 1);
  CHECK(out[0].id == 2);
  CHECK(out[0].reason == errc::evicted_source_limit);
  CHECK(admission.stage(1).has_value());
  CHECK(admission.on_accept(6, "10.0.0.1", true, t0).empty());
  for (Admission::Id id = 7; id <= 20; ++id) CHECK(admission.on_accept(id, "10.0.0.1", true, t0).empty());  // members: no limit
}

SCENARIO("a connection that sends nothing in time is closed") {
  // Proves the first-bytes deadline: only silent entries past it expire.
  const auto t0 = Admission::Clock::now();
  Admission admission(small(10, 0, 10));
  (void)admission.on_accept(1, "a", false, t0);
  (void)admission.on_accept(2, "a", false, t0 + 10ms);
  (void)admission.on_accept(3, "a", false, t0 + 200ms);
  admission.on_bytes(2);
  CHECK(admission.expire(t0 + 50ms).empty());
  const auto out = admission.expire(t0 + 150ms);
  REQUIRE(out.size() == 1);
  CHECK(out[0].id == 1);
  CHECK(out[0].reason == errc::first_bytes_timeout);
  CHECK(admission.pending() == 2);
  admission.on_done(2);
  admission.on_done(2);  // twice is harmless
  CHECK(admission.pending() == 1);
}

TEST_CASE("a keyed peer that says hello at once is never evicted by an idle flood (seeded)") {
  // Proves the flood property on random interleavings: however many idle connections arrive, a handshake
  // that sent its hello within a few arrivals keeps its slot until it completes.
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const auto t0 = Admission::Clock::now();
  Admission admission(small(16, 4, 1000));
  Admission::Id next = 1;
  for (int round = 0; round < 200; ++round) {
    const Admission::Id keyed = next++;
    const bool member = rng() % 2 == 0;
    for (const auto& c : admission.on_accept(keyed, "127.0.0.1", member, t0)) REQUIRE(c.id != keyed);
    const int before_hello = int(rng() % 4);
    const int before_done = int(rng() % 64);
    for (int i = 0; i < before_hello + before_done; ++i) {
      if (i == before_hello) admission.on_hello(keyed, member);
      for (const auto& c : admission.on_accept(next++, "127.0.0.1", rng() % 2 == 0, t0)) {
        if (i >= before_hello) REQUIRE(c.id != keyed);
      }
      REQUIRE(admission.pending() <= 16);
    }
    if (admission.stage(keyed)) admission.on_done(keyed);
  }
}
