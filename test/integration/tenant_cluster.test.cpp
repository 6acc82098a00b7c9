// The tenant manager across real plexusd processes on loopback, driven only
// through the plexus CLI (and raw HTTP for malformed requests): a counter
// tenant installed from one node answers calls from every node; after kill -9
// of its owner it answers on another node with its last snapshot (the nodes
// share one LMDB datastore); a graceful leave hands it off with its state; a
// partition stops it on the minority side while the majority keeps or takes
// it, and the heal leaves exactly one owner; the registry survives a full
// restart; bad input gets a typed 4xx naming the field; a node joining a
// running cluster takes no tenant (sticky placement) unless rebalancing is
// on, and then within its rate; a SIGSTOPped owner that
// wakes after its lease expired is fenced.
#include <httplib.h>
#include <signal.h>

#include <set>

#include "node_harness.hpp"

using namespace plexus::testing;

namespace {

const std::vector<std::string> names{"a", "b", "c"};

struct Cluster {
  TempDir dir;
  Cli cli;
  std::map<std::string, std::unique_ptr<NodeProcess>> nodes;

  Cluster() { cli.secret_file = new_key(cli, dir.path); }

  /// Node `name` with its data dir, sharing one LMDB datastore for tenant key spaces.
  NodeProcess& start(const std::string& name, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"--name", name, "--secret-file", cli.secret_file, "--data-dir",
                                  (dir.path / name).string(), "--tenants", "--tenant-stable-after-ms", "200",
                                  "--tenant-lease-ttl-ms", "600", "--datastore",
                                  "shared=lmdb:" + (dir.path / "shared").string(), "--tenant-datastore", "shared"};
    for (const auto& a : fast_timers()) args.push_back(a);
    for (const auto& a : extra) args.push_back(a);
    nodes[name] = NodeProcess::start(args);
    return *nodes[name];
  }
  void start_all() {
    for (const auto& n : names) start(n);
    std::vector<std::string> update{"update-members"};
    for (const auto& n : names) {
      if (n != "a") update.push_back(nodes[n]->spec);
    }
    const auto joined = cli.at(admin("a"), update);
    REQUIRE_MESSAGE(joined.exit_code == 0, joined.err);
    REQUIRE(eventually([&] { return all_up(cli, live(), live_names()); }));
  }
  std::vector<const NodeProcess*> live() const {
    std::vector<const NodeProcess*> out;
    for (const auto& [n, p] : nodes) out.push_back(p.get());
    return out;
  }
  std::vector<std::string> live_names() const {
    std::vector<std::string> out;
    for (const auto& [n, p] : nodes) out.push_back(n);
    return out;
  }
  const std::string& admin(const std::string& name) const { return nodes.at(name)->admin; }
  CommandResult tenant(const std::string& node, std::vector<std::string> args) const {
    args.insert(args.begin(), "tenant");
    return cli.at(admin(node), args);
  }
  /// The counter's value after `op` through node `node`, or nullopt when the call failed.
  std::optional<std::int64_t> counter(const std::string& node, const std::string& op, int deadline_ms = 2000) const {
    const auto r = tenant(node, {"call", "t1", R"({"op":")" + op + R"("})", "--deadline-ms", std::to_string(deadline_ms)});
    if (r.exit_code != 0) return std::nullopt;
    return json::parse(json::parse(r.out).at("reply").get<std::string>()).at("value").get<std::int64_t>();
  }
  std::optional<std::string> whereis(const std::string& node, const std::string& id = "t1") const {
    const auto r = tenant(node, {"whereis", id});
    if (r.exit_code != 0) return std::nullopt;
    return json::parse(r.out).at("node").get<std::string>();
  }
  /// The nodes that announce running `id`, as `node` sees them.
  std::set<std::string> runners(const std::string& node, const std::string& id = "t1") const {
    std::set<std::string> out;
    const auto r = tenant(node, {"nodes"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);  // an empty answer must mean "runs nowhere", not a failed read
    const auto answer = json::parse(r.out);
    for (const auto& n : answer.at("nodes")) {
      for (const auto& t : n.at("running")) {
        if (t == id && n.at("up").get<bool>()) out.insert(n.at("name").get<std::string>());
      }
    }
    return out;
  }
  void kill9(const std::string& name) {
    REQUIRE(::kill(nodes.at(name)->pid(), SIGKILL) == 0);
    REQUIRE(eventually([&] { return nodes.at(name)->try_wait().has_value(); }, Millis(5000)));
    nodes.erase(name);
  }
};

void install_counter(Cluster& c, const std::string& from) {
  const auto installed = c.tenant(from, {"install", "counter", "t1", "--deadline-ms", "10000"});
  REQUIRE_MESSAGE(installed.exit_code == 0, installed.err);
  CHECK(json::parse(installed.out).at("outcome") == "ok");
}

}  // namespace

