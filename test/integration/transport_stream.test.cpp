// Transport over real sockets on 127.0.0.1: streams arrive intact, heartbeats
// flow, dead and killed peers are detected, and bad peers are refused with a
// counted reason while good connections carry on.
#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/write.hpp>
#include <asio/executor_work_guard.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <thread>
#include <random>

#include "plexus/core/errors.hpp"
#include "plexus/secure/record.hpp"
#include "plexus/transport/endpoint.hpp"
#include "../support/loop.hpp"

using namespace plexus;
using namespace plexus::transport;
using plexus::testing::run_until;
using tcp = asio::ip::tcp;
using plexus::ByteBuffer;

namespace {

const tcp::endpoint loopback_any{asio::ip::make_address("127.0.0.1"), 0};

secure::HandshakeConfig identity(const secure::ClusterKey& key, const char* name) {
  secure::HandshakeConfig config;
  config.key = key;
  config.node_name = name;
  config.instance_id = std::hash<std::string>{}(name);
  return config;
}

Options fast_options() {
  Options options;
  options.heartbeat_interval = Millis(20);
  options.dead_peer_timeout = Millis(400);
  options.handshake_timeout = Millis(500);
  options.close_timeout = Millis(1000);
  return options;
}

std::uint64_t fnv1a(std::span<const std::uint8_t> bytes) {
  std::uint64_t h = 1469598103934665603ull;
  for (auto b : bytes) h = (h ^ b) * 1099511628211ull;
  return h;
}

// A frame: 8-byte index, 8-byte checksum of the rest, random payload.
std::vector<std::uint8_t> make_frame(std::mt19937& rng, std::uint64_t index, std::size_t size) {
  std::vector<std::uint8_t> frame(16 + size);
  for (std::size_t i = 16; i < frame.size(); ++i) frame[i] = static_cast<std::uint8_t>(rng());
  std::memcpy(frame.data(), &index, 8);
  const std::uint64_t sum = fnv1a({frame.data() + 16, size});
  std::memcpy(frame.data() + 8, &sum, 8);
  return frame;
}

struct Server {
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
  std::shared_ptr<Listener> listener;
  std::vector<ConnectionPtr> connections;
  std::vector<Error> closed;

  Server(asio::io_context& io, const secure::HandshakeConfig& id, const Options& options,
         std::function<void(std::span<const std::uint8_t>)> on_frame = {}) {
    auto opened = Listener::open(io.get_executor(), loopback_any, id, options, counters,
                                 [this, on_frame](ConnectionPtr c) {
                                   connections.push_back(c);
                                   c->start([on_frame](auto body) { if (on_frame) on_frame(body); },
                                            [this](const Error& why) { closed.push_back(why); });
                                 });
    REQUIRE(opened.ok());
    listener = opened.value();
  }
  tcp::endpoint endpoint() const { return listener->local_endpoint(); }
};

// Dial and return the started connection (or the error) once the coroutine finishes.
struct Dialed {
  std::optional<Result<ConnectionPtr>> result;
  std::vector<Error> closed;
  ConnectionPtr get() { return result && result->ok() ? result->value() : nullptr; }
};

void dial_into(asio::io_context& io, tcp::endpoint to, secure::HandshakeConfig id, Options options,
               Dialed& out, std::shared_ptr<Counters> counters = std::make_shared<Counters>()) {
  asio::co_spawn(io, [&io, to, id, options, &out, counters]() -> asio::awaitable<void> {
    auto result = co_await dial(io.get_executor(), to, id, options, counters);
    if (result.ok()) result.value()->start({}, [&out](const Error& why) { out.closed.push_back(why); });
    out.result.emplace(std::move(result));
  }, asio::detached);
}

// Runs `context` on a thread of its own until destroyed, even when a REQUIRE throws.
struct LoopThread {
  asio::io_context& context;
  asio::executor_work_guard<asio::io_context::executor_type> guard{context.get_executor()};
  std::thread thread{[this] { context.run(); }};
  ~LoopThread() {
    guard.reset();
    context.stop();
    thread.join();
  }
};

// Sends `total` frames (make_frame, sizes from `size_of`) in bursts of up to
// `per_burst` every `gap`; a burst stops where the outbox is full and the
// next one retries. Runs on the connection's io_context.
class PacedFrames {
 public:
  using SizeOf = std::function<std::size_t(std::mt19937&)>;
  PacedFrames(asio::io_context& io, ConnectionPtr connection, std::uint64_t total, std::uint32_t seed, int per_burst,
              Millis gap, SizeOf size_of)
      : connection_(std::move(connection)), rng_(seed), total_(total), per_burst_(per_burst), gap_(gap),
        size_of_(std::move(size_of)), pace_(io) {}
  void start() { burst(); }
  [[nodiscard]] std::uint64_t sent() const { return sent_; }

