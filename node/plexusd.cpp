// plexusd: one Plexus node process.
//
// This first version runs the secure transport only: it listens, dials the
// peers given with --join, keeps one authenticated connection to each peer it
// knows (redialing with backoff), logs connections going up and down, and
// stops cleanly on SIGINT/SIGTERM. The peer service, admin API and the rest
// of the flags arrive with their issues.
#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <random>

#include "node/mesh.hpp"
#include "plexus/core/node_spec.hpp"
#include "plexus/secure/cluster_key.hpp"

namespace {

struct Flags {
  std::string name;
  std::string listen = "127.0.0.1:0";
  std::string secret_file;
  std::vector<std::string> join;
  bool insecure = false;
  std::string log_level = "info";
};

int fail(const std::string& message) {
  std::cerr << "plexusd: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"plexusd: a Plexus cluster node"};
  app.add_option("--name", flags.name, "node name (unique in the cluster)")->required();
  app.add_option("--listen", flags.listen, "HOST:PORT to listen on; port 0 picks one")
      ->capture_default_str();
  app.add_option("--secret-file", flags.secret_file, "cluster key file (plexus keygen FILE)")
      ->required();
  app.add_option("--join", flags.join, "HOST:PORT of a peer to connect to (repeatable)");
  app.add_flag("--insecure", flags.insecure, "plaintext records (benchmarks/debugging only)");
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("plexusd"));
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  if (auto r = plexus::validate_node_name(flags.name, "--name"); !r) return fail(r.error().message());
  auto listen = plexus::parse_listen_addr(flags.listen);
  if (!listen) return fail("--listen: " + listen.error().message());
  auto key = plexus::secure::read_cluster_key(flags.secret_file);
  if (!key) return fail("--secret-file: " + key.error().message());
  std::vector<plexus::ListenAddr> peers;
  for (const auto& text : flags.join) {
    auto addr = plexus::parse_listen_addr(text);
    if (!addr) return fail("--join: " + addr.error().message());
    peers.push_back(*addr);
  }

  asio::io_context io(1);
  plexus::node::MeshConfig config;
  config.name = flags.name;
  config.instance_id = std::random_device{}() | (std::uint64_t(std::random_device{}()) << 32);
  config.key = *key;
  config.insecure = flags.insecure;
  auto mesh = plexus::node::Mesh::start(io.get_executor(), config, *listen);
  if (!mesh) return fail(mesh.error().message());
  for (const auto& peer : peers) (*mesh)->add_peer(peer);

  std::cout << nlohmann::json{{"spec", plexus::to_json((*mesh)->spec())}}.dump() << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  int signals_seen = 0;
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int number) {
    if (ec) return;
    if (++signals_seen > 1) {
      spdlog::warn("second signal ({}): stopping at once", number);
      std::exit(1);
    }
    spdlog::info("signal {}: stopping", number);
    (*mesh)->stop([&] { io.stop(); });
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  io.run();
  spdlog::info("stopped");
  return 0;
}
