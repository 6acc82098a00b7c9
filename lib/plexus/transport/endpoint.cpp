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
// that arrived behind the peer's auth tag. Reports progress to `watch`.
asio::awaitable<Result<std::vector<std::uint8_t>>> exchange(asio::ip::tcp::socket& socket,
                                                            secure::Handshake& handshake,
                                                            HandshakeWatch* watch) {
  auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(handshake.hello_bytes()), nothrow);
  if (write_ec) co_return make_error(errc::peer_closed, "during handshake: " + write_ec.message());
  std::vector<std::uint8_t> buffer(4096), out;
  bool first_bytes = true, hello = true;  // still to report
  while (!handshake.done()) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), nothrow);
    if (ec) {
      co_return make_error(errc::peer_closed, "during handshake (" + ec.message() +
                                                  "); the peer may have refused this node");
    }
    if (watch && first_bytes && n > 0 && watch->on_first_bytes) watch->on_first_bytes();
    first_bytes = false;
    out.clear();
    auto used = handshake.feed({buffer.data(), n}, out);
    if (!used) co_return used.error();
    if (watch && hello && handshake.hello_received()) {
      hello = false;
      if (watch->on_hello) watch->on_hello(handshake.peer_hello());
    }
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

// exchange() under the handshake deadline, and ended early when `watch` is evicted.
asio::awaitable<Result<std::vector<std::uint8_t>>> bounded_exchange(asio::ip::tcp::socket& socket,
                                                                    secure::Handshake& state, const Options& options,
                                                                    HandshakeWatch* watch) {
  const auto timed_out = [&] {
    return make_error(errc::handshake_timeout,
                      "no complete handshake within " + std::to_string(options.handshake_timeout.count()) + " ms");
  };
  asio::steady_timer deadline(socket.get_executor());
  deadline.expires_after(options.handshake_timeout);
  if (watch && watch->evict) {
    if (watch->evicted_reason != errc::ok) co_return make_error(watch->evicted_reason);
    auto outcome = co_await (exchange(socket, state, watch) || deadline.async_wait(nothrow) ||
                             watch->evict->async_wait(nothrow));
    if (outcome.index() == 0) co_return std::move(std::get<0>(outcome));
    if (outcome.index() == 1) co_return timed_out();
    co_return make_error(watch->evicted_reason == errc::ok ? errc::shutting_down : watch->evicted_reason);
  }
  auto outcome = co_await (exchange(socket, state, watch) || deadline.async_wait(nothrow));
  if (outcome.index() == 0) co_return std::move(std::get<0>(outcome));
  co_return timed_out();
}

// Open `socket` for `peer` and bind it to options.source_address (port 0)
// when one is set and of the peer's address family.
std::error_code bind_source(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& peer,
                            const Options& options) {
  std::error_code ec;
  socket.open(peer.protocol(), ec);
  if (ec || options.source_address.empty()) return ec;
  const auto source = asio::ip::make_address(options.source_address, ec);
  if (ec) return ec;
  if (source.is_v4() != peer.address().is_v4()) return {};
  socket.bind(asio::ip::tcp::endpoint(source, 0), ec);
  return ec;
}

}  // namespace

std::string default_source_address(std::string_view listen_ip) {
  std::error_code ec;
  const auto address = asio::ip::make_address(std::string(listen_ip), ec);
  if (ec || address.is_unspecified()) return "";
  return address.to_string();
}

asio::awaitable<Result<ConnectionPtr>> handshake(asio::ip::tcp::socket socket, secure::Role role,
                                                 const secure::HandshakeConfig& identity,
                                                 const Options& options,
                                                 std::shared_ptr<Counters> counters) {
  co_return co_await handshake(std::move(socket), role, identity, options, std::move(counters), nullptr);
}

asio::awaitable<Result<ConnectionPtr>> handshake(asio::ip::tcp::socket socket, secure::Role role,
                                                 const secure::HandshakeConfig& identity,
                                                 const Options& options, std::shared_ptr<Counters> counters,
                                                 HandshakeWatch* watch) {
  secure::Handshake state(role, identity);
  auto result = co_await bounded_exchange(socket, state, options, watch);
  if (result) {
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    co_return Connection::make(std::move(socket), state.session(), std::move(result.value()),
                               options, std::move(counters));
  }
  if (counters) counters->count(result.error().code);
  std::error_code ignored;
  socket.close(ignored);
  co_return result.error();
}

