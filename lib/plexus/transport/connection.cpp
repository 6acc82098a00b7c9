#include "plexus/transport/connection.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstring>
#include <optional>

#include "plexus/core/errors.hpp"
#include "plexus/secure/record.hpp"
#include "plexus/transport/outbox.hpp"
#include "plexus/wire/frame.hpp"

namespace plexus::transport {

using Clock = std::chrono::steady_clock;

struct Connection::Impl {
  Impl(asio::any_io_executor executor, const secure::Session& session, const Options& options)
      : outbox(options.outbox_chunk_bytes, options.outbox_max_bytes, options.outbox_max_frames),
        decoder(options.max_frame_bytes),
        wake(executor),
        watchdog(executor) {
    if (!session.insecure) {
      sealer.emplace(session.cipher, session.send_key.data(), options.record_max_bytes);
      opener.emplace(session.cipher, session.receive_key.data(), options.record_max_bytes);
    }
    wake.expires_at(asio::steady_timer::time_point::max());
  }

  Outbox outbox;
  wire::FrameDecoder decoder;
  std::optional<secure::RecordSealer> sealer;
  std::optional<secure::RecordOpener> opener;
  std::vector<std::uint8_t> leftover;
  // Bytes ready for the socket (sealed, or plain when insecure) from
  // `unsent` on: a write-through that the socket did not take whole. The
  // writer sends them before anything else.
  ByteBuffer sealed;
  std::size_t unsent = 0;
  std::vector<ByteBuffer> through_batch;  // reused by write_through
  asio::steady_timer wake;
  asio::steady_timer watchdog;
  Clock::time_point last_rx = Clock::now();
  Clock::time_point last_tx = Clock::now();
  Clock::time_point closing_since{};
  bool reader_done = false;
  bool writer_done = false;
  bool flushed = false;
};

namespace {
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);
// Socket reads processed on this thread (any connection): a write-through is
// allowed once per connection per read turn, so that replies go out at once
// while a burst of sends from one handler still batches in the outbox.
thread_local std::uint64_t read_turn = 0;
}

// The three coroutines of a connection. Each holds a shared_ptr to it, so
// the connection lives until the last one returns (the gate).
struct ConnectionTasks {
  using Ptr = std::shared_ptr<Connection>;

  // Deliver decrypted (or plaintext) stream bytes as frames; false stops.
  static bool deliver(Connection& c, std::span<const std::uint8_t> bytes) {
    auto result = c.impl_->decoder.feed(bytes, [&c](std::span<const std::uint8_t> body) {
      if (body.empty()) return true;  // a tick: its arrival was the point
      ++c.stats_.frames_received;
      if (c.on_frame_) c.on_frame_(body);
      return c.state_ != Connection::State::finished;
    });
    if (!result) {
      c.abort(result.error());
      return false;
    }
    return true;
  }

  static bool consume(Connection& c, std::span<const std::uint8_t> bytes) {
    if (!c.impl_->opener) return deliver(c, bytes);
    auto result = c.impl_->opener->feed(
        bytes, [&c](std::span<const std::uint8_t> plain) { return deliver(c, plain); });
    if (!result) {
      c.abort(result.error());
      return false;
    }
    return true;
  }

  static Error end_of_stream_error(Connection& c, const std::error_code& ec) {
    const bool mid = c.impl_->decoder.mid_frame() || (c.impl_->opener && c.impl_->opener->mid_record());
    if (ec == asio::error::eof && !mid && !c.impl_->opener) return {};
    std::string detail = ec == asio::error::eof ? "TCP closed" : ec.message();
    detail += mid ? " in the middle of a frame" : " without a close record (peer crashed or killed?)";
    return make_error(errc::truncated_stream, detail);
  }

