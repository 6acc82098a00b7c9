#include "plexus/peer/placement.hpp"

#include <doctest/doctest.h>

namespace plexus::peer {
namespace {

using namespace std::chrono_literals;

// `n` batches of one call each on the strand, each taking `took`.
void on_strand(HandlerPlacement& p, int n, std::chrono::nanoseconds took) {
  for (int i = 0; i < n; ++i) {
    REQUIRE_FALSE(p.run_inline(1));
    p.posted();
    p.ran_on_strand(1, took);
    p.strand_done();
  }
}

TEST_CASE("a server starts on its strand and moves inline after a streak of quick calls") {
  HandlerPlacement p({.budget = 200us, .promote_after = 4});
  on_strand(p, 4, 10us);
  CHECK(p.run_inline(1));
  CHECK(p.ran_inline(50us));
  CHECK(p.run_inline(1));
}

TEST_CASE("a slow call on the strand restarts the streak") {
  HandlerPlacement p({.budget = 200us, .promote_after = 4});
  on_strand(p, 3, 10us);
  on_strand(p, 1, 5ms);
  on_strand(p, 3, 10us);
  CHECK_FALSE(p.run_inline(1));
  p.ran_on_strand(1, 10us);
  CHECK(p.run_inline(1));
}

TEST_CASE("it waits for the strand to drain before it runs inline, so calls keep their order") {
  HandlerPlacement p({.budget = 200us, .promote_after = 2});
  p.posted();
  p.ran_on_strand(1, 1us);
  p.posted();  // a second batch is queued behind the first
  p.ran_on_strand(1, 1us);
  p.strand_done();
  CHECK_FALSE(p.run_inline(1));  // one batch still in flight
  p.strand_done();
  CHECK(p.run_inline(1));
}

TEST_CASE("a slow inline call sends it back to the strand, and each return needs twice the streak") {
  HandlerPlacement p({.budget = 200us, .promote_after = 2, .promote_after_max = 8});
  on_strand(p, 2, 1us);
  REQUIRE(p.run_inline(1));
  CHECK_FALSE(p.ran_inline(1ms));
  CHECK(p.demotions() == 1);
  CHECK(p.promote_after() == 4);
  on_strand(p, 4, 1us);
  REQUIRE(p.run_inline(1));
  CHECK_FALSE(p.ran_inline(1ms));
  CHECK(p.promote_after() == 8);
  on_strand(p, 8, 1us);
  REQUIRE(p.run_inline(1));
  CHECK_FALSE(p.ran_inline(1ms));
  CHECK(p.promote_after() == 8);  // capped
  CHECK(p.demotions() == 3);
}

TEST_CASE("a large batch goes to the strand while the server runs inline, and small ones wait for it to drain") {
  HandlerPlacement p({.budget = 200us, .promote_after = 2, .inline_batch_max = 8});
  on_strand(p, 2, 1us);
  REQUIRE(p.run_inline(8));
  CHECK_FALSE(p.run_inline(9));  // the service thread is the busy one: share the work
  p.posted();
  CHECK(p.inline_now());
  CHECK_FALSE(p.run_inline(1));  // behind the batch in flight, to keep the order
  p.ran_on_strand(1, 1us);
  p.strand_done();
  CHECK(p.run_inline(1));
}

TEST_CASE("a batch on the strand counts as quick calls only when the whole batch was quick") {
  HandlerPlacement p({.budget = 200us, .promote_after = 64});
  p.posted();
  p.ran_on_strand(100, 150us);  // 100 calls within the budget in all: 100 quick calls
  p.strand_done();
  CHECK(p.run_inline(1));
  HandlerPlacement q({.budget = 200us, .promote_after = 64});
  q.posted();
  q.ran_on_strand(100, 300us);  // one of them may have been slow
  q.strand_done();
  CHECK_FALSE(q.run_inline(1));
}

}  // namespace
}  // namespace plexus::peer
