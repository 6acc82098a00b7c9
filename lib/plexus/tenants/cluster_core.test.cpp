// ClusterCore, sans-IO: announcements of modules and running tenants, the
// save hook run before the registry's sends leave (and withholding them when
// it fails), and malformed announcements refused without effect.
#include <doctest/doctest.h>

#include "plexus/tenants/cluster_core.hpp"

using namespace plexus;
using namespace plexus::tenants;

namespace {

const replica::TimePoint t0{};

std::string text(const ClusterCore::Send& send) { return {send.bytes.begin(), send.bytes.end()}; }

/// Delivers every send of `from`'s output to the core named by its `to`.
void deliver(const std::string& from, ClusterCore::Output& out, std::map<std::string, ClusterCore*> cores) {
  for (const auto& send : out.sends) cores.at(send.to)->on_message(from, send.bytes, t0);
}

}  // namespace

TEST_CASE("cluster core: a peer coming up gets our modules and running tenants; changes are announced") {
  // Proves placement learns each peer's modules and running set from announcements, and only real changes count.
  ClusterCore a("a", 1, {"counter"}, {}, t0);
  ClusterCore b("b", 2, {"counter", "kv"}, {}, t0);
  a.on_peer_up("b", t0);
  b.on_peer_up("a", t0);
  auto out_a = a.take();
  auto out_b = b.take();
  CHECK(out_a.nodes_changed);
  deliver("a", out_a, {{"b", &b}});
  deliver("b", out_b, {{"a", &a}});
  CHECK(a.announced().at("b").modules == std::set<std::string, std::less<>>{"counter", "kv"});
  CHECK(b.announced().at("a").modules == std::set<std::string, std::less<>>{"counter"});
  CHECK(b.take().nodes_changed);
  b.set_running({"t1"});
  auto announce = b.take();
  REQUIRE(announce.sends.size() == 1);
  CHECK(text(announce.sends[0]).starts_with(R"({"kind":"node")"));
  deliver("b", announce, {{"a", &a}});
  CHECK(a.announced().at("b").running.contains("t1"));
  CHECK(a.take().nodes_changed);
  b.set_running({"t1"});  // unchanged: nothing sent
  CHECK(b.take().sends.empty());
  a.on_peer_down("b", t0);
  CHECK(a.announced().at("b").running.empty());  // a down node runs nothing reachable
  CHECK(a.announced().at("b").modules.contains("kv"));
}

TEST_CASE("cluster core: the save hook runs before the registry's sends, and a failed save withholds them") {
  // Proves no registry message leaves before what it shows is saved.
  std::vector<std::string> saved;
  bool fail = false;
  ClusterCore a("a", 1, {"counter"}, [&](const RegistryCore::Output& out) -> Result<void> {
    if (fail) return make_error(errc::invalid_argument, "disk full");
    for (const auto& e : out.persist) saved.push_back(e.key);
    return {};
  }, t0);
  a.on_peer_up("b", t0);
  (void)a.take();
  REQUIRE(a.registry().install("t1", "counter", {}, t0));
  auto out = a.take();
  CHECK(saved == std::vector<std::string>{"t1"});
  REQUIRE(out.sends.size() == 1);
  CHECK(text(out.sends[0]).find("entries") != std::string::npos);
  CHECK(out.changes.size() == 1);
  fail = true;
  REQUIRE(a.registry().install("t2", "counter", {}, t0));
  out = a.take();
  CHECK(out.sends.empty());
  REQUIRE(out.errors.size() == 1);
  CHECK(out.errors[0].detail == "disk full");
}

TEST_CASE("cluster core: a malformed announcement is refused and changes nothing") {
  // Proves untrusted peer bytes cannot corrupt placement's view.
  ClusterCore a("a", 1, {"counter"}, {}, t0);
  const std::string bad = R"({"kind":"node","modules":[1],"running":[]})";
  a.on_message("b", std::vector<std::uint8_t>(bad.begin(), bad.end()), t0);
  auto out = a.take();
  REQUIRE(out.errors.size() == 1);
  CHECK(out.errors[0].detail.find("node announcement from b") != std::string::npos);
  CHECK_FALSE(out.nodes_changed);
  CHECK(a.announced().empty());
}