  static asio::awaitable<void> read_loop(Ptr self) {
    Connection& c = *self;
    // Not zero-filled: an idle connection touches only the pages its reads use.
    ByteBuffer buffer(c.options_.read_buffer_bytes);
    if (!c.impl_->leftover.empty()) {
      consume(c, c.impl_->leftover);
      c.impl_->leftover = {};
    }
    while (c.state_ != Connection::State::finished) {
      auto [ec, n] = co_await c.socket_.async_read_some(asio::buffer(buffer.data(), buffer.capacity()), nothrow);
      if (ec) {
        if (c.state_ == Connection::State::finished) break;
        Error why = end_of_stream_error(c, ec);
        if (why.code) {
          c.abort(std::move(why));
          break;
        }
        c.peer_finished_ = true;  // plaintext EOF at a frame boundary
      } else {
        c.impl_->last_rx = Clock::now();
        c.stats_.bytes_read += n;
        if (!consume(c, {buffer.data(), n})) break;
        ++read_turn;  // the replies to this read may write through
        if (c.on_read_done_) c.on_read_done_();
        if (c.impl_->opener && c.impl_->opener->closed()) c.peer_finished_ = true;
      }
      if (c.peer_finished_) {
        if (c.state_ == Connection::State::open) c.peer_started_close_ = true;
        c.close();  // answer the peer's close: flush, then our own close record
        break;
      }
    }
  }

  // Seal (or, insecure, copy) `batch` into impl.sealed, from its start.
  static void prepare(Connection& c, const std::vector<ByteBuffer>& batch) {
    auto& impl = *c.impl_;
    impl.sealed.clear();
    impl.unsent = 0;
    for (const auto& chunk : batch) {
      if (impl.sealer) impl.sealer->seal(chunk.span(), impl.sealed);
      else impl.sealed.append(chunk.span());
    }
  }

  static void count_written(Connection& c, std::size_t n) {
    c.stats_.bytes_written += n;
    ++c.stats_.writes;
    c.impl_->last_tx = Clock::now();
  }

  // Write what impl.sealed holds from impl.unsent on.
  static asio::awaitable<std::error_code> write_unsent(Connection& c) {
    auto& impl = *c.impl_;
    auto [ec, n] = co_await asio::async_write(
        c.socket_, asio::buffer(impl.sealed.data() + impl.unsent, impl.sealed.size() - impl.unsent), nothrow);
    impl.unsent = impl.sealed.size();
    count_written(c, n);
    co_return ec;
  }

  static asio::awaitable<std::error_code> write_batch(Connection& c, std::vector<ByteBuffer>& batch) {
    if (c.impl_->sealer) {
      prepare(c, batch);
      co_return co_await write_unsent(c);
    }
    std::vector<asio::const_buffer> buffers;
    for (auto& chunk : batch) buffers.emplace_back(chunk.data(), chunk.size());
    auto [ec, n] = co_await asio::async_write(c.socket_, buffers, nothrow);
    count_written(c, n);
    co_return ec;
  }

  static asio::awaitable<void> finish_writing(Connection& c) {
    // The close timeout runs from here: flushing what was accepted is bounded
    // by the dead-peer timeout instead, so a slow reader loses nothing.
    c.impl_->closing_since = Clock::now();
    c.impl_->flushed = true;
    if (c.impl_->sealer) {
      ByteBuffer close_record;
      c.impl_->sealer->seal_close(close_record);
      co_await asio::async_write(c.socket_, asio::buffer(close_record.data(), close_record.size()), nothrow);
    }
    std::error_code ignored;
    c.socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }

  static asio::awaitable<void> write_loop(Ptr self) {
    Connection& c = *self;
    std::vector<ByteBuffer> batch;
    while (c.state_ != Connection::State::finished) {
      if (c.impl_->unsent < c.impl_->sealed.size()) {  // the rest of a write-through goes first
        if (auto ec = co_await write_unsent(c)) {
          if (c.state_ != Connection::State::finished) {
            c.abort(make_error(errc::truncated_stream, "write failed: " + ec.message()));
          }
          break;
        }
        continue;
      }
      if (c.impl_->outbox.empty()) {
        if (c.state_ == Connection::State::closing) {
          co_await finish_writing(c);
          break;
        }
        c.writer_idle_ = true;
        c.write_through_spent_ = false;
        co_await c.impl_->wake.async_wait(nothrow);
        c.writer_idle_ = false;
        continue;
      }
      batch.clear();
      c.impl_->outbox.take(c.options_.write_batch_max_bytes, batch);
      c.notify_writable();
      auto ec = co_await write_batch(c, batch);
      for (auto& chunk : batch) c.impl_->outbox.recycle(std::move(chunk));
      if (ec) {
        if (c.state_ != Connection::State::finished) {
          c.abort(make_error(errc::truncated_stream, "write failed: " + ec.message()));
        }
        break;
      }
    }
  }