 private:
  void burst() {
    for (int i = 0; i < per_burst_ && sent_ < total_; ++i) {
      const std::size_t size = size_of_(rng_);
      if (!connection_->send(make_frame(rng_, sent_, size)).ok()) break;  // outbox full: next burst retries
      ++sent_;
    }
    if (sent_ < total_) {
      pace_.expires_after(gap_);
      pace_.async_wait([this](std::error_code ec) { if (!ec) burst(); });
    }
  }
  ConnectionPtr connection_;
  std::mt19937 rng_;
  std::uint64_t total_, sent_ = 0;
  int per_burst_;
  Millis gap_;
  SizeOf size_of_;
  asio::steady_timer pace_;
};

// Sizes up to 1 KiB, and one frame in 16 of 64 KiB.
std::size_t mixed_sizes(std::mt19937& rng) { return (rng() % 16 == 0) ? 65536 : rng() % 1024; }

}  // namespace

TEST_CASE("100,000 frames of random sizes arrive intact and in order while heartbeats flow") {
  // Proves framing, coalescing, encryption and flow control end to end over a real socket.
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  std::uint64_t received = 0, bad = 0;
  Server server(io, identity(key, "server"), fast_options(), [&](std::span<const std::uint8_t> body) {
    std::uint64_t index = 0, sum = 0;
    std::memcpy(&index, body.data(), 8);
    std::memcpy(&sum, body.data() + 8, 8);
    if (index != received || sum != fnv1a(body.subspan(16))) ++bad;
    ++received;
  });
  Dialed client;
  dial_into(io, server.endpoint(), identity(key, "client"), fast_options(), client);
  REQUIRE(run_until(io, [&] { return client.result.has_value(); }));
  REQUIRE(client.result->ok());
  auto connection = client.get();
  CHECK(std::string(connection->cipher()) != "insecure");

  // Send in paced bursts so idle gaps occur and ticks flow both ways.
  constexpr std::uint64_t total = 100'000;
  PacedFrames frames(io, connection, total, 7, 2500, Millis(60),  // 60 ms > heartbeat_interval: idle gaps
                     [](std::mt19937& rng) -> std::size_t { return (rng() % 8 == 0) ? rng() % 65536 : rng() % 512; });
  frames.start();
  const bool all = run_until(io, [&] { return received == total; }, std::chrono::seconds(60));
  INFO("received ", received, " sent ", frames.sent(), " open ", connection->is_open(),
       " closed ", client.closed.size(),
       " server closed ", server.closed.size(),
       " why ", client.closed.empty() ? "" : client.closed[0].message(),
       " / ", server.closed.empty() ? "" : server.closed[0].message());
  REQUIRE(all);
  CHECK(bad == 0);
  CHECK(server.connections.size() == 1);
  CHECK(server.connections[0]->stats().ticks_sent > 0);  // the idle direction ticked
  CHECK(connection->stats().ticks_sent > 0);             // and so did the busy one, between bursts
  CHECK(connection->stats().writes < total / 10);        // many frames per write
  CHECK(server.closed.empty());
  CHECK(client.closed.empty());

  connection->close();
  REQUIRE(run_until(io, [&] { return !client.closed.empty() && !server.closed.empty(); }));
  CHECK_FALSE(client.closed[0].code);                       // we asked for it
  CHECK(server.closed[0].code == errc::peer_closed);       // the peer saw an orderly close
}

