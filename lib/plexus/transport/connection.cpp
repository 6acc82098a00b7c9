// The coroutines of a Connection: reader, writer and watchdog, and the
// write-through send path. The methods and the move between executors are in
// connection_home.cpp.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstring>

#include "plexus/core/errors.hpp"
#include "plexus/core/little_endian.hpp"
#include "plexus/transport/connection_impl.hpp"

namespace plexus::transport {

namespace {
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);
// Socket reads processed on this thread (any connection): a write-through is
// allowed once per connection per read turn, so that replies go out at once
// while a burst of sends from one handler still batches in the outbox.
thread_local std::uint64_t read_turn = 0;
}  // namespace

// One frame body out of the stream: to the handler, or (split) into the
// batch for home (hand_over). False stops reading.
bool ConnectionTasks::on_body(Connection& c, std::span<const std::uint8_t> body) {
  if (body.empty()) return true;  // a tick: its arrival was the point
  if (c.split_ && c.prepare_) {
    c.impl_->prepared.emplace_back(c.prepare_(body), static_cast<std::uint32_t>(body.size()));
    c.impl_->prepared_bytes += 4 + body.size();
    return c.state_ != Connection::State::finished;
  }
  if (c.split_) {
    std::uint8_t* at = c.impl_->handoff.extend(4 + body.size());
    store_le32(at, static_cast<std::uint32_t>(body.size()));
    std::memcpy(at + 4, body.data(), body.size());
    return c.state_ != Connection::State::finished;
  }
  ++c.stats_.frames_received;
  if (c.on_frame_) c.on_frame_(body);
  return c.state_ != Connection::State::finished;
}

// Deliver plaintext stream bytes (insecure) as frames; false stops.
bool ConnectionTasks::deliver(Connection& c, std::span<const std::uint8_t> bytes) {
  auto result = c.impl_->decoder.feed(bytes, [&c](std::span<const std::uint8_t> body) { return on_body(c, body); });
  if (!result) {
    c.abort_io(result.error());
    return false;
  }
  return true;
}

// Encrypted: the opener decrypts into its own buffer and offers what it
// holds; the whole frames are handed out from there and an incomplete one
// stays, the next record decrypted right after it (record.hpp).
bool ConnectionTasks::consume(Connection& c, std::span<const std::uint8_t> bytes) {
  if (!c.impl_->opener) return deliver(c, bytes);
  auto result = c.impl_->opener->feed_taking(bytes, [&c](std::span<const std::uint8_t> plain) {
    auto cut = c.impl_->decoder.cut(plain, [&c](std::span<const std::uint8_t> body) { return on_body(c, body); });
    if (!cut) {
      c.abort_io(cut.error());
      return secure::RecordOpener::stop;
    }
    return cut->stopped ? secure::RecordOpener::stop : cut->used;
  });
  if (!result) {
    c.abort_io(result.error());
    return false;
  }
  return true;
}

// Split: post the frames of this read home, then wait while too much is in flight.
asio::awaitable<void> ConnectionTasks::hand_over(Connection& c, const Ptr& self) {
  auto& impl = *c.impl_;
  if (impl.handoff.empty() && impl.prepared.empty()) co_return;
  auto batch = std::make_shared<Connection::HomeBatch>();
  batch->frames = std::move(impl.handoff);
  batch->prepared = std::move(impl.prepared);
  batch->bytes = batch->frames.size() + impl.prepared_bytes;
  impl.handoff = ByteBuffer();
  impl.prepared.clear();
  impl.prepared_bytes = 0;
  impl.in_flight.fetch_add(batch->bytes);
  asio::post(c.home_, [self, batch] { self->accept_at_home(batch); });
  while (impl.in_flight.load() > c.options_.handoff_max_bytes && c.state_ != Connection::State::finished) {
    co_await impl.timers->credit.async_wait(nothrow);
  }
}

Error ConnectionTasks::end_of_stream_error(Connection& c, const std::error_code& ec) {
  const bool mid = c.impl_->decoder.mid_frame() ||
                   (c.impl_->opener && (c.impl_->opener->mid_record() || c.impl_->opener->held_bytes() != 0));
  if (ec == asio::error::eof && !mid && !c.impl_->opener) return {};
  std::string detail = ec == asio::error::eof ? "TCP closed" : ec.message();
  detail += mid ? " in the middle of a frame" : " without a close record (peer crashed or killed?)";
  return make_error(errc::truncated_stream, detail);
}

