// Connection's methods, called on its home executor, and the move of its
// I/O to another executor (move_io). The coroutines are in connection.cpp.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <cstring>

#include "plexus/core/errors.hpp"
#include "plexus/core/little_endian.hpp"
#include "plexus/transport/connection_impl.hpp"

namespace plexus::transport {

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
      home_(socket_.get_executor()),
      io_(home_),
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
  started_ = true;
  spawn_tasks();
}

void Connection::spawn_tasks() {
  tasks_ = 3;
  auto io = io_;
  asio::co_spawn(io, ConnectionTasks::reader(shared_from_this()), asio::detached);
  asio::co_spawn(io, ConnectionTasks::writer(shared_from_this()), asio::detached);
  asio::co_spawn(io, ConnectionTasks::watchdog(shared_from_this()), asio::detached);
}

void Connection::set_preparer(Preparer prepare, PreparedHandler on_prepared) {
  if (split_ || moving_to_ || prepare_) return;  // too late, or set already
  prepare_ = std::move(prepare);
  on_prepared_ = std::move(on_prepared);
}

void Connection::move_io(asio::any_io_executor io, std::shared_ptr<void> io_owner) {
  if (split_ || moving_to_ || state_ != State::open || home_closed_) return;
  io_owner_ = std::move(io_owner);
  if (!started_) return rebind(std::move(io));
  // Started: the three coroutines wind down on this executor (the reader
  // after the read that delivered this frame, the writer after its current
  // write, the watchdog now); the last one to end rebinds and respawns them.
  moving_to_ = std::move(io);
  writer_idle_ = false;  // no write-through meanwhile: frames wait in the outbox, in order
  impl_->timers->wake.cancel();
  impl_->timers->watchdog.cancel();
}

// Move the socket and the timers to `io` (no operation may be pending).
void Connection::rebind(asio::any_io_executor io) {
  std::error_code ec;
  const auto fd = socket_.release(ec);
  asio::ip::tcp::socket moved(io);
  if (!ec) moved.assign(remote_.protocol(), fd, ec);
  if (!ec) moved.non_blocking(true, ec);
  socket_ = std::move(moved);
  io_ = io;
  impl_->timers = std::make_unique<Impl::Timers>(io);
  split_ = io != home_;
  if (ec) abort_io(make_error(errc::io_error, "moving the connection: " + ec.message()));
}

Result<void> Connection::send(std::span<const std::uint8_t> body) {
  return send_with(body.size(), [body](std::uint8_t* at) { std::memcpy(at, body.data(), body.size()); });
}

Result<void> Connection::send_in_place(std::size_t body_bytes,
                                       const std::function<void(std::span<std::uint8_t>)>& fill) {
  return send_with(body_bytes, [body_bytes, &fill](std::uint8_t* at) { fill({at, body_bytes}); });
}

template <class Fill>
Result<void> Connection::send_with(std::size_t body_bytes, const Fill& fill) {
  if (state_ != State::open || home_closed_) return make_error(errc::shutting_down, "connection is closing");
  if (body_bytes > options_.max_frame_bytes) {
    return make_error(errc::frame_too_large, std::to_string(body_bytes) + " bytes, limit " +
                                                 std::to_string(options_.max_frame_bytes));
  }
  if (body_bytes == 0) return make_error(errc::malformed_message, "empty frames are reserved for ticks");
  auto lock = shared_lock();
  if (!impl_->outbox.fits(body_bytes)) {
    want_writable_ = true;
    return make_error(errc::outbox_full, std::to_string(impl_->outbox.bytes()) + " bytes, " +
                                             std::to_string(impl_->outbox.frames()) + " frames queued");
  }
  fill(impl_->outbox.append_frame(body_bytes));
  ++stats_.frames_sent;
  if (split_) {
    const bool wake = writer_idle_;
    writer_idle_ = false;
    lock.unlock();
    // The writer set writer_idle_ just before suspending on this same
    // executor, so this runs after its wait began.
    if (wake) asio::post(io_, [self = shared_from_this()] { self->impl_->timers->wake.cancel_one(); });
  } else if (ConnectionTasks::may_write_through(*this)) {
    ConnectionTasks::write_through(*this);
  } else {
    wake_writer();
  }
  return {};
}

// Called with the shared lock held (when split), on the I/O executor.
void Connection::notify_writable() {
  if (want_writable_ && impl_->outbox.bytes() <= options_.outbox_max_bytes / 2) {
    want_writable_ = false;
    if (!split_) {
      if (on_writable_) on_writable_();
    } else {
      asio::post(home_, [self = shared_from_this()] {
        if (self->on_writable_) self->on_writable_();
      });
    }
  }
}

// Called with the shared lock held (when split), on the I/O executor.
void Connection::wake_writer() {
  if (writer_idle_) {
    writer_idle_ = false;
    impl_->timers->wake.cancel_one();
  }
}

void Connection::close() {
  if (home_closed_) return;
  home_closed_ = true;
  if (!split_) return close_io();
  asio::post(io_, [self = shared_from_this()] { self->close_io(); });
}

void Connection::abort(Error why) {
  if (!split_) {
    home_closed_ = true;
    return abort_io(std::move(why));
  }
  if (home_closed_ && state_ == State::finished) return;
  home_closed_ = true;
  asio::post(io_, [self = shared_from_this(), why = std::move(why)]() mutable {
    self->abort_io(std::move(why));
  });
}