TEST_CASE("a graceful close delivers every frame already accepted") {
  // Proves close() loses nothing that send() accepted.
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  std::size_t received = 0;
  Server server(io, identity(key, "server"), fast_options(), [&](auto) { ++received; });
  Dialed client;
  dial_into(io, server.endpoint(), identity(key, "client"), fast_options(), client);
  REQUIRE(run_until(io, [&] { return client.result.has_value(); }));
  auto connection = client.get();
  REQUIRE(connection);
  std::vector<std::uint8_t> body(1000, 0xab);
  std::size_t accepted = 0;
  while (accepted < 20000 && connection->send(body).ok()) ++accepted;
  connection->close();
  CHECK(connection->send(body).error().code == errc::shutting_down);
  REQUIRE(run_until(io, [&] { return !server.closed.empty(); }));
  CHECK(received == accepted);
}

TEST_CASE("write-through: replies leave from send() itself, and a write the socket takes in part is finished") {
  // Proves Options::write_through: an idle connection writes from send(), a
  // burst still batches, and frames larger than the socket buffer arrive
  // intact and in order behind a partial write-through.
  for (const bool through : {true, false}) {
    CAPTURE(through);
    asio::io_context io;
    const auto key = secure::generate_cluster_key();
    Options options = fast_options();
    options.write_through = through;
    std::vector<std::vector<std::uint8_t>> at_server;
    ConnectionPtr* server_side = nullptr;
    Server server(io, identity(key, "server"), options, [&](std::span<const std::uint8_t> body) {
      at_server.emplace_back(body.begin(), body.end());
      if (body.size() == 8) (void)(*server_side)->send(body);  // a ping: answer it at once
    });
    std::size_t pongs = 0;
    Dialed client;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      auto result = co_await dial(io.get_executor(), server.endpoint(), identity(key, "client"), options,
                                  std::make_shared<Counters>());
      if (result.ok()) {
        result.value()->start([&](std::span<const std::uint8_t>) { ++pongs; },
                              [&](const Error& why) { client.closed.push_back(why); });
      }
      client.result.emplace(std::move(result));
    }, asio::detached);
    REQUIRE(run_until(io, [&] { return client.result.has_value() && server.connections.size() == 1; }));
    auto connection = client.get();
    REQUIRE(connection);
    server_side = &server.connections[0];

    constexpr std::uint64_t pings = 200;
    for (std::uint64_t i = 0; i < pings; ++i) {
      std::vector<std::uint8_t> ping(8);
      std::memcpy(ping.data(), &i, 8);
      REQUIRE(connection->send(ping).ok());
      REQUIRE(run_until(io, [&] { return pongs == i + 1; }));
    }
    // Heartbeat ticks may occasionally hold the writer awake during a send.
    if (through) CHECK(connection->stats().write_throughs >= pings / 2);
    else CHECK(connection->stats().write_throughs == 0);
    if (through) CHECK(server.connections[0]->stats().write_throughs >= pings / 2);  // the replies too

    // A burst: one write-through at most, the rest batched by the writer.
    // Its first frame is larger than a loopback socket buffer: the socket
    // takes part of the write-through and the writer must finish it first.
    const auto before = connection->stats();
    std::mt19937 rng(11);
    std::vector<std::vector<std::uint8_t>> burst;
    burst.push_back(make_frame(rng, 0, 6 * 1024 * 1024));
    for (std::uint64_t i = 1; i <= 100; ++i) burst.push_back(make_frame(rng, i, 100));
    for (const auto& frame : burst) REQUIRE(connection->send(frame).ok());
    const auto after_send = connection->stats();
    CHECK(after_send.write_throughs - before.write_throughs <= 1);
    const std::size_t expected = pings + burst.size();
    REQUIRE(run_until(io, [&] { return at_server.size() == expected; }, std::chrono::seconds(20)));
    for (std::size_t i = 0; i < burst.size(); ++i) CHECK(at_server[pings + i] == burst[i]);
    CHECK(client.closed.empty());
    CHECK(server.closed.empty());
  }
}

