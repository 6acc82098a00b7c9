// bench_tenant_cluster: the tenant manager across three real plexusd
// processes on loopback, with default settings but --tenants. Prints one
// JSON document:
//   - remote call p50/p99 (a counter `get` through the admin API of a node
//     that does not own the tenant) against the same call through the owner's
//     own admin API (local: no peer hop), and an acked /v1/send to the owner's
//     sink (there and the acknowledgement back; acknowledgements are batched,
//     so this is not a bare round trip), all alternated in the same run;
//   - failover: kill -9 of the owner until the tenant answers a call on
//     another node, per round (each round installs a fresh tenant).
// Usage: bench_tenant_cluster --plexusd PATH --plexus PATH [--calls N] [--rounds N]
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/common/process.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
namespace fs = std::filesystem;

struct Node {
  std::string name;
  std::unique_ptr<plexus::tools::Child> child;
  std::string admin, spec;
};

struct Bench {
  std::string plexusd, plexus, token, key;
  fs::path dir;
  std::map<std::string, Node> nodes;

  json post(const std::string& node, const std::string& path, const json& body, int timeout_ms = 10'000) {
    httplib::Client http("http://" + nodes.at(node).admin);
    http.set_bearer_token_auth(token);
    http.set_read_timeout(std::chrono::milliseconds(timeout_ms));
    auto r = http.Post(path, body.dump(), "application/json");
    if (!r) return json{{"http_error", httplib::to_string(r.error())}};
    auto out = json::parse(r->body, nullptr, false);
    if (r->status != 200) out["status"] = r->status;
    return out;
  }
  json get(const std::string& node, const std::string& path) {
    httplib::Client http("http://" + nodes.at(node).admin);
    http.set_bearer_token_auth(token);
    auto r = http.Get(path);
    return r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
  }
  void start(const std::string& name) {
    const std::vector<std::string> argv{plexusd, "--name", name, "--secret-file", key, "--data-dir",
                                        (dir / name).string(), "--tenants", "--log-level", "warn"};
    auto child = plexus::tools::Child::spawn(argv);
    if (!child) throw std::runtime_error(child.error().message());
    Node node{name, std::make_unique<plexus::tools::Child>(std::move(*child)), {}, {}};
    auto line = node.child->read_line(Millis(15'000));
    if (!line) throw std::runtime_error("plexusd " + name + " did not start");
    const auto ready = json::parse(*line);
    node.admin = ready.at("admin").get<std::string>();
    node.spec = ready.at("spec").dump();
    nodes[name] = std::move(node);
  }
  /// Waits (bounded) until `fn` holds.
  template <class F>
  bool until(F fn, Millis limit) {
    const auto end = Clock::now() + limit;
    for (int i = 0; Clock::now() < end && i < 100'000; ++i) {
      if (fn()) return true;
    }
    return false;
  }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(p * double(v.size())))];
}