asio::awaitable<void> ConnectionTasks::read_loop(Ptr self) {
  Connection& c = *self;
  // Not zero-filled: an idle connection touches only the pages its reads use.
  ByteBuffer buffer(c.options_.read_buffer_bytes);
  if (!c.impl_->leftover.empty()) {
    consume(c, c.impl_->leftover);
    c.impl_->leftover = {};
    if (c.split_) co_await hand_over(c, self);
  }
  while (c.state_ != Connection::State::finished && !c.moving_to_) {
    auto [ec, n] = co_await c.socket_.async_read_some(asio::buffer(buffer.data(), buffer.capacity()), nothrow);
    if (ec) {
      if (c.state_ == Connection::State::finished) break;
      Error why = end_of_stream_error(c, ec);
      if (why.code) {
        c.abort_io(std::move(why));
        break;
      }
      c.peer_finished_ = true;  // plaintext EOF at a frame boundary
    } else {
      c.impl_->last_rx = Clock::now();
      {
        auto lock = c.shared_lock();
        c.stats_.bytes_read += n;
      }
      if (!consume(c, {buffer.data(), n})) break;
      if (c.split_) {
        co_await hand_over(c, self);
      } else {
        ++read_turn;  // the replies to this read may write through
        if (c.on_read_done_) c.on_read_done_();
      }
      if (c.impl_->opener && c.impl_->opener->closed()) c.peer_finished_ = true;
    }
    if (c.peer_finished_) {
      if (c.state_ == Connection::State::open) c.peer_started_close_ = true;
      c.close_io();  // answer the peer's close: flush, then our own close record
      break;
    }
  }
}

void ConnectionTasks::count_written(Connection& c, std::size_t n) {
  {
    auto lock = c.shared_lock();
    c.stats_.bytes_written += n;
    ++c.stats_.writes;
  }
  c.impl_->last_tx = Clock::now();
}

// Write what impl.rest holds from impl.unsent on.
asio::awaitable<std::error_code> ConnectionTasks::write_unsent(Connection& c) {
  auto& impl = *c.impl_;
  auto [ec, n] = co_await asio::async_write(
      c.socket_, asio::buffer(impl.rest.data() + impl.unsent, impl.rest.size() - impl.unsent), nothrow);
  impl.unsent = impl.rest.size();
  count_written(c, n);
  co_return ec;
}

asio::awaitable<std::error_code> ConnectionTasks::write_batch(Connection& c, std::vector<ByteBuffer>& batch) {
  prepare(c, batch);
  auto [ec, n] = co_await asio::async_write(c.socket_, c.impl_->gather, nothrow);
  count_written(c, n);
  co_return ec;
}