TEST_CASE("move_io: I/O on another thread, handlers at home, frames intact and in order both ways") {
  // Proves Connection::move_io, before start (dialer) and from on_frame
  // (acceptor): every frame arrives once, in order, intact, each handler runs
  // on the home thread, flow control holds, and the close is orderly.
  asio::io_context bulk;  // declared first: it must outlive the sockets moved onto it
  asio::io_context io;    // home: this thread
  LoopThread bulk_runner{bulk};  // ends with the test, even when a REQUIRE throws
  const auto home_thread = std::this_thread::get_id();
  const auto key = secure::generate_cluster_key();
  Options options = fast_options();
  options.handoff_max_bytes = 64 * 1024;  // small: the reader must wait for home

  std::uint64_t received = 0, bad = 0, off_home = 0, echoes = 0;
  ConnectionPtr server_side;
  auto server_counters = std::make_shared<Counters>();
  std::vector<Error> server_closed;
  auto listener = Listener::open(io.get_executor(), loopback_any, identity(key, "server"), options, server_counters,
                                 [&](ConnectionPtr c) {
    server_side = c;
    c->start([&, c](std::span<const std::uint8_t> body) {
      if (std::this_thread::get_id() != home_thread) ++off_home;
      if (body.size() == 8) {  // the first frame: move, then answer (the answer waits for the move)
        c->move_io(bulk.get_executor());
        (void)c->send(body);
        return;
      }
      std::uint64_t index = 0, sum = 0;
      std::memcpy(&index, body.data(), 8);
      std::memcpy(&sum, body.data() + 8, 8);
      if (index != received || sum != fnv1a(body.subspan(16))) ++bad;
      if (++received % 100 == 0) (void)c->send(body.first(16));  // an echo through the moved writer
    }, [&](const Error& why) { server_closed.push_back(why); });
  });
  REQUIRE(listener.ok());
  Dialed client;
  bool answered = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    auto result = co_await dial(io.get_executor(), (*listener)->local_endpoint(), identity(key, "client"), options,
                                std::make_shared<Counters>());
    if (result.ok()) {
      result.value()->move_io(bulk.get_executor());  // before start
      result.value()->start([&](std::span<const std::uint8_t> body) {
        if (std::this_thread::get_id() != home_thread) ++off_home;
        if (body.size() == 8) answered = true;
        else ++echoes;
      }, [&](const Error& why) { client.closed.push_back(why); });
    }
    client.result.emplace(std::move(result));
  }, asio::detached);
  REQUIRE(run_until(io, [&] { return client.result.has_value(); }));
  auto connection = client.get();
  REQUIRE(connection);
  std::vector<std::uint8_t> hello(8, 1);
  REQUIRE(connection->send(hello).ok());
  REQUIRE(run_until(io, [&] { return answered; }));

  constexpr std::uint64_t total = 20'000;
  PacedFrames frames(io, connection, total, 5, 1000, Millis(5), mixed_sizes);
  frames.start();
  REQUIRE(run_until(io, [&] { return received == total && echoes == total / 100; }, std::chrono::seconds(60)));
  CHECK(bad == 0);
  CHECK(off_home == 0);
  CHECK(connection->io_moved());
  CHECK(server_side->io_moved());
  CHECK(connection->stats().frames_received == total / 100 + 1);
  CHECK(server_side->stats().frames_received == total + 1);
  connection->close();
  REQUIRE(run_until(io, [&] { return !client.closed.empty() && !server_closed.empty(); }));
  CHECK_FALSE(client.closed[0].code);
  CHECK(server_closed[0].code == errc::peer_closed);
}