std::string run_cli(const std::vector<std::string>& argv) {
  auto child = plexus::tools::Child::spawn(argv);
  if (!child) throw std::runtime_error(child.error().message());
  auto line = child->read_line(Millis(10'000));
  child->stop(Millis(5000));
  return line ? *line : "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tenant manager across three plexusd processes"};
  Bench b;
  int calls = 1000, rounds = 2;
  app.add_option("--plexusd", b.plexusd)->required();
  app.add_option("--plexus", b.plexus)->required();
  app.add_option("--calls", calls)->check(CLI::Range(10, 1'000'000));
  app.add_option("--rounds", rounds)->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  char tmpl[] = "/tmp/plexus-bench-tenants-XXXXXX";
  b.dir = ::mkdtemp(tmpl);
  b.key = (b.dir / "k").string();
  run_cli({b.plexus, "keygen", b.key});
  b.token = run_cli({b.plexus, "--secret-file", b.key, "token"}).substr(0, 64);
  const std::vector<std::string> names{"a", "b", "c", "d", "e"};
  for (const auto& n : names) b.start(n);
  for (const auto& n : names) {
    if (n != "a") b.post("a", "/v1/join", {{"spec", json::parse(b.nodes.at(n).spec)}});
  }
  json out{{"bench", "tenant_cluster"}, {"nodes", names.size()}, {"calls", calls}};
  auto whereis = [&](const std::string& from, const std::string& id) -> std::string {
    const auto w = b.get(from, "/v1/tenants/whereis?id=" + id);
    return w.is_object() && w.contains("node") ? w["node"].get<std::string>() : "";
  };
  auto installed = [&](const std::string& from, const std::string& id) {
    return b.until([&] { return b.post(from, "/v1/tenants/install", {{"id", id}, {"module", "counter"}, {"deadline_ms", 5000}}).value("outcome", "") != "" || !whereis(from, id).empty(); }, Millis(30'000)) &&
           b.until([&] { return !whereis(from, id).empty(); }, Millis(30'000));
  };
  if (!installed("a", "t0")) throw std::runtime_error("install t0 did not run");
  const auto owner = whereis("a", "t0");
  std::string caller;
  for (const auto& n : names) if (n != owner) { caller = n; break; }
  std::vector<double> rtt, call, local;
  const json get{{"id", "t0"}, {"request", R"({"op":"get"})"}, {"deadline_ms", 2000}};
  const json send{{"node", owner}, {"server", "sink"}, {"payload", "x"}, {"ack", true}, {"timeout_ms", 2000}};
  for (int i = 0; i < calls; ++i) {  // alternated, so both see the same machine load
    auto t0 = Clock::now();
    b.post(caller, "/v1/send", send);
    rtt.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    t0 = Clock::now();
    if (b.post(caller, "/v1/tenants/call", get).contains("reply")) {
      call.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    t0 = Clock::now();
    if (b.post(owner, "/v1/tenants/call", get).contains("reply")) {
      local.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  }
  out["local_call_us"] = {{"p50", percentile(local, 0.5)}, {"p99", percentile(local, 0.99)}, {"ok", local.size()}};
  out["remote_over_local_call_p50"] = percentile(call, 0.5) / std::max(1.0, percentile(local, 0.5));
  out["peer_acked_send_us"] = {{"p50", percentile(rtt, 0.5)}, {"p99", percentile(rtt, 0.99)}};
  out["remote_call_us"] = {{"p50", percentile(call, 0.5)}, {"p99", percentile(call, 0.99)}, {"ok", call.size()}};
  out["remote_call_over_acked_send_p50"] = percentile(call, 0.5) / std::max(1.0, percentile(rtt, 0.5));
  json failovers = json::array();
  for (int round = 0; round < rounds && b.nodes.size() > 2; ++round) {
    const std::string id = "f" + std::to_string(round);
    const auto first = b.nodes.begin()->first;
    if (!installed(first, id)) break;
    const auto victim = whereis(first, id);
    std::string observer;
    for (const auto& [n, node] : b.nodes) if (n != victim) { observer = n; break; }
    const json ask{{"id", id}, {"request", R"({"op":"get"})"}, {"deadline_ms", 100}};
    const auto t0 = Clock::now();
    ::kill(b.nodes.at(victim).child->pid(), SIGKILL);
    const bool answered = b.until([&] { return b.post(observer, "/v1/tenants/call", ask).contains("reply"); }, Millis(30'000));
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    failovers.push_back({{"killed", victim}, {"answered", answered}, {"ms", ms}, {"now_on", whereis(observer, id)}});
    b.nodes.at(victim).child->stop(Millis(1000));
    b.nodes.erase(victim);
  }
  out["failover_after_kill9"] = failovers;
  std::cout << out.dump() << std::endl;
  for (auto& [n, node] : b.nodes) node.child->stop(Millis(10'000));
  std::error_code ec;
  fs::remove_all(b.dir, ec);
  return 0;
}
