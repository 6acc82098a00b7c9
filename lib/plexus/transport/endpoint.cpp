#include "plexus/transport/endpoint.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

#include <sstream>

#include "plexus/core/errors.hpp"

namespace plexus::transport {
namespace {

constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);
using namespace asio::experimental::awaitable_operators;

std::string describe(const asio::ip::tcp::endpoint& endpoint) {
  std::ostringstream out;
  out << endpoint;
  return out.str();
}

// Messages both ways until the handshake is done; returns the record bytes
// that arrived behind the peer's auth tag.
asio::awaitable<Result<std::vector<std::uint8_t>>> exchange(asio::ip::tcp::socket& socket,
                                                            secure::Handshake& handshake) {
  auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(handshake.hello_bytes()), nothrow);
  if (write_ec) co_return make_error(errc::peer_closed, "during handshake: " + write_ec.message());
  std::vector<std::uint8_t> buffer(4096), out;
  while (!handshake.done()) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), nothrow);
    if (ec) {
      co_return make_error(errc::peer_closed, "during handshake (" + ec.message() +
                                                  "); the peer may have refused this node");
    }
    out.clear();
    auto used = handshake.feed({buffer.data(), n}, out);
    if (!used) co_return used.error();
    if (!out.empty()) {
      auto [ec2, m] = co_await asio::async_write(socket, asio::buffer(out), nothrow);
      if (ec2) co_return make_error(errc::peer_closed, "during handshake: " + ec2.message());
    }
    if (handshake.done()) {
      co_return std::vector<std::uint8_t>(buffer.begin() + static_cast<std::ptrdiff_t>(*used),
                                          buffer.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }
  co_return std::vector<std::uint8_t>{};
}

}  // namespace

asio::awaitable<Result<ConnectionPtr>> handshake(asio::ip::tcp::socket socket, secure::Role role,
                                                 const secure::HandshakeConfig& identity,
                                                 const Options& options,
                                                 std::shared_ptr<Counters> counters) {
  secure::Handshake state(role, identity);
  asio::steady_timer deadline(socket.get_executor());
  deadline.expires_after(options.handshake_timeout);
  auto outcome = co_await (exchange(socket, state) || deadline.async_wait(nothrow));
  Error failure;
  if (outcome.index() == 1) {
    failure = make_error(errc::handshake_timeout, "no complete handshake within " +
                                                      std::to_string(options.handshake_timeout.count()) + " ms");
  } else if (auto& result = std::get<0>(outcome); !result) {
    failure = result.error();
  } else {
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    co_return Connection::make(std::move(socket), state.session(), std::move(result.value()),
                               options, std::move(counters));
  }
  if (counters) counters->count(failure.code);
  std::error_code ignored;
  socket.close(ignored);
  co_return failure;
}

asio::awaitable<Result<ConnectionPtr>> dial(asio::any_io_executor executor,
                                            asio::ip::tcp::endpoint peer,
                                            const secure::HandshakeConfig& identity,
                                            const Options& options,
                                            std::shared_ptr<Counters> counters) {
  asio::ip::tcp::socket socket(executor);
  // The connect counts against the handshake deadline too: a blackholed
  // address must not hang a dial for the kernel's minutes-long timeout.
  asio::steady_timer deadline(executor);
  deadline.expires_after(options.handshake_timeout);
  auto outcome = co_await (socket.async_connect(peer, nothrow) || deadline.async_wait(nothrow));
  std::error_code ec = outcome.index() == 0 ? std::get<0>(std::get<0>(outcome)) : asio::error::timed_out;
  if (ec) {
    if (counters) counters->count(make_error_code(errc::dial_failed));
    co_return make_error(errc::dial_failed, describe(peer) + ": " + ec.message());
  }
  co_return co_await handshake(std::move(socket), secure::Role::initiator, identity, options,
                               std::move(counters));
}

Result<std::shared_ptr<Listener>> Listener::open(asio::any_io_executor executor,
                                                 asio::ip::tcp::endpoint where,
                                                 secure::HandshakeConfig identity, Options options,
                                                 std::shared_ptr<Counters> counters,
                                                 OnConnection on_connection) {
  asio::ip::tcp::acceptor acceptor(executor);
  std::error_code ec;
  acceptor.open(where.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(where, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(errc::io_error, "cannot listen on " + describe(where) + ": " + ec.message());
  auto listener = std::shared_ptr<Listener>(new Listener(std::move(acceptor), std::move(identity),
                                                         std::move(options), std::move(counters),
                                                         std::move(on_connection)));
  asio::co_spawn(executor, accept_loop(listener), asio::detached);
  return listener;
}

Listener::Listener(asio::ip::tcp::acceptor acceptor, secure::HandshakeConfig identity,
                   Options options, std::shared_ptr<Counters> counters, OnConnection on_connection)
    : acceptor_(std::move(acceptor)),
      identity_(std::move(identity)),
      options_(std::move(options)),
      counters_(std::move(counters)),
      on_connection_(std::move(on_connection)) {}

asio::ip::tcp::endpoint Listener::local_endpoint() const {
  std::error_code ignored;
  return acceptor_.local_endpoint(ignored);
}

void Listener::stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
}

asio::awaitable<void> Listener::accept_loop(std::shared_ptr<Listener> self) {
  while (self->acceptor_.is_open()) {
    auto [ec, socket] = co_await self->acceptor_.async_accept(nothrow);
    if (ec) {
      if (!self->acceptor_.is_open() || ec == asio::error::operation_aborted) break;
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    if (self->pending_handshakes_ >= self->options_.max_pending_handshakes) {
      if (self->counters_) self->counters_->count(make_error_code(errc::too_many_handshakes));
      spdlog::warn("refused connection: {} handshakes already in progress",
                   self->pending_handshakes_);
      continue;  // the socket closes as it goes out of scope
    }
    ++self->pending_handshakes_;  // counted here so a burst of accepts cannot pass the limit
    asio::co_spawn(self->acceptor_.get_executor(), admit(self, std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Listener::admit(std::shared_ptr<Listener> self, asio::ip::tcp::socket socket) {
  std::error_code ignored;
  const std::string from = describe(socket.remote_endpoint(ignored));
  auto result = co_await handshake(std::move(socket), secure::Role::responder, self->identity_,
                                   self->options_, self->counters_);
  --self->pending_handshakes_;
  if (!result) {
    spdlog::warn("refused connection from {}: {}", from, result.error().message());
    co_return;
  }
  if (self->on_connection_) self->on_connection_(std::move(result.value()));
}

}  // namespace plexus::transport