TEST_CASE("set_preparer: a moved connection's frames are prepared on its I/O thread and handed home in order") {
  // Proves Connection::set_preparer: after the move every frame goes through
  // the preparer on the I/O thread (not home) and reaches on_prepared at
  // home, once, in order, with its size; on_frame sees none of them.
  asio::io_context bulk;  // declared first: it must outlive the sockets moved onto it
  asio::io_context io;
  LoopThread bulk_runner{bulk};
  const auto home_thread = std::this_thread::get_id();
  const auto key = secure::generate_cluster_key();
  Options options = fast_options();
  options.handoff_max_bytes = 64 * 1024;
  options.home_slice_prepared = 7;  // batches are handled over several turns

  struct Checked {
    std::uint64_t index = 0;
    bool intact = false;
    bool on_io_thread = false;
  };
  std::uint64_t prepared = 0, frames_after_move = 0, bad = 0, wrong_size = 0;
  bool moved = false;
  ConnectionPtr server_side;
  auto listener = Listener::open(io.get_executor(), loopback_any, identity(key, "server"), options,
                                 std::make_shared<Counters>(), [&](ConnectionPtr c) {
    server_side = c;
    c->start([&, c](std::span<const std::uint8_t> body) {
      if (moved) ++frames_after_move;
      if (body.size() != 8 || moved) return;
      moved = true;  // the first frame: prepare from now on, on the bulk thread
      c->set_preparer(
          [home_thread](std::span<const std::uint8_t> frame) -> Connection::Prepared {
            auto checked = std::make_shared<Checked>();
            std::uint64_t sum = 0;
            std::memcpy(&checked->index, frame.data(), 8);
            std::memcpy(&sum, frame.data() + 8, 8);
            checked->intact = sum == fnv1a(frame.subspan(16));
            checked->on_io_thread = std::this_thread::get_id() != home_thread;
            return checked;
          },
          [&](Connection::Prepared item, std::size_t frame_bytes) {
            const auto& checked = *static_cast<Checked*>(item.get());
            if (checked.index != prepared || !checked.intact || !checked.on_io_thread ||
                std::this_thread::get_id() != home_thread) {
              ++bad;
            }
            if (frame_bytes < 16) ++wrong_size;
            ++prepared;
          });
      c->move_io(bulk.get_executor());
    }, [](const Error&) {});
  });
  REQUIRE(listener.ok());
  Dialed client;
  dial_into(io, (*listener)->local_endpoint(), identity(key, "client"), options, client);
  REQUIRE(run_until(io, [&] { return client.result.has_value(); }));
  auto connection = client.get();
  REQUIRE(connection);
  REQUIRE(connection->send(std::vector<std::uint8_t>(8, 1)).ok());
  REQUIRE(run_until(io, [&] { return moved; }));

  constexpr std::uint64_t total = 20'000;
  PacedFrames frames(io, connection, total, 9, 1000, Millis(5), mixed_sizes);
  frames.start();
  REQUIRE(run_until(io, [&] { return prepared == total; }, std::chrono::seconds(60)));
  CHECK(bad == 0);
  CHECK(wrong_size == 0);
  CHECK(frames_after_move == 0);
  CHECK(server_side->stats().frames_received == total + 1);
  connection->close();
  REQUIRE(run_until(io, [&] { return !client.closed.empty(); }));
}

