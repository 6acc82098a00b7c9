#include "node/mesh.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <random>

namespace plexus::node {
namespace {

asio::ip::tcp::endpoint to_endpoint(const ListenAddr& addr) {
  return {asio::ip::make_address(addr.ip), addr.port};
}

}  // namespace

Result<std::shared_ptr<Mesh>> Mesh::start(asio::any_io_executor executor, MeshConfig config,
                                          ListenAddr listen) {
  auto mesh = std::shared_ptr<Mesh>(new Mesh(executor, std::move(config)));
  std::weak_ptr<Mesh> weak = mesh;
  auto listener = transport::Listener::open(
      executor, to_endpoint(listen), mesh->identity_, mesh->config_.options, mesh->counters_,
      [weak](transport::ConnectionPtr c) {
        if (auto self = weak.lock()) self->adopt(std::move(c), "accepted");
      });
  if (!listener) return listener.error();
  mesh->listener_ = *listener;
  listen.port = mesh->listener_->local_endpoint().port();
  mesh->spec_.listen_addrs = {listen};
  return mesh;
}

Mesh::Mesh(asio::any_io_executor executor, MeshConfig config)
    : executor_(std::move(executor)), config_(std::move(config)) {
  identity_.key = config_.key;
  identity_.node_name = config_.name;
  identity_.instance_id = config_.instance_id;
  identity_.insecure = config_.insecure;
  spec_.name = config_.name;
  spec_.instance_id = config_.instance_id;
  spec_.channels.emplace(std::string(default_channel), ChannelSpec{});
}

void Mesh::add_peer(ListenAddr peer) {
  asio::co_spawn(executor_, keep_dialing(shared_from_this(), std::move(peer)), asio::detached);
}

void Mesh::adopt(transport::ConnectionPtr connection, const std::string& how) {
  if (stopping_) {
    connection->close();
    return;
  }
  spdlog::info("up: {} ({} connection from {}, {})", connection->peer().name, how,
               connection->remote_endpoint().address().to_string(), connection->cipher());
  connections_.insert(connection);
  std::weak_ptr<Mesh> weak = shared_from_this();
  connection->start({}, [weak, connection](const Error& why) {
    spdlog::info("down: {} ({})", connection->peer().name, why.code ? why.message() : "closed");
    if (auto self = weak.lock()) {
      self->connections_.erase(connection);
      self->maybe_done();
    }
  });
}

asio::awaitable<void> Mesh::keep_dialing(std::shared_ptr<Mesh> self, ListenAddr peer) {
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(100);
  asio::steady_timer timer(self->executor_);
  while (!self->stopping_) {
    auto result = co_await transport::dial(self->executor_, to_endpoint(peer), self->identity_,
                                           self->config_.options, self->counters_);
    if (result) {
      auto connection = *result;
      self->adopt(connection, "dialed");
      backoff = std::chrono::milliseconds(100);
      // Wait until this connection is gone before dialing again.
      while (!self->stopping_ && self->connections_.count(connection)) {
        timer.expires_after(std::chrono::milliseconds(100));
        co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      }
    } else {
      spdlog::debug("dial {}: {}", to_string(peer), result.error().message());
    }
    const auto jitter = std::uniform_int_distribution<int>(0, int(backoff.count() / 2))(rng);
    timer.expires_after(backoff + std::chrono::milliseconds(jitter));
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

void Mesh::stop(std::function<void()> done) {
  stopping_ = true;
  on_stopped_ = std::move(done);
  listener_->stop();
  for (const auto& c : std::set(connections_)) c->close();
  maybe_done();
}

void Mesh::maybe_done() {
  if (stopping_ && connections_.empty() && on_stopped_) {
    auto done = std::move(on_stopped_);
    on_stopped_ = nullptr;
    done();
  }
}

}  // namespace plexus::node
