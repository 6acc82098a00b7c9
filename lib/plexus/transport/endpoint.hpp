// Establishing connections: dial a peer, or listen and accept peers, with
// the handshake (secure/handshake.hpp) run under a deadline. A connection is
// handed over only once the peer proved the cluster key; every refusal is
// logged with its reason and counted.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <map>
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

/// What a listener reports of a handshake while it runs (admission.hpp), and
/// how it ends one early: cancelling `evict` ends it with `evicted_reason`.
struct HandshakeWatch {
  std::function<void()> on_first_bytes;
  std::function<void(const secure::Hello&)> on_hello;
  asio::steady_timer* evict = nullptr;
  errc evicted_reason = errc::ok;
};

/// handshake(), watched.
asio::awaitable<Result<ConnectionPtr>> handshake(asio::ip::tcp::socket socket, secure::Role role,
                                                 const secure::HandshakeConfig& identity,
                                                 const Options& options, std::shared_ptr<Counters> counters,
                                                 HandshakeWatch* watch);

/// Connect to `peer` and run the handshake as initiator.
asio::awaitable<Result<ConnectionPtr>> dial(asio::any_io_executor executor,
                                            asio::ip::tcp::endpoint peer,
                                            const secure::HandshakeConfig& identity,
                                            const Options& options,
                                            std::shared_ptr<Counters> counters);

/// Accepts peers on one address; hands each authenticated connection to
/// `on_connection` (not started: the receiver sets its handlers and starts it).
/// Pending handshakes are admitted by an Admission (admission.hpp): when the
/// table is full the weakest pending one is closed, never the newcomer.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using OnConnection = std::function<void(ConnectionPtr)>;
  /// Whether an address, or a name given in a hello, is a known member's.
  struct Known {
    std::function<bool(const asio::ip::address&)> address;
    std::function<bool(const std::string&)> name;
  };

  /// Bind and start accepting (port 0 picks a free port).
  static Result<std::shared_ptr<Listener>> open(asio::any_io_executor executor,
                                                asio::ip::tcp::endpoint where,
                                                secure::HandshakeConfig identity, Options options,
                                                std::shared_ptr<Counters> counters,
                                                OnConnection on_connection);
  [[nodiscard]] asio::ip::tcp::endpoint local_endpoint() const;
  /// Stop accepting; handshakes in progress finish or time out.
  void stop();
  /// Tell admission who the members are (call on the executor's thread).
  void set_known(Known known);

 private:
  Listener(asio::ip::tcp::acceptor acceptor, secure::HandshakeConfig identity, Options options,
           std::shared_ptr<Counters> counters, OnConnection on_connection);
  static asio::awaitable<void> accept_loop(std::shared_ptr<Listener> self);
  // A pending handshake: its watch and the timer that ends it early.
  struct Pending {
    explicit Pending(const asio::any_io_executor& executor)
        : evict(executor, asio::steady_timer::time_point::max()) {}
    asio::steady_timer evict;
    HandshakeWatch watch;
  };
  static asio::awaitable<void> admit(std::shared_ptr<Listener> self, asio::ip::tcp::socket socket,
                                     Admission::Id id, std::shared_ptr<Pending> pending);
  static asio::awaitable<void> sweep_loop(std::shared_ptr<Listener> self);
  void close_pending(const std::vector<Admission::Close>& closes);
  void note_closed(errc reason);

  asio::ip::tcp::acceptor acceptor_;
  secure::HandshakeConfig identity_;
  Options options_;
  std::shared_ptr<Counters> counters_;
  OnConnection on_connection_;
  Known known_;
  Admission admission_;
  Admission::Id next_id_ = 1;
  std::map<Admission::Id, std::shared_ptr<Pending>> pending_;  // from accept until the handshake ends
  bool sweeping_ = false;
  // Evictions and deadline closes are summarised in one warning per second.
  std::map<errc, std::uint64_t> unreported_;
  Admission::Clock::time_point last_report_{};
};

}  // namespace plexus::transport