TEST_CASE("a silent peer is declared dead, and a silent dialer times out its handshake") {
  // Proves the dead-peer timeout and the handshake timeout, each counted by reason.
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  Server server(io, identity(key, "server"), fast_options());

  tcp::socket silent(io);
  silent.connect(server.endpoint());
  REQUIRE(run_until(io, [&] { return server.counters->get(errc::handshake_timeout) == 1; },
                    std::chrono::seconds(5)));

  // A peer that stops reading and writing after the handshake: SIGSTOP a child.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    asio::io_context child_io;
    Dialed dialed;
    dial_into(child_io, server.endpoint(), identity(key, "child"), fast_options(), dialed);
    run_until(child_io, [] { return false; }, std::chrono::seconds(20));
    _exit(0);
  }
  REQUIRE(run_until(io, [&] { return server.connections.size() == 1; }));
  kill(child, SIGSTOP);
  REQUIRE(run_until(io, [&] { return !server.closed.empty(); }, std::chrono::seconds(5)));
  CHECK(server.closed[0].code == errc::dead_peer);
  CHECK(server.counters->get(errc::dead_peer) == 1);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST_CASE("a peer killed mid-stream is detected at once as a truncated stream") {
  // Proves kill -9 of a sending peer is seen immediately, not after a timeout.
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  std::size_t received = 0;
  auto options = fast_options();
  options.dead_peer_timeout = Millis(60000);  // so only the socket close can explain detection
  Server server(io, identity(key, "server"), options, [&](auto) { ++received; });
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    asio::io_context child_io;
    Dialed dialed;
    dial_into(child_io, server.endpoint(), identity(key, "child"), options, dialed);
    run_until(child_io, [&] { return dialed.result.has_value(); });
    std::vector<std::uint8_t> body(300, 1);
    run_until(child_io, [&] {
      if (auto c = dialed.get()) while (c->send(body).ok()) {}
      return false;
    }, std::chrono::seconds(20));
    _exit(0);
  }
  REQUIRE(run_until(io, [&] { return received > 10000; }));
  const auto killed_at = std::chrono::steady_clock::now();
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  REQUIRE(run_until(io, [&] { return !server.closed.empty(); }, std::chrono::seconds(5)));
  CHECK(server.closed[0].code == errc::truncated_stream);
  CHECK(std::chrono::steady_clock::now() - killed_at < std::chrono::seconds(1));
}

TEST_CASE("wrong key, wrong version, garbage and insecure mismatch are refused while others are served") {
  // Proves each refusal is counted by reason and never disturbs a healthy connection.
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  std::size_t received = 0;
  Server server(io, identity(key, "server"), fast_options(), [&](auto) { ++received; });
  Dialed good;
  dial_into(io, server.endpoint(), identity(key, "good"), fast_options(), good);
  REQUIRE(run_until(io, [&] { return good.result.has_value(); }));
  REQUIRE(good.get());

  Dialed wrong_key;
  dial_into(io, server.endpoint(), identity(secure::generate_cluster_key(), "intruder"), fast_options(), wrong_key);
  REQUIRE(run_until(io, [&] { return wrong_key.result.has_value(); }));
  CHECK_FALSE(wrong_key.result->ok());
  CHECK(wrong_key.result->error().code == errc::auth_failed);

  auto insecure_options = fast_options();
  auto insecure_id = identity(key, "plain");
  insecure_id.insecure = true;
  Dialed plain;
  dial_into(io, server.endpoint(), insecure_id, insecure_options, plain);
  REQUIRE(run_until(io, [&] { return plain.result.has_value(); }));
  CHECK_FALSE(plain.result->ok());

  auto raw_send = [&](std::vector<std::uint8_t> bytes) {
    auto socket = std::make_shared<tcp::socket>(io);
    socket->connect(server.endpoint());
    asio::write(*socket, asio::buffer(bytes));
    return socket;
  };
  secure::Hello future;
  future.version = secure::protocol_version + 1;
  future.name = "future";
  auto s1 = raw_send(secure::encode_hello(future));
  auto s2 = raw_send({'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P'});

  REQUIRE(run_until(io, [&] {
    return server.counters->get(errc::auth_failed) == 1 && server.counters->get(errc::version_mismatch) == 1 &&
           server.counters->get(errc::bad_magic) == 1 && server.counters->get(errc::insecure_mismatch) == 1;
  }));
  CHECK(server.connections.size() == 1);

  // The good connection still carries traffic.
  std::vector<std::uint8_t> body(64, 9);
  for (int i = 0; i < 100; ++i) REQUIRE(good.get()->send(body).ok());
  REQUIRE(run_until(io, [&] { return received == 100; }));
  CHECK(good.closed.empty());
}

