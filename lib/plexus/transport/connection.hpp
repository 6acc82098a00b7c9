// Connection: one authenticated TCP connection to a peer, after the
// handshake. The Asio chat_server shape: a reader coroutine, a writer
// coroutine draining a bounded outbox, and a watchdog that sends ticks on an
// idle connection and declares a silent peer dead.
//
// Every method must be called on the connection's home executor: the one
// its socket was made on (one thread or a strand). By default the socket and
// the coroutines stay there too, and the connection takes no locks.
// move_io() moves the socket and coroutines to another executor (e.g. a
// low-priority thread for bulk traffic): records are then sealed, written,
// read and opened there, frames are handed home in batches (at most
// Options::handoff_max_bytes in flight), and every handler still runs at
// home; the outbox and the counters are then shared under a mutex.
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

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "plexus/core/byte_buffer.hpp"
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
  /// What a moved connection's reader makes of a frame on the I/O executor
  /// (decodes it, say), handed home in place of the frame's bytes.
  using Prepared = std::shared_ptr<void>;
  using Preparer = std::function<Prepared(std::span<const std::uint8_t> body)>;
  using PreparedHandler = std::function<void(Prepared item, std::size_t frame_bytes)>;

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
  /// Run the socket and the coroutines on `io` from now on (handlers and
  /// calls stay at home). Call it before start(), or after start() only from
  /// the on_frame handler (the move then completes once the coroutines have
  /// wound down, with any frames sent meanwhile kept in order). Once.
  /// `io_owner` is kept until the connection is destroyed: whatever owns the
  /// executor's io_context, which must outlive the socket.
  void move_io(asio::any_io_executor io, std::shared_ptr<void> io_owner = {});
  /// Once moved, run `prepare` on the I/O executor for each frame read and
  /// hand its result home to `on_prepared` (in order, instead of on_frame),
  /// so that per-byte work such as decoding leaves the home executor.
  /// `prepare` must be safe to call on another thread; it is never reset.
  /// Set it before move_io, at most once.
  void set_preparer(Preparer prepare, PreparedHandler on_prepared);
  /// Queue one frame. Errors: outbox_full (retry after on_writable),
  /// frame_too_large, shutting_down (close() was called or the connection ended).
  Result<void> send(std::span<const std::uint8_t> body);
  /// Queue one frame of `body_bytes` that `fill` writes in place, straight
  /// into the outbox (no finished frame to copy). `fill` must write all of
  /// it and must not call back into the connection. Same errors as send().
  Result<void> send_in_place(std::size_t body_bytes, const std::function<void(std::span<std::uint8_t>)>& fill);
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
  /// Whether move_io has moved the I/O off the home executor.
  [[nodiscard]] bool io_moved() const noexcept { return split_; }
  [[nodiscard]] bool is_open() const noexcept { return state_ == State::open && !home_closed_; }
  [[nodiscard]] Stats stats() const noexcept;
  /// Bytes waiting in the outbox (cheap; for flow decisions).
  [[nodiscard]] std::size_t outbox_bytes() const noexcept;
  [[nodiscard]] asio::ip::tcp::endpoint remote_endpoint() const noexcept { return remote_; }
  /// Where the handlers run and the methods are called.
  [[nodiscard]] asio::any_io_executor get_executor() { return home_; }

 private:
  struct Impl;
  enum class State { open, closing, finished };
  Connection(asio::ip::tcp::socket socket, secure::Session session,
             std::vector<std::uint8_t> leftover, const Options& options,
             std::shared_ptr<Counters> counters);

  template <class Fill>
  Result<void> send_with(std::size_t body_bytes, const Fill& fill);
  void task_done();
  void wake_writer();
  void notify_writable();
  void spawn_tasks();
  void rebind(asio::any_io_executor io);
  // The I/O side's close and abort (close()/abort() post these when split).
  void close_io();
  void abort_io(Error why);
  void finish_at_home(const Error& why);
  struct HomeBatch;
  void accept_at_home(std::shared_ptr<HomeBatch> batch);
  void deliver_at_home();
  // Locks mutex_ only when split (nothing is shared otherwise).
  [[nodiscard]] std::unique_lock<std::mutex> shared_lock() const {
    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    if (split_) lock.lock();
    return lock;
  }

  std::shared_ptr<void> io_owner_;  // before socket_: destroyed after it
  asio::ip::tcp::socket socket_;
  asio::any_io_executor home_;
  asio::any_io_executor io_;  // the socket's: home_ unless moved
  asio::ip::tcp::endpoint remote_;
  secure::Session session_;
  Options options_;
  std::shared_ptr<Counters> counters_;
  std::unique_ptr<Impl> impl_;
  std::atomic<State> state_{State::open};
  bool split_ = false;        // the socket runs on another executor than home_
  bool home_closed_ = false;  // close()/abort() was called (home side)
  bool started_ = false;
  std::optional<asio::any_io_executor> moving_to_;  // move_io after start, pending
  mutable std::mutex mutex_;  // split: outbox, writer_idle_, want_writable_, stats_
  Error error_{};
  bool peer_finished_ = false;
  bool peer_started_close_ = false;
  bool writer_idle_ = false;
  bool write_through_spent_ = false;  // a write-through happened since the writer was last idle
  std::uint64_t write_through_turn_ = 0;  // ... in this read turn (see connection.cpp)
  bool want_writable_ = false;
  int tasks_ = 0;
  FrameHandler on_frame_;
  Preparer prepare_;              // read on the I/O executor: set before the move, never reset
  PreparedHandler on_prepared_;   // at home
  ClosedHandler on_closed_;
  WritableHandler on_writable_;
  std::function<void()> on_read_done_;
  Stats stats_;
  friend struct ConnectionTasks;
};

}  // namespace plexus::transport
