// Connection: one authenticated TCP connection to a peer, after the
// handshake. The Asio chat_server shape: a reader coroutine, a writer
// coroutine draining a bounded outbox, and a watchdog that sends ticks on an
// idle connection and declares a silent peer dead.
//
// Every method must be called on the connection's executor (one thread or a
// strand): the connection owns its state and takes no locks.
//
// Closing: close() stops new sends, writes every frame already accepted,
// sends the close record and waits (close_timeout) for the peer's. The closed
// handler fires exactly once, after every coroutine has finished, with an
// empty error for a close this side asked for, peer_closed for one the peer
// asked for, and the reason otherwise (dead_peer, truncated_stream,
// record_tampered, frame_too_large, ...).
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/secure/handshake.hpp"
#include "plexus/transport/counters.hpp"
#include "plexus/transport/options.hpp"

namespace plexus::transport {

struct Stats {
  std::uint64_t frames_sent = 0;      ///< frames accepted into the outbox (ticks excluded)
  std::uint64_t frames_received = 0;  ///< frames delivered (ticks excluded)
  std::uint64_t bytes_written = 0;    ///< bytes on the wire, records included
  std::uint64_t bytes_read = 0;
  std::uint64_t writes = 0;           ///< socket writes (each carries many frames)
  std::uint64_t write_throughs = 0;   ///< of which made from send() itself (Options::write_through)
  std::uint64_t ticks_sent = 0;
  std::size_t outbox_bytes = 0;
  std::size_t outbox_frames = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using FrameHandler = std::function<void(std::span<const std::uint8_t> body)>;
  using ClosedHandler = std::function<void(const Error& why)>;
  using WritableHandler = std::function<void()>;

  /// Wrap a socket whose handshake finished. `leftover` holds record bytes
  /// that arrived with the handshake.
  static std::shared_ptr<Connection> make(asio::ip::tcp::socket socket, secure::Session session,
                                          std::vector<std::uint8_t> leftover, const Options& options,
                                          std::shared_ptr<Counters> counters);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Start reading and writing. Frame bodies handed to `on_frame` are valid
  /// only during the call.
  void start(FrameHandler on_frame, ClosedHandler on_closed);
  /// Queue one frame. Errors: outbox_full (retry after on_writable),
  /// frame_too_large, shutting_down (close() was called or the connection ended).
  Result<void> send(std::span<const std::uint8_t> body);
  /// Called once the outbox has drained below half after a send failed with outbox_full.
  void on_writable(WritableHandler handler) { on_writable_ = std::move(handler); }
  /// Called after the frames of each socket read were delivered (to flush
  /// work batched per read).
  void set_on_read_done(std::function<void()> handler) { on_read_done_ = std::move(handler); }
  /// Graceful close (see above). Idempotent.
  void close();
  /// Immediate close; the closed handler gets `why`.
  void abort(Error why);
  /// Change the idle tick and dead-peer timeout of this connection (e.g. once
  /// the peer service knows which channel it carries).
  void set_liveness(Millis heartbeat_interval, Millis dead_peer_timeout);

  [[nodiscard]] const secure::Hello& peer() const noexcept { return session_.peer; }
  [[nodiscard]] bool insecure() const noexcept { return session_.insecure; }
  [[nodiscard]] const char* cipher() const noexcept;
  [[nodiscard]] bool is_open() const noexcept { return state_ == State::open; }
  [[nodiscard]] Stats stats() const noexcept;
  /// Bytes waiting in the outbox (cheap; for flow decisions).
  [[nodiscard]] std::size_t outbox_bytes() const noexcept;
  [[nodiscard]] asio::ip::tcp::endpoint remote_endpoint() const noexcept { return remote_; }
  [[nodiscard]] asio::any_io_executor get_executor() { return socket_.get_executor(); }

 private:
  struct Impl;
  enum class State { open, closing, finished };
  Connection(asio::ip::tcp::socket socket, secure::Session session,
             std::vector<std::uint8_t> leftover, const Options& options,
             std::shared_ptr<Counters> counters);

  void task_done();
  void wake_writer();
  void notify_writable();

  asio::ip::tcp::socket socket_;
  asio::ip::tcp::endpoint remote_;
  secure::Session session_;
  Options options_;
  std::shared_ptr<Counters> counters_;
  std::unique_ptr<Impl> impl_;
  State state_ = State::open;
  Error error_{};
  bool peer_finished_ = false;
  bool peer_started_close_ = false;
  bool writer_idle_ = false;
  bool write_through_spent_ = false;  // a write-through happened since the writer was last idle
  std::uint64_t write_through_turn_ = 0;  // ... in this read turn (see connection.cpp)
  bool want_writable_ = false;
  int tasks_ = 0;
  FrameHandler on_frame_;
  ClosedHandler on_closed_;
  WritableHandler on_writable_;
  std::function<void()> on_read_done_;
  Stats stats_;
  friend struct ConnectionTasks;
};

}  // namespace plexus::transport
