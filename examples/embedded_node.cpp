// embedded_node: a C++ program that embeds two Plexus nodes (plexus::Node,
// the runtime and services plexusd runs) on 127.0.0.1. It joins them, tracks
// a presence on one and sees it arrive on the other, writes and reads a key of
// a tenant in a node's datastore, and shuts both down. It prints one JSON line
// and exits 0 when every step worked, 1 (naming the step) otherwise. The test
// suite runs it (test `embedded_node`); README.md and docs/architecture.md
// describe it.
#include <asio/post.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "plexus/node/node.hpp"
#include "plexus/secure/cluster_key.hpp"
#include "plexus/node/presence_host.hpp"
#include "plexus/node/services.hpp"
#include "plexus/store/datastore.hpp"
#include "plexus/store/tenant.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// Longest wait for any one step (a join, a presence to arrive, an io-thread call).
constexpr auto step_deadline = 10s;

/// Run `fn` on `node`'s io thread (where its services live) and return its
/// result, or nullopt when the io thread did not run it within the deadline.
template <class F>
auto on_io(plexus::Node& node, F fn) -> std::optional<std::invoke_result_t<F&>> {
  auto task = std::make_shared<std::packaged_task<std::invoke_result_t<F&>()>>(std::move(fn));
  auto future = task->get_future();
  asio::post(node.io(), [task] { (*task)(); });
  if (future.wait_for(step_deadline) != std::future_status::ready) return std::nullopt;
  return future.get();
}

/// A promise set once from the io thread, waited for with the deadline.
struct Signal {
  std::shared_ptr<std::promise<void>> promise = std::make_shared<std::promise<void>>();
  std::shared_ptr<bool> set = std::make_shared<bool>(false);  // touched on one io thread only
  std::shared_future<void> future = promise->get_future().share();
  void fire() const {
    if (!std::exchange(*set, true)) promise->set_value();
  }
  [[nodiscard]] bool wait() const { return future.wait_for(step_deadline) == std::future_status::ready; }
};

plexus::Result<plexus::node::Settings> settings_for(const std::string& name, const fs::path& dir) {
  plexus::node::NodeOptions options;
  options.name = name;
  options.secret_file = (dir / "cluster.key").string();
  options.data_dir = (dir / name).string();  // the datastore `main` lives in DATA_DIR/store/main
  options.lmdb_map_size_mb = 64;
  options.log_level = "warn";
  return plexus::node::resolve(options);
}

/// A node and the thread that runs its io loop.
struct Running {
  std::unique_ptr<plexus::Node> node;
  std::thread thread;

  void start() {
    thread = std::thread([this] { node->run(); });
  }
  /// Every service stops (newest first), then the loop ends and the thread is joined.
  void shutdown() {
    if (!thread.joinable()) return;
    asio::post(node->io(), [this] { node->stop([this] { node->io().stop(); }); });
    thread.join();
    node->close_admin();
  }
};

// The steps; each returns what went wrong, or "" when it worked.
std::string join_and_wait(Running& a, Running& b) {
  const auto a_spec = a.node->service().spec();  // fixed at start: safe to read here
  Signal a_sees_b, b_sees_a;
  on_io(*a.node, [&] { return a.node->service().on_up("n2", [s = a_sees_b](auto&&...) { s.fire(); }); });
  on_io(*b.node, [&] { return b.node->service().on_up("n1", [s = b_sees_a](auto&&...) { s.fire(); }); });
  const auto joined = on_io(*b.node, [&] { return b.node->service().join(a_spec).ok(); });
  if (!joined || !*joined) return "join: n2 could not add n1";
  if (!a_sees_b.wait() || !b_sees_a.wait()) return "join: the nodes did not see each other up within 10 s";
  return "";
}

std::string track_and_see(Running& a, Running& b) {
  Signal seen;
  const auto watching = on_io(*b.node, [&] {
    auto host = b.node->presence().host();
    if (!host) return false;
    host->watch([s = seen](const plexus::presence::Diff& diff) {
      const auto it = diff.find("lobby");
      if (it == diff.end()) return;
      for (const auto& join : it->second.joins) {
        if (std::string_view(join.key) == "alice") s.fire();
      }
    });
    return true;
  });
  if (!watching || !*watching) return "presence: n2 runs no tracker";
  const auto tracked = on_io(*a.node, [&]() -> std::string {
    auto& host = *a.node->presence().host();
    auto id = host.open(std::chrono::minutes(1));
    if (!id) return id.error().message();
    auto owner = host.owner(*id);
    if (!owner) return owner.error().message();
    auto ref = host.tracker().track(**owner, "lobby", "alice", {{"status", "online"}});
    return ref ? "" : ref.error().message();
  });
  if (!tracked || !tracked->empty()) return "presence: n1 could not track alice: " + tracked.value_or("timed out");
  if (!seen.wait()) return "presence: n2 did not see alice join within 10 s";
  return "";
}

std::string write_and_read(Running& a, std::string& read_back) {
  // Datastores may be called from any thread (here: main's), not only the io thread.
  auto datastore = a.node->store().datastores()->find("main");
  if (!datastore) return "store: " + datastore.error().message();
  auto tenant = (*datastore)->tenants->open_or_create("acme");
  if (!tenant) return "store: " + tenant.error().message();
  const plexus::store::Tuple key{"greeting"};
  auto written = tenant->run([&](plexus::store::TenantTransaction& t) { return t.set(key, "hello from n1"); });
  if (!written) return "store: set: " + written.error().message();
  auto transaction = tenant->begin(plexus::store::Mode::snapshot);
  if (!transaction) return "store: " + transaction.error().message();
  auto value = transaction->get(key);
  if (!value || !value->has_value()) return "store: the key written is not there";
  read_back = **value;
  return read_back == "hello from n1" ? "" : "store: read back '" + read_back + "'";
}

}  // namespace

int main() {
  char pattern[] = "/tmp/plexus-embedded-XXXXXX";
  const fs::path dir = ::mkdtemp(pattern);
  if (auto key = plexus::secure::write_new_cluster_key((dir / "cluster.key").string()); !key) {
    std::cerr << "embedded_node: cannot write the cluster key: " << key.error().message() << "\n";
    return 1;
  }
  Running a, b;
  for (auto [running, name] : {std::pair{&a, "n1"}, std::pair{&b, "n2"}}) {
    auto settings = settings_for(name, dir);
    if (!settings) {
      std::cerr << "embedded_node: " << settings.error().detail << "\n";
      return 1;
    }
    if (running == &a) plexus::node::setup_logging(*settings);  // once per process
    auto node = plexus::Node::start(*settings);
    if (!node) {
      std::cerr << "embedded_node: " << name << ": " << node.error().message() << "\n";
      return 1;
    }
    running->node = std::move(*node);
    running->start();
  }
  std::string read_back;
  std::string problem = join_and_wait(a, b);
  if (problem.empty()) problem = track_and_see(a, b);
  if (problem.empty()) problem = write_and_read(a, read_back);
  const auto stop_start = std::chrono::steady_clock::now();
  b.shutdown();
  a.shutdown();
  const auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stop_start);
  a.node.reset();
  b.node.reset();
  fs::remove_all(dir);
  if (!problem.empty()) {
    std::cerr << "embedded_node: " << problem << "\n";
    return 1;
  }
  std::cout << nlohmann::json{{"joined", true}, {"presence_seen", true}, {"kv", read_back},
                              {"shutdown_ms", stop_ms.count()}}.dump()
            << std::endl;
  return 0;
}
