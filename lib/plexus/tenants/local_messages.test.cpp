// Tests of the local tenant host's message paths on a real pool over real
// LMDB files: noreply calls answered later through the host, Extra::timeout
// and continue driven by the host's one timer, casts, events re-emitted until
// acknowledged, lease renewal sweeps, and the counters for /metrics.
#include <doctest/doctest.h>

#include <thread>

#include "plexus/tenants/local_test_support.hpp"

namespace plexus::tenants {
namespace {

using namespace local_test;
using store::tenant_test::Fixture;
using store::tenant_test::Store;
using Kind = Reply::Kind;
using S = Status;

TEST_CASE("local: a noreply call is answered later through answer(), once") {
  // Proves GenServer.reply through the host: the caller waits, answer() replies, a second answer changes nothing.
  Fixture f;
  if (!f.database) return;
  Node node(f.database, quick_options("node-a"));
  REQUIRE(node.start("t1").value() == Kind::ok);
  auto waiting = node.call_later("t1", "noreply");
  auto from = node.counter->noreply_from();
  REQUIRE(from.has_value());
  CHECK(waiting.wait_for(0s) == std::future_status::timeout);
  node.host->answer("t1", *from, "late");
  CHECK(await(waiting).value() == "late");
  node.host->answer("t1", *from, "again");  // already answered: ignored
  CHECK(node.call("t1", "get").value() == "0");
}

TEST_CASE("local: Extra::timeout fires info through the host's timer; a user info continues with on_continue") {
  // Proves the core's deadlines are driven by the shared timer, and info/continue reach the module in order.
  Fixture f;
  if (!f.database) return;
  Node node(f.database, quick_options("node-a"));
  std::promise<void> fired;
  node.counter->on_run = [](Bytes state) { return RunOutcome::success(std::move(state), Extra::timeout(30ms)); };
  node.counter->on_info = [&fired](const Info& message, Bytes state) {
    if (message.timeout) {
      fired.set_value();
      return MessageOutcome::noreply("9");
    }
    return MessageOutcome::noreply(state + message.message, Extra::continue_with("c"));
  };
  REQUIRE(node.start("t1").value() == Kind::ok);
  auto timeout_fired = fired.get_future();
  REQUIRE(timeout_fired.wait_for(5s) == std::future_status::ready);
  CHECK(node.call("t1", "get").value() == "9");
  node.host->info("t1", "h");
  CHECK(node.call("t1", "get").value() == "9hc");  // info, then its continue, before the call
}

TEST_CASE("local: casts change the state in order; events are re-emitted under one key until acknowledged") {
  // Proves cast delivery on the strand before a later call, and at-least-once events through the host's sink.
  Fixture f;
  if (!f.database) return;
  auto options = quick_options("node-a");
  options.lifecycle.event_retry_initial = 10ms;
  options.lifecycle.event_retry_max = 20ms;
  Node node(f.database, options);
  REQUIRE(node.start("t1").value() == Kind::ok);
  node.host->cast("t1", "add:5");
  node.host->cast("t1", "add:2");
  CHECK(node.call("t1", "get").value() == "7");
  std::string key;
  std::uint64_t seq = 0;
  REQUIRE(node.events.wait([&](const std::vector<LocalEvent>& all) {
    int copies = 0;
    for (const auto& e : all) {
      if (e.kind != LocalEvent::Kind::lifecycle || e.event.kind != EventKind::install) continue;
      key = e.event.key;
      seq = e.event.seq;
      ++copies;
    }
    return copies >= 2;
  }));
  CHECK(key == "t1:1:1");  // tenant, incarnation (the lease epoch), seq
  node.host->ack_event("t1", seq);
  CHECK(node.call("t1", "get").value() == "7");
  REQUIRE(node.host->status("t1").ok());
  CHECK(node.host->status("t1")->counters.event_retries >= 1);
}

TEST_CASE("local: renewal sweeps keep the lease past its ttl, so another host cannot take the tenant") {
  // Proves leases are renewed in the background: after several ttls the owner still holds it, with its epoch.
  Fixture f;
  if (!f.database) return;
  auto options = quick_options("node-a");
  options.lease_ttl = 300ms;
  options.lease_renew_interval = 50ms;
  Node a(f.database, options);
  REQUIRE(a.start("t1").value() == Kind::ok);
  store::Tenants tenants(f.database);
  auto space = tenants.open("t1");
  REQUIRE(space.ok());
  auto first = read_lease(*space);
  REQUIRE((first.ok() && first->has_value()));
  const std::int64_t first_expiry = (*first)->expires_unix_ms;
  bool renewed = false;
  for (int poll = 0; poll < 250 && !renewed; ++poll) {
    auto now = read_lease(*space);
    REQUIRE((now.ok() && now->has_value()));
    renewed = (*now)->expires_unix_ms >= first_expiry + 600;  // two ttls later, still ours
    if (!renewed) std::this_thread::sleep_for(20ms);  // polling the stored lease, not a synchronisation
  }
  REQUIRE(renewed);
  CHECK((**read_lease(*space)).owner == "node-a");
  CHECK((**read_lease(*space)).epoch == 1);
  Node b(Store::open(), quick_options("node-b"));
  CHECK(code_of(b.start("t1", StartMode::resume)) == errc::lease_held);
  CHECK(a.call("t1", "inc").value() == "1");
}

TEST_CASE("local: counters give tenants by module and status, calls and a latency histogram") {
  // Proves the /metrics figures add up: one bucket count per answered call, statuses per module.
  Fixture f;
  if (!f.database) return;
  Node node(f.database, quick_options("node-a"));
  REQUIRE(node.start("t1").value() == Kind::ok);
  node.counter->on_run = [](Bytes state) { return RunOutcome::failure("degraded", std::move(state)); };
  REQUIRE(node.start("t2").value() == Kind::ok);
  REQUIRE(node.events.reached("t2", S::error_occurred));
  for (int i = 0; i < 5; ++i) CHECK(node.call("t1", "get").value() == "0");
  auto counters = node.host->counters();
  CHECK(counters.by_module_status["counter"]["running"] == 1);
  CHECK(counters.by_module_status["counter"]["error_occurred"] == 1);
  CHECK(counters.calls == 5);
  REQUIRE(counters.call_latency_le_us.size() == std::size(call_latency_bounds_us));
  CHECK(counters.call_latency_le_us.back().second == 5);  // every call under the last bound (1 s)
  CHECK(node.host->list().size() == 2);
}

}  // namespace
}  // namespace plexus::tenants