asio::awaitable<void> ConnectionTasks::finish_writing(Connection& c) {
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

asio::awaitable<void> ConnectionTasks::write_loop(Ptr self) {
  Connection& c = *self;
  std::vector<ByteBuffer> batch;
  auto failed = [&c](const std::error_code& ec) {
    if (c.state_ != Connection::State::finished) {
      c.abort_io(make_error(errc::truncated_stream, "write failed: " + ec.message()));
    }
  };
  while (c.state_ != Connection::State::finished) {
    if (c.impl_->unsent < c.impl_->rest.size()) {  // the rest of a write-through goes first
      if (auto ec = co_await write_unsent(c)) {
        failed(ec);
        break;
      }
      continue;
    }
    if (c.moving_to_) break;  // move_io: the writer starts again on the new executor
    // Split, the outbox and writer_idle_ are shared with send() at home.
    auto lock = c.shared_lock();
    auto unlock = [&lock] { if (lock.owns_lock()) lock.unlock(); };
    auto relock = [&lock, &c] { if (c.split_) lock.lock(); };
    if (c.impl_->outbox.empty()) {
      if (c.state_ == Connection::State::closing) {
        unlock();
        co_await finish_writing(c);
        break;
      }
      c.writer_idle_ = true;
      c.write_through_spent_ = false;
      unlock();
      co_await c.impl_->timers->wake.async_wait(nothrow);
      relock();
      c.writer_idle_ = false;
      continue;
    }
    batch.clear();
    c.impl_->outbox.take(c.options_.write_batch_max_bytes, batch);
    c.notify_writable();
    unlock();
    auto ec = co_await write_batch(c, batch);
    relock();
    for (auto& chunk : batch) c.impl_->outbox.recycle(std::move(chunk));
    unlock();
    if (ec) {
      failed(ec);
      break;
    }
  }
}

bool ConnectionTasks::may_write_through(const Connection& c) {
  return c.writer_idle_ && !c.split_ && !c.moving_to_ && c.options_.write_through &&
         (!c.write_through_spent_ || c.write_through_turn_ != read_turn);
}

// The send path of an idle writer: seal the queued frame(s) and hand them
// to the socket now, without waking the writer (a post and a coroutine
// resume before the bytes leave). What the socket does not take at once,
// or an error, is left to the writer.
void ConnectionTasks::write_through(Connection& c) {
  auto& impl = *c.impl_;
  impl.through_batch.clear();
  impl.outbox.take(c.options_.write_batch_max_bytes, impl.through_batch);
  prepare(c, impl.through_batch);
  ++c.stats_.write_throughs;
  std::error_code ec;
  const std::size_t n = c.socket_.write_some(impl.gather, ec);
  if (!ec) count_written(c, n);
  keep_rest(impl.gather, ec ? 0 : n, impl.rest);  // the chunks are recycled next: copy what is left
  impl.unsent = 0;
  for (auto& chunk : impl.through_batch) impl.outbox.recycle(std::move(chunk));
  c.write_through_turn_ = read_turn;  // later sends of this turn batch in the outbox
  c.write_through_spent_ = true;
  if (impl.unsent < impl.rest.size()) c.wake_writer();
  c.notify_writable();  // last: its handler may send again
}

void ConnectionTasks::check_timers(Connection& c, Clock::time_point now) {
  auto& impl = *c.impl_;
  if (now - impl.last_rx > c.options_.dead_peer_timeout) {
    c.abort_io(make_error(errc::dead_peer, "nothing received for " +
                                               std::to_string(c.options_.dead_peer_timeout.count()) + " ms"));
    return;
  }
  if (c.state_ == Connection::State::closing && impl.flushed &&
      now - impl.closing_since > c.options_.close_timeout) {
    c.abort_io(make_error(errc::connection_closed, "peer did not finish the close within " +
                                                       std::to_string(c.options_.close_timeout.count()) + " ms"));
    return;
  }
  auto lock = c.shared_lock();
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
Clock::time_point ConnectionTasks::next_due(const Connection& c) {
  const auto& impl = *c.impl_;
  auto due = impl.last_rx + c.options_.dead_peer_timeout;
  if (c.state_ == Connection::State::open) due = std::min(due, impl.last_tx + c.options_.heartbeat_interval);
  if (c.state_ == Connection::State::closing) due = std::min(due, impl.closing_since + c.options_.close_timeout);
  return due + Millis(1);
}

asio::awaitable<void> ConnectionTasks::watch_loop(Ptr self) {
  Connection& c = *self;
  while (c.state_ != Connection::State::finished && !c.moving_to_ &&
         !(c.impl_->reader_done && c.impl_->writer_done)) {
    c.impl_->timers->watchdog.expires_at(next_due(c));
    co_await c.impl_->timers->watchdog.async_wait(nothrow);
    if (c.state_ == Connection::State::finished || c.moving_to_) break;
    check_timers(c, Clock::now());
  }
}

// Each task ends through here, even when its loop throws (a bug: it must
// still end the connection and fire the closed handler, not hang it).
asio::awaitable<void> ConnectionTasks::guarded(Ptr self, asio::awaitable<void> (*loop)(Ptr),
                                               bool Connection::Impl::*done) {
  try {
    co_await loop(self);
  } catch (const std::exception& e) {
    self->abort_io(make_error(errc::connection_closed, std::string("internal error: ") + e.what()));
  }
  if (done) (*self->impl_).*done = true;
  self->task_done();
}

asio::awaitable<void> ConnectionTasks::reader(Ptr self) {
  return guarded(std::move(self), read_loop, &Connection::Impl::reader_done);
}
asio::awaitable<void> ConnectionTasks::writer(Ptr self) {
  return guarded(std::move(self), write_loop, &Connection::Impl::writer_done);
}
asio::awaitable<void> ConnectionTasks::watchdog(Ptr self) { return guarded(std::move(self), watch_loop, nullptr); }

}  // namespace plexus::transport