  // The send path of an idle writer: seal the queued frame(s) and hand them
  // to the socket now, without waking the writer (a post and a coroutine
  // resume before the bytes leave). What the socket does not take at once,
  // or an error, is left to the writer.
  static void write_through(Connection& c) {
    auto& impl = *c.impl_;
    impl.through_batch.clear();
    impl.outbox.take(c.options_.write_batch_max_bytes, impl.through_batch);
    c.notify_writable();
    prepare(c, impl.through_batch);
    for (auto& chunk : impl.through_batch) impl.outbox.recycle(std::move(chunk));
    ++c.stats_.write_throughs;
    std::error_code ec;
    const std::size_t n = c.socket_.write_some(asio::buffer(impl.sealed.data(), impl.sealed.size()), ec);
    if (!ec) {
      impl.unsent = n;
      count_written(c, n);
    }
    c.write_through_turn_ = read_turn;  // later sends of this turn batch in the outbox
    c.write_through_spent_ = true;
    if (impl.unsent < impl.sealed.size()) c.wake_writer();
  }

  static void check_timers(Connection& c, Clock::time_point now) {
    auto& impl = *c.impl_;
    if (now - impl.last_rx > c.options_.dead_peer_timeout) {
      c.abort(make_error(errc::dead_peer, "nothing received for " +
                                              std::to_string(c.options_.dead_peer_timeout.count()) + " ms"));
      return;
    }
    if (c.state_ == Connection::State::closing && impl.flushed &&
        now - impl.closing_since > c.options_.close_timeout) {
      c.abort(make_error(errc::connection_closed, "peer did not finish the close within " +
                                                      std::to_string(c.options_.close_timeout.count()) + " ms"));
      return;
    }
    if (c.state_ == Connection::State::open && impl.outbox.empty() &&
        now - impl.last_tx >= c.options_.heartbeat_interval) {
      impl.outbox.append_frame(0);
      impl.last_tx = now;  // the writer updates it again once written
      ++c.stats_.ticks_sent;
      c.wake_writer();
    }
  }

  // When check_timers next has something to do: the dead-peer deadline, the
  // next idle tick, the close deadline. Sleeping until then (not polling)
  // keeps an idle connection at about one wakeup per heartbeat interval.
  static Clock::time_point next_due(const Connection& c) {
    const auto& impl = *c.impl_;
    auto due = impl.last_rx + c.options_.dead_peer_timeout;
    if (c.state_ == Connection::State::open) due = std::min(due, impl.last_tx + c.options_.heartbeat_interval);
    if (c.state_ == Connection::State::closing) due = std::min(due, impl.closing_since + c.options_.close_timeout);
    return due + Millis(1);
  }

  static asio::awaitable<void> watch_loop(Ptr self) {
    Connection& c = *self;
    while (c.state_ != Connection::State::finished &&
           !(c.impl_->reader_done && c.impl_->writer_done)) {
      c.impl_->watchdog.expires_at(next_due(c));
      co_await c.impl_->watchdog.async_wait(nothrow);
      if (c.state_ == Connection::State::finished) break;
      check_timers(c, Clock::now());
    }
  }

  // Each task ends through here, even when its loop throws (a bug: it must
  // still end the connection and fire the closed handler, not hang it).
  static asio::awaitable<void> guarded(Ptr self, asio::awaitable<void> (*loop)(Ptr), bool Connection::Impl::*done) {
    try {
      co_await loop(self);
    } catch (const std::exception& e) {
      self->abort(make_error(errc::connection_closed, std::string("internal error: ") + e.what()));
    }
    if (done) (*self->impl_).*done = true;
    self->task_done();
  }
  static asio::awaitable<void> reader(Ptr self) { return guarded(std::move(self), read_loop, &Connection::Impl::reader_done); }
  static asio::awaitable<void> writer(Ptr self) { return guarded(std::move(self), write_loop, &Connection::Impl::writer_done); }
  static asio::awaitable<void> watchdog(Ptr self) { return guarded(std::move(self), watch_loop, nullptr); }
};

std::shared_ptr<Connection> Connection::make(asio::ip::tcp::socket socket, secure::Session session,
                                             std::vector<std::uint8_t> leftover,
                                             const Options& options,
                                             std::shared_ptr<Counters> counters) {
  return std::shared_ptr<Connection>(new Connection(std::move(socket), std::move(session),
                                                    std::move(leftover), options, std::move(counters)));
}