asio::awaitable<Result<ConnectionPtr>> dial(asio::any_io_executor executor,
                                            asio::ip::tcp::endpoint peer,
                                            const secure::HandshakeConfig& identity,
                                            const Options& options,
                                            std::shared_ptr<Counters> counters) {
  asio::ip::tcp::socket socket(executor);
  if (auto ec = bind_source(socket, peer, options)) {
    if (counters) counters->count(make_error_code(errc::dial_failed));
    co_return make_error(errc::dial_failed, describe(peer) + ": source address " + options.source_address + ": " +
                                                ec.message());
  }
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
      on_connection_(std::move(on_connection)),
      admission_(options_.admission) {}

asio::ip::tcp::endpoint Listener::local_endpoint() const {
  std::error_code ignored;
  return acceptor_.local_endpoint(ignored);
}

void Listener::stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
}

void Listener::set_known(Known known) { known_ = std::move(known); }

asio::awaitable<void> Listener::accept_loop(std::shared_ptr<Listener> self) {
  while (self->acceptor_.is_open()) {
    auto [ec, socket] = co_await self->acceptor_.async_accept(nothrow);
    if (ec) {
      if (!self->acceptor_.is_open() || ec == asio::error::operation_aborted) break;
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    std::error_code ignored;
    const auto remote = socket.remote_endpoint(ignored).address();
    const bool member = self->known_.address && self->known_.address(remote);
    const auto id = self->next_id_++;
    // Registered before any eviction can name it, so a handshake evicted before its coroutine ran
    // still ends at once with the right reason.
    auto pending = std::make_shared<Pending>(self->acceptor_.get_executor());
    pending->watch.evict = &pending->evict;
    self->pending_[id] = pending;
    // Always admitted: room is made by closing the weakest pending handshake.
    self->close_pending(self->admission_.on_accept(id, remote.to_string(), member, Admission::Clock::now()));
    asio::co_spawn(self->acceptor_.get_executor(), admit(self, std::move(socket), id, std::move(pending)),
                   asio::detached);
    if (!self->sweeping_) {
      self->sweeping_ = true;
      asio::co_spawn(self->acceptor_.get_executor(), sweep_loop(self), asio::detached);
    }
  }
}

void Listener::close_pending(const std::vector<Admission::Close>& closes) {
  for (const auto& close : closes) {
    const auto it = pending_.find(close.id);
    if (it == pending_.end()) continue;
    it->second->watch.evicted_reason = close.reason;
    it->second->evict.cancel();
  }
}

void Listener::note_closed(errc reason) {
  ++unreported_[reason];
  const auto now = Admission::Clock::now();
  if (now - last_report_ < std::chrono::seconds(1)) return;
  std::string what;
  for (const auto& [code, count] : unreported_) {
    what += (what.empty() ? "" : ", ") + std::string(errc_name(code)) + " " + std::to_string(count);
  }
  spdlog::warn("closed pending handshakes that proved nothing (a flood?): {} since the last such line", what);
  unreported_.clear();
  last_report_ = now;
}

asio::awaitable<void> Listener::sweep_loop(std::shared_ptr<Listener> self) {
  asio::steady_timer timer(self->acceptor_.get_executor());
  const auto period = std::max<Millis>(self->options_.admission.first_bytes_timeout / 4, Millis(10));
  while (self->admission_.pending() > 0) {
    timer.expires_after(period);
    co_await timer.async_wait(nothrow);
    self->close_pending(self->admission_.expire(Admission::Clock::now()));
  }
  self->sweeping_ = false;
}

asio::awaitable<void> Listener::admit(std::shared_ptr<Listener> self, asio::ip::tcp::socket socket,
                                      Admission::Id id, std::shared_ptr<Pending> pending) {
  std::error_code ignored;
  const std::string from = describe(socket.remote_endpoint(ignored));
  HandshakeWatch& watch = pending->watch;
  Listener* raw = self.get();
  watch.on_first_bytes = [raw, id] { raw->admission_.on_bytes(id); };
  watch.on_hello = [raw, id](const secure::Hello& hello) {
    raw->admission_.on_hello(id, raw->known_.name && raw->known_.name(hello.name));
  };
  auto result = co_await handshake(std::move(socket), secure::Role::responder, self->identity_,
                                   self->options_, self->counters_, &watch);
  self->pending_.erase(id);
  self->admission_.on_done(id);
  if (!result) {
    const auto code = result.error().code;
    if (code == errc::evicted_table_full || code == errc::evicted_source_limit || code == errc::first_bytes_timeout) {
      self->note_closed(errc(code.value()));
      co_return;
    }
    spdlog::warn("refused connection from {}: {}", from, result.error().message());
    co_return;
  }
  if (self->on_connection_) self->on_connection_(std::move(result.value()));
}

}  // namespace plexus::transport
