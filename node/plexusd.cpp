// plexusd: one Plexus node process. It runs the peer service (membership,
// channels, messaging), prints one JSON line with its node spec when ready,
// and stops gracefully on SIGINT/SIGTERM (a second signal stops at once).
#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "plexus/core/errors.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/secure/cluster_key.hpp"

namespace {

using plexus::Result;

struct Flags {
  std::string name;
  std::vector<std::string> listen{"127.0.0.1:0"};
  std::string secret_file;
  std::vector<std::string> join;
  std::vector<std::string> channels;
  std::string data_dir;
  bool insecure = false;
  int heartbeat_ms = 200;
  int peer_timeout_ms = 1000;
  std::string log_level = "info";
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "plexusd: " << message << "\n";
  std::exit(2);
}

// NAME:PARALLELISM[:monotonic]
std::pair<std::string, plexus::ChannelSpec> parse_channel(const std::string& text) {
  const auto first = text.find(':');
  if (first == std::string::npos) fail("--channel " + text + ": expected NAME:PARALLELISM[:monotonic]");
  const std::string name = text.substr(0, first);
  std::string rest = text.substr(first + 1);
  plexus::ChannelSpec spec;
  if (const auto second = rest.find(':'); second != std::string::npos) {
    if (rest.substr(second + 1) != "monotonic") fail("--channel " + text + ": third part must be 'monotonic'");
    spec.monotonic = true;
    rest = rest.substr(0, second);
  }
  try {
    const long parallelism = std::stol(rest);
    if (parallelism < 1 || parallelism > long(plexus::channel_parallelism_max)) throw std::out_of_range("p");
    spec.parallelism = std::uint32_t(parallelism);
  } catch (const std::exception&) {
    fail("--channel " + text + ": parallelism must be 1..256");
  }
  if (auto ok = plexus::validate_channel_name(name, "--channel"); !ok) fail(ok.error().message());
  return {name, spec};
}

plexus::peer::Config make_config(const Flags& flags) {
  plexus::peer::Config config;
  if (auto ok = plexus::validate_node_name(flags.name, "--name"); !ok) fail(ok.error().message());
  config.name = flags.name;
  config.listen.clear();
  for (const auto& text : flags.listen) {
    auto addr = plexus::parse_listen_addr(text);
    if (!addr) fail("--listen: " + addr.error().message());
    config.listen.push_back(*addr);
  }
  auto key = plexus::secure::read_cluster_key(flags.secret_file);
  if (!key) fail("--secret-file: " + key.error().message());
  config.key = *key;
  for (const auto& text : flags.channels) config.channels.insert(parse_channel(text));
  config.insecure = flags.insecure;
  config.data_dir = flags.data_dir;
  config.heartbeat_interval = plexus::peer::Millis(flags.heartbeat_ms);
  config.peer_timeout = plexus::peer::Millis(flags.peer_timeout_ms);
  if (config.peer_timeout < 2 * config.heartbeat_interval) fail("--peer-timeout-ms must be at least twice --heartbeat-ms");
  return config;
}

void join_all(plexus::peer::PeerService& service, const std::vector<std::string>& joins) {
  for (const auto& text : joins) {
    if (!text.empty() && text.front() == '{') {
      auto spec = plexus::parse_node_spec(text);
      if (!spec) fail("--join: " + spec.error().message());
      if (auto joined = service.join(*spec); !joined) fail("--join: " + joined.error().message());
      continue;
    }
    auto addr = plexus::parse_listen_addr(text);
    if (!addr) fail("--join: " + addr.error().message());
    service.join_address(*addr, [text](const Result<void>& r) {
      if (!r) spdlog::warn("join {}: {}", text, r.error().message());
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"plexusd: a Plexus cluster node"};
  app.add_option("--name", flags.name, "node name, unique in the cluster ([A-Za-z0-9_.@-])")->required();
  app.add_option("--listen", flags.listen, "HOST:PORT to listen on (repeatable); port 0 picks one")
      ->capture_default_str();
  app.add_option("--secret-file", flags.secret_file, "cluster key file (plexus keygen FILE)")->required();
  app.add_option("--join", flags.join, "HOST:PORT or node spec JSON of a member to join (repeatable)");
  app.add_option("--channel", flags.channels, "NAME:PARALLELISM[:monotonic] (repeatable)");
  app.add_option("--data-dir", flags.data_dir, "keeps the membership so a restart rejoins without --join");
  app.add_flag("--insecure", flags.insecure, "plaintext frames (benchmarks/debugging only; all nodes must agree)");
  app.add_option("--heartbeat-ms", flags.heartbeat_ms, "peer heartbeat interval")->capture_default_str();
  app.add_option("--peer-timeout-ms", flags.peer_timeout_ms, "a member silent this long is down")
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("plexusd"));
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  auto config = make_config(flags);

  asio::io_context io(1);
  auto started = plexus::peer::PeerService::start(io.get_executor(), config);
  if (!started) fail(started.error().message());
  auto service = *started;
  join_all(*service, flags.join);
  std::cout << nlohmann::json{{"spec", plexus::to_json(service->spec())}}.dump() << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  int signals_seen = 0;
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int number) {
    if (ec) return;
    if (++signals_seen > 1) {
      spdlog::warn("second signal ({}): stopping at once", number);
      std::_Exit(1);
    }
    spdlog::info("signal {}: stopping", number);
    service->stop([&] { io.stop(); });
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  service->on_removed([&] {
    spdlog::warn("removed from the cluster: stopping");
    service->stop([&] { io.stop(); });
  });
  io.run();
  spdlog::info("stopped");
  return 0;
}
