// Internal to plexus::transport: the state of a Connection shared by
// connection.cpp (its coroutines) and connection_home.cpp (its methods).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <deque>
#include <optional>

#include "plexus/secure/record.hpp"
#include "plexus/transport/connection.hpp"
#include "plexus/transport/outbox.hpp"
#include "plexus/wire/frame.hpp"

namespace plexus::transport {

using Clock = std::chrono::steady_clock;

// One read's frames handed home: as bytes, [u32 length][body]..., or prepared.
struct Connection::HomeBatch {
  ByteBuffer frames;
  std::vector<std::pair<Prepared, std::uint32_t>> prepared;
  std::size_t bytes = 0;  // counted in in_flight
};

struct Connection::Impl {
  // Timers live on the I/O executor; move_io makes new ones there.
  struct Timers {
    explicit Timers(const asio::any_io_executor& io) : wake(io), watchdog(io), credit(io) {
      wake.expires_at(asio::steady_timer::time_point::max());
      credit.expires_at(asio::steady_timer::time_point::max());
    }
    asio::steady_timer wake;      // the idle writer waits on it; cancel wakes it
    asio::steady_timer watchdog;  // the next tick or deadline
    asio::steady_timer credit;    // split: the reader waits on it while handoff_max_bytes are in flight
  };

  Impl(const asio::any_io_executor& io, const secure::Session& session, const Options& options)
      : outbox(options.outbox_chunk_bytes, options.outbox_max_bytes, options.outbox_max_frames),
        decoder(options.max_frame_bytes),
        timers(std::make_unique<Timers>(io)) {
    if (!session.insecure) {
      sealer.emplace(session.cipher, session.send_key.data(), options.record_max_bytes);
      opener.emplace(session.cipher, session.receive_key.data(), options.record_max_bytes);
    }
  }

  Outbox outbox;
  wire::FrameDecoder decoder;
  std::optional<secure::RecordSealer> sealer;
  std::optional<secure::RecordOpener> opener;
  std::vector<std::uint8_t> leftover;
  // What prepare() made of a batch: the buffers to write, in order (see
  // connection.cpp), and the bytes they point to that are not in the batch's
  // chunks (small chunks sealed by copy, the headers and tags of records
  // sealed in place).
  std::vector<asio::const_buffer> gather;
  ByteBuffer sealed;
  // Bytes for the socket from `unsent` on: the rest of a write-through that
  // the socket did not take whole. The writer sends them before anything else.
  ByteBuffer rest;
  std::size_t unsent = 0;
  std::vector<ByteBuffer> through_batch;  // reused by write_through
  // Split: frames of the current read, [u32 length][body]..., to hand home.
  ByteBuffer handoff;
  std::atomic<std::size_t> in_flight{0};  // handed home, not yet handled
  // Split with a preparer: the prepared frames of the current read, and the
  // bytes they stand for (as in_flight counts them).
  std::vector<std::pair<Connection::Prepared, std::uint32_t>> prepared;
  std::size_t prepared_bytes = 0;
  // At home only: batches handed home, handled in order a slice at a time
  // (home_slice_bytes), and where the front one is up to (a byte offset in
  // `frames`, an index in `prepared`).
  std::deque<std::shared_ptr<Connection::HomeBatch>> home_batches;
  std::size_t home_at = 0;
  std::unique_ptr<Timers> timers;
  Clock::time_point last_rx = Clock::now();
  Clock::time_point last_tx = Clock::now();
  Clock::time_point closing_since{};
  bool reader_done = false;
  bool writer_done = false;
  bool flushed = false;
};

// The three coroutines of a connection (connection.cpp).
struct ConnectionTasks {
  using Ptr = std::shared_ptr<Connection>;
  static asio::awaitable<void> reader(Ptr self);
  static asio::awaitable<void> writer(Ptr self);
  static asio::awaitable<void> watchdog(Ptr self);
  /// The send path of an idle writer (see connection.cpp).
  static void write_through(Connection& c);
  /// Whether a write-through is allowed now (once per read turn).
  static bool may_write_through(const Connection& c);

  // The rest is private to connection.cpp.
  static bool on_body(Connection& c, std::span<const std::uint8_t> body);
  static bool deliver(Connection& c, std::span<const std::uint8_t> bytes);
  static bool consume(Connection& c, std::span<const std::uint8_t> bytes);
  static asio::awaitable<void> hand_over(Connection& c, const Ptr& self);
  static Error end_of_stream_error(Connection& c, const std::error_code& ec);
  static asio::awaitable<void> read_loop(Ptr self);
  static void prepare(Connection& c, std::vector<ByteBuffer>& batch);  // connection_seal.cpp
  static void keep_rest(const std::vector<asio::const_buffer>& gather, std::size_t written, ByteBuffer& rest);
  static void count_written(Connection& c, std::size_t n);
  static asio::awaitable<std::error_code> write_unsent(Connection& c);
  static asio::awaitable<std::error_code> write_batch(Connection& c, std::vector<ByteBuffer>& batch);
  static asio::awaitable<void> finish_writing(Connection& c);
  static asio::awaitable<void> write_loop(Ptr self);
  static void check_timers(Connection& c, Clock::time_point now);
  static Clock::time_point next_due(const Connection& c);
  static asio::awaitable<void> watch_loop(Ptr self);
  static asio::awaitable<void> guarded(Ptr self, asio::awaitable<void> (*loop)(Ptr), bool Connection::Impl::*done);
};

}  // namespace plexus::transport
