// Outgoing connections bound to a chosen source address (Options::
// source_address): the listener sees the dialer at that 127.0.0.x address,
// a bad one fails the dial with a reason, and the default for a listen
// address is that address (a wildcard leaves the choice to the kernel).
#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <optional>

#include "plexus/core/errors.hpp"
#include "plexus/transport/endpoint.hpp"
#include "../support/loop.hpp"

using namespace plexus;
using namespace plexus::transport;
using plexus::testing::run_until;
using tcp = asio::ip::tcp;

namespace {

secure::HandshakeConfig identity(const secure::ClusterKey& key, const char* name) {
  secure::HandshakeConfig config;
  config.key = key;
  config.node_name = name;
  config.instance_id = std::hash<std::string>{}(name);
  return config;
}

// A listener on 127.0.0.1 that records the remote endpoint of each connection it accepts.
struct Accepting {
  std::shared_ptr<Listener> listener;
  std::vector<tcp::endpoint> remotes;
  Accepting(asio::io_context& io, const secure::ClusterKey& key) {
    auto opened = Listener::open(io.get_executor(), {asio::ip::make_address("127.0.0.1"), 0}, identity(key, "server"),
                                 Options{}, std::make_shared<Counters>(), [this](ConnectionPtr c) {
                                   remotes.push_back(c->remote_endpoint());
                                   c->start([](auto) {}, [](const Error&) {});
                                 });
    REQUIRE(opened.ok());
    listener = opened.value();
  }
};

std::optional<Result<ConnectionPtr>> dial_with(asio::io_context& io, tcp::endpoint to, const secure::ClusterKey& key,
                                               const std::string& source) {
  std::optional<Result<ConnectionPtr>> out;
  Options options;
  options.source_address = source;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    out.emplace(co_await dial(io.get_executor(), to, identity(key, "client"), options, std::make_shared<Counters>()));
  }, asio::detached);
  REQUIRE(run_until(io, [&] { return out.has_value(); }));
  return out;
}

}  // namespace

TEST_CASE("a dial bound to 127.0.0.7 reaches the listener from 127.0.0.7, on both ends") {
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  Accepting server(io, key);
  auto dialed = dial_with(io, server.listener->local_endpoint(), key, "127.0.0.7");
  REQUIRE(dialed->ok());
  REQUIRE(run_until(io, [&] { return !server.remotes.empty(); }));
  CHECK(server.remotes.front().address().to_string() == "127.0.0.7");
  dialed->value()->close();
}

TEST_CASE("without a source address the kernel picks one; an unusable one fails the dial naming it") {
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  Accepting server(io, key);
  auto plain = dial_with(io, server.listener->local_endpoint(), key, "");
  REQUIRE(plain->ok());
  REQUIRE(run_until(io, [&] { return !server.remotes.empty(); }));
  CHECK(server.remotes.front().address().to_string() == "127.0.0.1");
  plain->value()->close();
  auto bad = dial_with(io, server.listener->local_endpoint(), key, "not-an-ip");
  REQUIRE_FALSE(bad->ok());
  CHECK(bad->error().code == make_error_code(errc::dial_failed));
  CHECK(bad->error().message().find("source address not-an-ip") != std::string::npos);
}

TEST_CASE("the default source is the listen address itself, none for a wildcard") {
  CHECK(default_source_address("127.0.0.3") == "127.0.0.3");
  CHECK(default_source_address("::1") == "::1");
  CHECK(default_source_address("0.0.0.0").empty());
  CHECK(default_source_address("::").empty());
  CHECK(default_source_address("bogus").empty());
}
