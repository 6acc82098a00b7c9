// Tests of the local tenant host (LocalTenants) on a real worker pool over
// real LMDB files: every seed result of install, update and uninstall, sync
// and async, with the exact status transitions seen through the host's
// events; typed errors; async work on the pool while the tenant answers.
#include <doctest/doctest.h>

#include "plexus/tenants/local_test_support.hpp"

namespace plexus::tenants {
namespace {

using namespace local_test;
using store::tenant_test::Fixture;
using Kind = Reply::Kind;
using S = Status;

std::optional<std::string> stored_snapshot(store::Database& database, const std::string& id) {
  store::Tenants tenants(std::shared_ptr<store::Database>(&database, [](store::Database*) {}));
  auto tenant = tenants.open(id);
  if (!tenant) return std::nullopt;
  auto got = tenant->run([](store::TenantTransaction& t) { return t.get(store::Tuple{std::string(reserved_element), "snapshot"}); });
  REQUIRE(got.ok());
  return *got;
}

TEST_CASE("local: a sync install, calls, update and uninstall walk the seed's statuses and persist snapshots") {
  // Proves the sync results through the host: statuses in order, replies, snapshots written under the lease, key space cleared.
  Fixture f;
  if (!f.database) return;
  Node node(f.database, quick_options("node-a"));
  REQUIRE(node.start("t1").value() == Kind::ok);
  REQUIRE(node.events.reached("t1", S::running));
  CHECK(node.call("t1", "inc").value() == "1");
  CHECK(node.call("t1", "get").value() == "1");
  CHECK(stored_snapshot(*f.database, "t1") == "1");  // the reply to inc came after its snapshot committed
  REQUIRE(node.update("t1", 2).value() == Kind::ok);
  CHECK(node.call("t1", "get").value() == "101");
  auto status = node.host->status("t1");
  REQUIRE(status.ok());
  CHECK(status->generation == 2);
  CHECK(status->epoch == 1);
  CHECK(stored_snapshot(*f.database, "t1") == "101");
  REQUIRE(node.uninstall("t1").value() == Kind::ok);
  CHECK(node.events.stopped("t1") == "uninstalled");
  CHECK(node.events.statuses("t1") ==
        std::vector<S>{S::installing, S::running, S::updating, S::running, S::uninstalling, S::uninstalled});
  CHECK(code_of(node.host->status("t1")) == errc::tenant_not_found);
  CHECK(code_of(node.call("t1", "get")) == errc::tenant_not_found);
  CHECK(stored_snapshot(*f.database, "t1") == std::nullopt);  // cleared with the key space
  CHECK(node.counter->terminated() == std::vector<std::string>{"uninstall"});
  auto counters = node.host->counters();
  CHECK(counters.snapshots_written >= 3);
  CHECK(counters.calls == 3);  // inc, get, get: the refused one never reached a tenant
}

TEST_CASE("local: async install, update and uninstall answer async, run on the pool and keep the tenant answering") {
  // Proves async work runs off the strand: calls to the tenant (during update) and to others (during install) are answered meanwhile.
  Fixture f;
  if (!f.database) return;
  Node node(f.database, quick_options("node-a"));
  REQUIRE(node.start("other").value() == Kind::ok);
  Gate install_gate, update_gate, uninstall_gate;
  node.counter->on_install = [&](const Tenant&) {
    return Outcome::async([&] { install_gate.pass(); return AsyncResult::success("40"); });
  };
  REQUIRE(node.start("t1").value() == Kind::async);
  REQUIRE(install_gate.wait_blocked());
  CHECK(node.call("other", "inc").value() == "1");  // a pool thread is busy with the install work; the host still answers
  auto waiting = node.call_later("t1", "get");       // no state yet: waits for run
  install_gate.open();
  CHECK(await(waiting).value() == "40");

  node.counter->on_update = [&](const Config&, Bytes state) {
    return Outcome::async([&update_gate, state] { update_gate.pass(); return AsyncResult::success(state + "0"); });
  };
  REQUIRE(node.update("t1", 2).value() == Kind::async);
  REQUIRE(update_gate.wait_blocked());
  CHECK(node.call("t1", "get").value() == "40");  // the tenant answers while its update work runs
  CHECK(node.host->status("t1")->status == S::updating);
  update_gate.open();
  REQUIRE(node.events.reached("t1", S::running));
  CHECK(node.call("t1", "get").value() == "400");

  node.counter->on_uninstall = [&](Bytes) {
    return Outcome::async([&] { uninstall_gate.pass(); return AsyncResult::success("x"); });
  };
  REQUIRE(node.uninstall("t1").value() == Kind::async);
  REQUIRE(uninstall_gate.wait_blocked());
  CHECK(code_of(node.start("t1")) == errc::already_exists);  // still being cleaned up
  uninstall_gate.open();
  CHECK(node.events.stopped("t1") == "uninstalled");
  CHECK(node.events.statuses("t1") == std::vector<S>{S::installing, S::running, S::updating, S::running,
                                                      S::uninstalling, S::uninstalled});
  auto events = node.events.all();
  int install_ok = 0, update_ok = 0, uninstall_ok = 0;
  for (const auto& e : events) {
    if (e.kind != LocalEvent::Kind::lifecycle || e.tenant != "t1" || !e.event.ok) continue;
    install_ok += e.event.kind == EventKind::install;
    update_ok += e.event.kind == EventKind::update;
    uninstall_ok += e.event.kind == EventKind::uninstall;
  }
  CHECK((install_ok >= 1 && update_ok >= 1 && uninstall_ok >= 1));
  REQUIRE(node.start("t1").value() == Kind::async);  // gone: may be installed again
}

TEST_CASE("local: error results: sync install error removes, async install error parks, run and update errors keep it") {
  // Proves each error shape of the seed through the host, with its status and typed answer.
  Fixture f;
  if (!f.database) return;
  Node node(f.database, quick_options("node-a"));
  node.counter->on_install = [](const Tenant&) { return Outcome::error("no quota"); };
  auto refused = node.start("sync-err");
  CHECK(code_of(refused) == errc::module_error);
  CHECK(refused.error().detail.find("no quota") != std::string::npos);
  CHECK(node.events.stopped("sync-err") == "uninstalled");
  CHECK(node.events.statuses("sync-err") == std::vector<S>{S::installing, S::uninstalled});

  node.counter->on_install = [](const Tenant&) { return Outcome::async([] { return AsyncResult::failure("disk full"); }); };
  REQUIRE(node.start("async-err").value() == Kind::async);
  REQUIRE(node.events.reached("async-err", S::error_occurred));
  CHECK(node.host->status("async-err")->parked);
  CHECK(node.host->status("async-err")->last_error == "disk full");
  CHECK(code_of(node.call("async-err", "get")) == errc::unavailable);

  node.counter->on_install = [](const Tenant&) { return Outcome::ok("5"); };
  node.counter->on_run = [](Bytes state) { return RunOutcome::failure("degraded", state); };
  REQUIRE(node.start("run-err").value() == Kind::ok);
  REQUIRE(node.events.reached("run-err", S::error_occurred));
  CHECK(node.call("run-err", "get").value() == "5");  // alive in error_occurred

  node.counter->on_run = [](Bytes state) { return RunOutcome::success(std::move(state)); };
  node.counter->on_update = [](const Config&, Bytes) { return Outcome::error("bad config"); };
  REQUIRE(node.start("upd-err").value() == Kind::ok);
  REQUIRE(node.events.reached("upd-err", S::running));
  CHECK(code_of(node.update("upd-err", 2)) == errc::module_error);
  CHECK(node.events.statuses("upd-err") == std::vector<S>{S::installing, S::running, S::updating, S::running});
  node.counter->on_uninstall = [](Bytes) { return Outcome::error("busy"); };
  CHECK(code_of(node.uninstall("upd-err")) == errc::module_error);
  CHECK(node.call("upd-err", "get").value() == "5");
}

TEST_CASE("local: typed errors for unknown tenants and modules, duplicates, bad ids and a full node") {
  // Proves bad input gets a precise typed error and nothing else changes.
  Fixture f;
  if (!f.database) return;
  auto options = quick_options("node-a");
  options.tenants_max = 2;
  Node node(f.database, options);
  CHECK(code_of(node.call("nobody", "get")) == errc::tenant_not_found);
  CHECK(code_of(node.update("nobody", 2)) == errc::tenant_not_found);
  CHECK(code_of(node.stop("nobody")) == errc::tenant_not_found);
  std::promise<Result<Reply::Kind>> p;
  auto fut = p.get_future();
  node.host->start(Tenant{"t9", "no-such-module", {}, 1}, StartMode::install, Node::in(1'000ms),
                   [&p](Result<Reply::Kind> r) { p.set_value(std::move(r)); });
  CHECK(code_of(await(fut)) == errc::unknown_module);
  auto empty = node.start("");
  CHECK(code_of(empty) == errc::invalid_argument);
  CHECK(empty.error().detail.rfind("id: ", 0) == 0);
  REQUIRE(node.start("t1").value() == Kind::ok);
  CHECK(code_of(node.start("t1")) == errc::already_exists);
  REQUIRE(node.start("t2").value() == Kind::ok);
  CHECK(code_of(node.start("t3")) == errc::unavailable);  // tenants_max
  CHECK(code_of(node.start("t4", StartMode::resume)) == errc::unavailable);
  CHECK(node.host->size() == 2);
  CHECK(node.call("t1", "get").value() == "0");
  auto bad_options = quick_options("");
  auto made = LocalTenants::create(node.pool.get_executor(), f.database, node.modules, bad_options);
  REQUIRE_FALSE(made.ok());
  CHECK(made.error().detail == "LocalOptions::node is empty");
}

}  // namespace
}  // namespace plexus::tenants