TEST_CASE("an authenticated peer sending a tampered record or an oversized frame is dropped alone") {
  // Proves post-handshake bad input closes only that connection, with its own counted reason.
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  auto options = fast_options();
  options.max_frame_bytes = 1024;
  options.dead_peer_timeout = Millis(5000);
  Server server(io, identity(key, "server"), options);
  auto counters = server.counters;
  // The server runs on its own thread; this thread plays a hand-driven peer
  // with blocking sockets: a real handshake, then bytes of our choosing.
  auto guard = asio::make_work_guard(io);
  std::thread server_thread([&] { io.run(); });
  auto wait_for = [](auto&& condition) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!condition() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    return condition();
  };
  asio::io_context client_io;
  auto evil = [&](std::function<void(secure::RecordSealer&, ByteBuffer&)> forge) {
    tcp::socket socket(client_io);
    socket.connect(server.endpoint());
    secure::Handshake hs(secure::Role::initiator, identity(key, "evil"));
    asio::write(socket, asio::buffer(hs.hello_bytes()));
    std::vector<std::uint8_t> in(4096), out;
    while (!hs.done()) {
      const std::size_t n = socket.read_some(asio::buffer(in));
      out.clear();
      REQUIRE(hs.feed({in.data(), n}, out).ok());
      if (!out.empty()) asio::write(socket, asio::buffer(out));
    }
    secure::RecordSealer sealer(hs.session().cipher, hs.session().send_key.data());
    ByteBuffer bytes;
    forge(sealer, bytes);
    asio::write(socket, asio::buffer(bytes.data(), bytes.size()));
    return socket;
  };
  auto tampered = evil([](secure::RecordSealer& sealer, ByteBuffer& bytes) {
    std::vector<std::uint8_t> frame = {4, 0, 0, 0, 1, 2, 3, 4};
    sealer.seal(frame, bytes);
    bytes.data()[bytes.size() - 1] ^= 1;
  });
  CHECK(wait_for([&] { return counters->get(errc::record_tampered) == 1; }));
  auto oversized = evil([](secure::RecordSealer& sealer, ByteBuffer& bytes) {
    std::vector<std::uint8_t> frame = {0, 0, 1, 0};  // announces 65536 bytes > 1024
    sealer.seal(frame, bytes);
  });
  CHECK(wait_for([&] { return counters->get(errc::frame_too_large) == 1; }));
  guard.reset();
  io.stop();
  server_thread.join();
  // Back on this thread: both connections finish closing, each with its reason.
  REQUIRE(run_until(io, [&] { return server.closed.size() == 2; }));
  CHECK(server.closed[0].code == errc::record_tampered);
  CHECK(server.closed[1].code == errc::frame_too_large);
}

TEST_CASE("insecure mode works when both sides agree") {
  // Proves the plaintext mode for benchmarks is a real, working mode.
  asio::io_context io;
  const auto key = secure::generate_cluster_key();
  auto id = identity(key, "server");
  id.insecure = true;
  std::size_t received = 0;
  Server server(io, id, fast_options(), [&](auto) { ++received; });
  auto client_id = identity(key, "client");
  client_id.insecure = true;
  Dialed client;
  dial_into(io, server.endpoint(), client_id, fast_options(), client);
  REQUIRE(run_until(io, [&] { return client.result.has_value(); }));
  REQUIRE(client.get());
  CHECK(std::string(client.get()->cipher()) == "insecure");
  std::vector<std::uint8_t> body(100, 3);
  for (int i = 0; i < 1000; ++i) REQUIRE(client.get()->send(body).ok());
  REQUIRE(run_until(io, [&] { return received == 1000; }));
}
