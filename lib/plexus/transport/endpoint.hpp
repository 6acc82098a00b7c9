// Establishing connections: dial a peer, or listen and accept peers, with
// the handshake (secure/handshake.hpp) run under a deadline. A connection is
// handed over only once the peer proved the cluster key; every refusal is
// logged with its reason and counted.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <functional>
#include <memory>

#include "plexus/core/result.hpp"
#include "plexus/secure/handshake.hpp"
#include "plexus/transport/connection.hpp"
#include "plexus/transport/counters.hpp"
#include "plexus/transport/options.hpp"

namespace plexus::transport {

using ConnectionPtr = std::shared_ptr<Connection>;

/// Run the handshake on a connected socket (the Connection is not started).
asio::awaitable<Result<ConnectionPtr>> handshake(asio::ip::tcp::socket socket, secure::Role role,
                                                 const secure::HandshakeConfig& identity,
                                                 const Options& options,
                                                 std::shared_ptr<Counters> counters);

/// Connect to `peer` and run the handshake as initiator.
asio::awaitable<Result<ConnectionPtr>> dial(asio::any_io_executor executor,
                                            asio::ip::tcp::endpoint peer,
                                            const secure::HandshakeConfig& identity,
                                            const Options& options,
                                            std::shared_ptr<Counters> counters);

/// Accepts peers on one address; hands each authenticated connection to
/// `on_connection` (not started: the receiver sets its handlers and starts it).
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using OnConnection = std::function<void(ConnectionPtr)>;

  /// Bind and start accepting (port 0 picks a free port).
  static Result<std::shared_ptr<Listener>> open(asio::any_io_executor executor,
                                                asio::ip::tcp::endpoint where,
                                                secure::HandshakeConfig identity, Options options,
                                                std::shared_ptr<Counters> counters,
                                                OnConnection on_connection);
  [[nodiscard]] asio::ip::tcp::endpoint local_endpoint() const;
  /// Stop accepting; handshakes in progress finish or time out.
  void stop();

 private:
  Listener(asio::ip::tcp::acceptor acceptor, secure::HandshakeConfig identity, Options options,
           std::shared_ptr<Counters> counters, OnConnection on_connection);
  static asio::awaitable<void> accept_loop(std::shared_ptr<Listener> self);
  static asio::awaitable<void> admit(std::shared_ptr<Listener> self, asio::ip::tcp::socket socket);

  asio::ip::tcp::acceptor acceptor_;
  secure::HandshakeConfig identity_;
  Options options_;
  std::shared_ptr<Counters> counters_;
  OnConnection on_connection_;
  std::size_t pending_handshakes_ = 0;
};

}  // namespace plexus::transport