void Connection::close_io() {
  if (state_ != State::open) return;
  state_ = State::closing;
  impl_->closing_since = Clock::now();
  impl_->timers->watchdog.cancel();  // the close deadline may come before the sleeping one
  auto lock = shared_lock();
  wake_writer();
}

void Connection::abort_io(Error why) {
  if (state_ == State::finished) return;
  state_ = State::finished;
  error_ = std::move(why);
  if (counters_ && error_.code) counters_->count(error_.code);
  std::error_code ignored;
  socket_.close(ignored);
  impl_->timers->wake.cancel();
  impl_->timers->watchdog.cancel();
  impl_->timers->credit.cancel();
}

void Connection::set_liveness(Millis heartbeat_interval, Millis dead_peer_timeout) {
  auto apply = [heartbeat_interval, dead_peer_timeout](Connection& c) {
    c.options_.heartbeat_interval = heartbeat_interval;
    c.options_.dead_peer_timeout = dead_peer_timeout;
    c.impl_->timers->watchdog.cancel();  // recompute the next wakeup
  };
  if (!split_) return apply(*this);
  asio::post(io_, [self = shared_from_this(), apply] { apply(*self); });
}

// On the I/O executor, as each coroutine ends.
void Connection::task_done() {
  if (impl_->reader_done && impl_->writer_done) impl_->timers->watchdog.cancel();
  if (--tasks_ > 0) return;
  if (moving_to_ && state_ != State::finished) {  // move_io: all three have wound down here
    auto io = std::move(*moving_to_);
    moving_to_.reset();
    rebind(std::move(io));
    impl_->reader_done = impl_->writer_done = false;
    spawn_tasks();
    return;
  }
  moving_to_.reset();
  if (state_ != State::finished) {
    state_ = State::finished;
    std::error_code ignored;
    socket_.close(ignored);
    if (peer_started_close_) error_ = make_error(errc::peer_closed);
  }
  if (!split_) return finish_at_home(error_);
  // After every batch already posted home (one executor: in order).
  asio::post(home_, [self = shared_from_this(), why = error_] { self->finish_at_home(why); });
}

void Connection::finish_at_home(const Error& why) {
  home_closed_ = true;
  if (auto handler = std::move(on_closed_)) {
    on_closed_ = nullptr;
    handler(why);
  }
  on_frame_ = nullptr;
  on_prepared_ = nullptr;
  on_writable_ = nullptr;
  on_read_done_ = nullptr;
}

// Split: the frames of one read, queued at home and handled in order, a
// slice (home_slice_bytes, one frame at least) per turn.
void Connection::accept_at_home(std::shared_ptr<HomeBatch> batch) {
  impl_->home_batches.push_back(std::move(batch));
  if (impl_->home_batches.size() == 1) deliver_at_home();  // else a turn is already posted
}

void Connection::deliver_at_home() {
  auto& queue = impl_->home_batches;
  HomeBatch& batch = *queue.front();
  std::size_t& at = impl_->home_at;
  std::size_t frames = 0, handled = 0;
  const std::size_t slice = std::max<std::size_t>(1, options_.home_slice_bytes);
  const auto open = [this] { return !home_closed_ && (on_frame_ || on_prepared_); };
  const auto bytes = batch.frames.span();
  const bool prepared = !batch.prepared.empty();  // a batch is all bytes or all prepared
  while (!prepared && at + 4 <= bytes.size() && handled < slice && open() && on_frame_) {
    const std::size_t n = load_le32(bytes.data() + at);
    ++frames;
    on_frame_(bytes.subspan(at + 4, n));
    at += 4 + n;
    handled += 4 + n;
  }
  // Prepared frames cost home little whatever their size: a slice of them is a count.
  const std::size_t prepared_slice = std::max<std::size_t>(1, options_.home_slice_prepared);
  while (prepared && at < batch.prepared.size() && frames < prepared_slice && open() && on_prepared_) {
    auto& [item, n] = batch.prepared[at++];
    ++frames;
    on_prepared_(std::move(item), n);
  }
  {
    auto lock = shared_lock();
    stats_.frames_received += frames;
  }
  if (on_read_done_ && !home_closed_) on_read_done_();
  const bool closed = !open();
  const bool done = prepared ? at >= batch.prepared.size() : at + 4 > bytes.size();
  if (closed || done) {  // this batch is done (or will never be handled)
    impl_->in_flight.fetch_sub(batch.bytes);
    queue.pop_front();
    at = 0;
    asio::post(io_, [self = shared_from_this()] { self->impl_->timers->credit.cancel(); });
  }
  if (closed) {
    for (const auto& rest : queue) impl_->in_flight.fetch_sub(rest->bytes);
    queue.clear();
  }
  if (!queue.empty()) asio::post(home_, [self = shared_from_this()] { self->deliver_at_home(); });
}

std::size_t Connection::outbox_bytes() const noexcept {
  auto lock = shared_lock();
  return impl_->outbox.bytes();
}

Stats Connection::stats() const noexcept {
  auto lock = shared_lock();
  Stats out = stats_;
  out.outbox_bytes = impl_->outbox.bytes();
  out.outbox_frames = impl_->outbox.frames();
  return out;
}

}  // namespace plexus::transport