TEST_CASE("install from one node, call from every node; kill -9 of the owner: it answers elsewhere with its last snapshot") {
  // Proves calls are routed to the one owner from any node, and a crashed owner's tenant resumes from its snapshot.
  Cluster c;
  c.start_all();
  install_counter(c, "b");
  std::int64_t expected = 0;
  for (const auto& n : names) {
    const auto value = c.counter(n, "incr");
    REQUIRE(value.has_value());
    CHECK(*value == ++expected);
  }
  const auto owner = c.whereis("a");
  REQUIRE(owner.has_value());
  for (const auto& n : names) CHECK(c.whereis(n) == owner);  // every node agrees
  c.kill9(*owner);
  const std::string survivor = *owner == "a" ? "b" : "a";
  std::optional<std::int64_t> after;
  REQUIRE(eventually([&] { return (after = c.counter(survivor, "get", 1000)).has_value(); }, Millis(15'000)));
  CHECK(*after == expected);  // the last snapshot, not a fresh state
  const auto moved = c.whereis(survivor);
  REQUIRE(moved.has_value());
  CHECK(*moved != *owner);
}

TEST_CASE("graceful leave of the owner hands the tenant off with its state") {
  // Proves a leaving owner stops its tenant with a final snapshot and another node resumes it.
  Cluster c;
  c.start_all();
  install_counter(c, "a");
  REQUIRE(c.counter("a", "incr") == 1);
  REQUIRE(c.counter("b", "incr") == 2);
  const auto owner = c.whereis("a");
  REQUIRE(owner.has_value());
  const auto left = c.cli.at(c.admin(*owner), {"leave"});
  REQUIRE_MESSAGE(left.exit_code == 0, left.err);
  const std::string other = *owner == "a" ? "b" : "a";
  std::optional<std::string> moved;
  REQUIRE(eventually([&] { return (moved = c.whereis(other)).has_value() && *moved != *owner; }, Millis(15'000)));
  CHECK(c.counter(other, "get", 3000) == 2);
}

TEST_CASE("partition: the minority stops the tenant, the majority keeps or takes it; the heal leaves one owner") {
  // Proves the majority policy: at most one side runs the tenant, and exactly one owner after the heal.
  Cluster c;
  c.start_all();
  install_counter(c, "a");
  REQUIRE(c.counter("a", "incr") == 1);
  const auto owner = c.whereis("a");
  REQUIRE(owner.has_value());
  // Cut the owner off from both others: it is the minority.
  std::vector<std::uint64_t> refs;
  for (const auto& n : names) {
    if (n == *owner) continue;
    refs.push_back(c.cli.json_at(c.admin(*owner), {"partition", "inject", n}).at("ref").get<std::uint64_t>());
  }
  const std::string majority = *owner == "a" ? "b" : "a";
  REQUIRE(eventually([&] { return c.runners(*owner).empty(); }, Millis(10'000)));  // minority stopped it
  std::optional<std::string> taken;
  REQUIRE(eventually([&] { return (taken = c.whereis(majority)).has_value() && *taken != *owner; }, Millis(15'000)));
  CHECK(c.counter(majority, "incr", 3000) == 2);
  // The minority answers unavailable (timeout at its deadline) rather than running it.
  CHECK_FALSE(c.counter(*owner, "get", 500).has_value());
  for (const auto ref : refs) c.cli.json_at(c.admin(*owner), {"partition", "resolve", std::to_string(ref)});
  REQUIRE(eventually([&] { return all_up(c.cli, c.live(), c.live_names()); }));
  // After the heal: one owner, the same seen from every node, and the state of the majority.
  REQUIRE(eventually([&] {
    std::set<std::string> seen;
    for (const auto& n : names) {
      const auto r = c.runners(n);
      if (r.size() != 1) return false;
      seen.insert(*r.begin());
    }
    return seen.size() == 1;
  }, Millis(15'000)));
  CHECK(c.counter(*owner, "get", 3000) == 2);
}

TEST_CASE("the registry survives a full restart; bad input is refused naming the field") {
  // Proves an acknowledged install is kept across a restart of every node, and malformed requests fail alone.
  Cluster c;
  c.start_all();
  install_counter(c, "c");
  CHECK(c.tenant("a", {"install", "counter", "t1"}).err.find("already_exists") != std::string::npos);
  CHECK(c.tenant("a", {"install", "nosuch", "t2"}).err.find("unknown_module") != std::string::npos);
  CHECK(c.tenant("a", {"call", "missing", "x", "--deadline-ms", "500"}).err.find("tenant_not_found") != std::string::npos);
  httplib::Client http("http://" + c.admin("a"));
  http.set_bearer_token_auth(c.cli.run({"--secret-file", c.cli.secret_file, "token"}).out.substr(0, 64));
  const auto bad = http.Post("/v1/tenants/install", R"({"id":"t3","module":"counter","config":[1]})", "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(bad->body.find("config") != std::string::npos);
  const auto not_json = http.Post("/v1/tenants/call", R"({"id": "t1", "request": )", "application/json");
  REQUIRE(not_json);
  CHECK(not_json->status == 400);
  for (const auto& n : names) CHECK(c.nodes.at(n)->stop() == 0);
  c.nodes.clear();
  c.start_all();
  REQUIRE(eventually([&] { return c.counter("b", "get", 1000).has_value(); }, Millis(15'000)));
  const auto list = json::parse(c.tenant("a", {"list"}).out).at("tenants");
  REQUIRE(list.size() == 1);
  CHECK(list[0].at("id") == "t1");
}

namespace {

void install(Cluster& c, const std::string& from, const std::string& id) {
  const auto installed = c.tenant(from, {"install", "counter", id, "--deadline-ms", "10000"});
  REQUIRE_MESSAGE(installed.exit_code == 0, installed.err);
}

/// The value of an unlabelled counter in `node`'s /metrics, or -1 when absent.
std::int64_t metric(const Cluster& c, const std::string& node, const std::string& name) {
  const auto r = c.cli.at(c.admin(node), {"metrics"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto at = r.out.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(r.out.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("a node joining a running 2-node cluster takes no tenant: no handoff, whereis unchanged") {
  // Proves sticky placement in plexusd: a join moves no running tenant, while tenants installed after it do land on the joiner.
  Cluster c;
  c.start("a");
  c.start("b");
  REQUIRE(c.cli.at(c.admin("a"), {"update-members", c.nodes.at("b")->spec}).exit_code == 0);
  REQUIRE(eventually([&] { return all_up(c.cli, c.live(), c.live_names()); }));
  std::vector<std::string> before_ids;
  for (int i = 0; i < 12; ++i) before_ids.push_back("t" + std::to_string(i));
  for (const auto& id : before_ids) install(c, "a", id);
  std::map<std::string, std::string> before;
  for (const auto& id : before_ids) {
    std::optional<std::string> at;
    REQUIRE(eventually([&] { return (at = c.whereis("b", id)).has_value(); }, Millis(10'000)));
    before[id] = *at;
  }
  c.start("c");
  const auto joined = c.cli.at(c.admin("a"), {"update-members", c.nodes.at("b")->spec, c.nodes.at("c")->spec});
  REQUIRE_MESSAGE(joined.exit_code == 0, joined.err);
  REQUIRE(eventually([&] { return all_up(c.cli, c.live(), c.live_names()); }));
  // The joiner takes part in placement: of new tenants, some land on it (rendezvous over three).
  std::vector<std::string> after_ids;
  for (int i = 0; i < 12; ++i) after_ids.push_back("u" + std::to_string(i));
  for (const auto& id : after_ids) install(c, "c", id);
  REQUIRE(eventually([&] {
    for (const auto& id : after_ids) {
      if (c.whereis("a", id) == "c") return true;
    }
    return false;
  }, Millis(10'000)));
  for (const auto& id : before_ids) {
    for (const auto& n : {"a", "b", "c"}) {
      CHECK_MESSAGE(c.whereis(n, id) == before.at(id), id, " seen from ", n);
      CHECK(c.runners(n, id) == std::set<std::string>{before.at(id)});
    }
  }
  for (const auto& n : {"a", "b"}) CHECK(metric(c, n, "plexus_tenant_handoffs_total") == 0);
  CHECK(metric(c, "c", "plexus_tenant_handoffs_total") == 0);
}

TEST_CASE("SIGSTOP of the owner on a shared LMDB datastore: the tenant runs elsewhere; woken, the old owner's writes are fenced") {
  // Proves at most one active owner: a paused owner that wakes after its lease expired stops writing, and only the new owner's counter state survives.
  Cluster c;
  c.start_all();
  install_counter(c, "a");
  REQUIRE(c.counter("a", "incr") == 1);
  const auto owner = c.whereis("a");
  REQUIRE(owner.has_value());
  const std::string other = *owner == "a" ? "b" : "a";
  REQUIRE(::kill(c.nodes.at(*owner)->pid(), SIGSTOP) == 0);
  std::optional<std::string> moved;
  // The new owner starts it only once the paused owner's lease (600 ms) expired: lease_held until then.
  REQUIRE(eventually([&] { return (moved = c.whereis(other)).has_value() && *moved != *owner; }, Millis(15'000)));
  REQUIRE(eventually([&] { return c.counter(other, "incr", 1000).has_value(); }, Millis(10'000)));
  const auto value = c.counter(other, "get", 3000);
  REQUIRE(value.has_value());
  CHECK(*value >= 2);  // resumed from the paused owner's snapshot (1), then incremented
  REQUIRE(::kill(c.nodes.at(*owner)->pid(), SIGCONT) == 0);
  REQUIRE(eventually([&] { return all_up(c.cli, c.live(), c.live_names()); }, Millis(15'000)));
  // The woken owner's lease renewal is refused (another lease, higher epoch): the tenant
  // ends there by itself (not by a plan's stop), and every node sees one runner, the new one.
  REQUIRE(eventually([&] {
    for (const auto& n : names) {
      if (c.runners(n) != std::set<std::string>{*moved}) return false;
    }
    return true;
  }, Millis(15'000)));
  // Either its renewal was refused first (the tenant ended by itself), or its plan stopped it
  // (the new owner announced it) and the final snapshot of that stop was refused.
  const auto& woken = *c.nodes.at(*owner);
  CHECK(eventually([&] {
    return woken.log_contains("tenant t1: ended here by itself") || woken.log_contains("tenant t1: stop: tenant 't1': fenced");
  }, Millis(5'000)));
  // Only the new owner's counter state survives, read through every node, the woken one included.
  for (const auto& n : names) CHECK(c.counter(n, "get", 3000) == value);
  CHECK(c.counter(*owner, "incr", 3000) == *value + 1);
}

TEST_CASE("opt-in rebalancing: with --tenant-rebalance-per-s the old owners hand tenants to a joiner, at most that rate") {
  // Proves rebalancing moves running tenants onto a joining node through graceful handoffs, bounded by the rate, each still running once with its state.
  Cluster c;
  const std::vector<std::string> rebalance{"--tenant-rebalance-per-s", "2"};
  c.start("a", rebalance);
  c.start("b", rebalance);
  REQUIRE(c.cli.at(c.admin("a"), {"update-members", c.nodes.at("b")->spec}).exit_code == 0);
  REQUIRE(eventually([&] { return all_up(c.cli, c.live(), c.live_names()); }));
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back("t" + std::to_string(i));
  for (const auto& id : ids) install(c, "a", id);
  for (const auto& id : ids) {
    REQUIRE(eventually([&] { return c.whereis("b", id).has_value(); }, Millis(10'000)));
    const auto r = c.tenant("a", {"call", id, R"({"op":"incr"})", "--deadline-ms", "3000"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
  c.start("c", rebalance);
  const auto began = std::chrono::steady_clock::now();
  REQUIRE(c.cli.at(c.admin("a"), {"update-members", c.nodes.at("b")->spec, c.nodes.at("c")->spec}).exit_code == 0);
  REQUIRE(eventually([&] { return all_up(c.cli, c.live(), c.live_names()); }));
  REQUIRE(eventually([&] {
    for (const auto& id : ids) {
      if (c.whereis("a", id) == "c") return true;
    }
    return false;
  }, Millis(15'000)));
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const auto moved = metric(c, "a", "plexus_tenant_rebalanced_total") + metric(c, "b", "plexus_tenant_rebalanced_total");
  CHECK(moved >= 1);
  // Per node: a burst of at most 2, then 2 a second.
  CHECK(double(moved) <= 2 * (2 + 2 * elapsed_s));
  // Every tenant answers, once, with the state it had before it moved.
  for (const auto& id : ids) {
    std::optional<std::int64_t> value;
    REQUIRE(eventually([&] {
      const auto r = c.tenant("b", {"call", id, R"({"op":"get"})", "--deadline-ms", "1000"});
      if (r.exit_code != 0) return false;
      value = json::parse(json::parse(r.out).at("reply").get<std::string>()).at("value").get<std::int64_t>();
      return true;
    }, Millis(15'000)));
    CHECK_MESSAGE(*value == 1, id);
  }
}