Connection::Connection(asio::ip::tcp::socket socket, secure::Session session,
                       std::vector<std::uint8_t> leftover, const Options& options,
                       std::shared_ptr<Counters> counters)
    : socket_(std::move(socket)),
      session_(std::move(session)),
      options_(options),
      counters_(std::move(counters)),
      impl_(std::make_unique<Impl>(socket_.get_executor(), session_, options_)) {
  std::error_code ignored;
  remote_ = socket_.remote_endpoint(ignored);
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);  // a write-through must not block the thread
  impl_->leftover = std::move(leftover);
}

Connection::~Connection() = default;

const char* Connection::cipher() const noexcept {
  return session_.insecure ? "insecure" : secure::cipher_name(session_.cipher);
}

void Connection::start(FrameHandler on_frame, ClosedHandler on_closed) {
  on_frame_ = std::move(on_frame);
  on_closed_ = std::move(on_closed);
  tasks_ = 3;
  auto executor = socket_.get_executor();
  asio::co_spawn(executor, ConnectionTasks::reader(shared_from_this()), asio::detached);
  asio::co_spawn(executor, ConnectionTasks::writer(shared_from_this()), asio::detached);
  asio::co_spawn(executor, ConnectionTasks::watchdog(shared_from_this()), asio::detached);
}

Result<void> Connection::send(std::span<const std::uint8_t> body) {
  if (state_ != State::open) return make_error(errc::shutting_down, "connection is closing");
  if (body.size() > options_.max_frame_bytes) {
    return make_error(errc::frame_too_large, std::to_string(body.size()) + " bytes, limit " +
                                                 std::to_string(options_.max_frame_bytes));
  }
  if (body.empty()) return make_error(errc::malformed_message, "empty frames are reserved for ticks");
  if (!impl_->outbox.fits(body.size())) {
    want_writable_ = true;
    return make_error(errc::outbox_full, std::to_string(impl_->outbox.bytes()) + " bytes, " +
                                             std::to_string(impl_->outbox.frames()) + " frames queued");
  }
  std::memcpy(impl_->outbox.append_frame(body.size()), body.data(), body.size());
  ++stats_.frames_sent;
  if (writer_idle_ && options_.write_through && (!write_through_spent_ || write_through_turn_ != read_turn)) {
    ConnectionTasks::write_through(*this);
  } else {
    wake_writer();
  }
  return {};
}

void Connection::notify_writable() {
  if (want_writable_ && impl_->outbox.bytes() <= options_.outbox_max_bytes / 2) {
    want_writable_ = false;
    if (on_writable_) on_writable_();
  }
}

void Connection::wake_writer() {
  if (writer_idle_) {
    writer_idle_ = false;
    impl_->wake.cancel_one();
  }
}

void Connection::close() {
  if (state_ != State::open) return;
  state_ = State::closing;
  impl_->closing_since = Clock::now();
  impl_->watchdog.cancel();  // the close deadline may come before the sleeping one
  wake_writer();
}

void Connection::set_liveness(Millis heartbeat_interval, Millis dead_peer_timeout) {
  options_.heartbeat_interval = heartbeat_interval;
  options_.dead_peer_timeout = dead_peer_timeout;
  impl_->watchdog.cancel();  // recompute the next wakeup
}

void Connection::abort(Error why) {
  if (state_ == State::finished) return;
  state_ = State::finished;
  error_ = std::move(why);
  if (counters_ && error_.code) counters_->count(error_.code);
  std::error_code ignored;
  socket_.close(ignored);
  impl_->wake.cancel();
  impl_->watchdog.cancel();
}

void Connection::task_done() {
  if (impl_->reader_done && impl_->writer_done) impl_->watchdog.cancel();
  if (--tasks_ > 0) return;
  if (state_ != State::finished) {
    state_ = State::finished;
    std::error_code ignored;
    socket_.close(ignored);
    if (peer_started_close_) error_ = make_error(errc::peer_closed);
  }
  if (auto handler = std::move(on_closed_)) {
    on_closed_ = nullptr;
    handler(error_);
  }
  on_frame_ = nullptr;
  on_writable_ = nullptr;
  on_read_done_ = nullptr;
}

std::size_t Connection::outbox_bytes() const noexcept { return impl_->outbox.bytes(); }

Stats Connection::stats() const noexcept {
  Stats out = stats_;
  out.outbox_bytes = impl_->outbox.bytes();
  out.outbox_frames = impl_->outbox.frames();
  return out;
}

}  // namespace plexus::transport
