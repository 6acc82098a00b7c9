// The peer service's named bounds over real sockets on 127.0.0.1:
// Config::unattached_incoming_max (accepted connections that never attach)
// and Config::dispatch_queue_max (received messages waiting for handlers).
// Waits are on conditions with deadlines, never sleeps.
#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "plexus/core/errors.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/transport/endpoint.hpp"
#include "../support/inbox.hpp"
#include "../support/loop.hpp"

using namespace plexus;
using namespace plexus::peer;
using plexus::testing::Inbox;
using plexus::testing::run_until;

namespace {

constexpr std::size_t flood_connections = 24;
constexpr std::size_t unattached_max = 4;
constexpr std::size_t messages = 200;

struct Pair {
  asio::io_context io;
  secure::ClusterKey key = secure::generate_cluster_key();
  std::shared_ptr<PeerService> a, b;
  std::shared_ptr<Inbox> a_sink = std::make_shared<Inbox>();

  Config config(const std::string& name) {
    Config c;
    c.name = name;
    c.key = key;
    c.heartbeat_interval = Millis(50);
    c.peer_timeout = Millis(1000);
    c.retransmit_interval = Millis(20);
    return c;
  }
  std::shared_ptr<PeerService> start(const Config& c) {
    auto started = PeerService::start(io.get_executor(), c);
    REQUIRE_MESSAGE(started.ok(), started.error().message());
    return *started;
  }
  // b joins a; true once each sees the other up.
  bool join() {
    REQUIRE(b->join(a->spec()).ok());
    return run_until(io, [&] {
      for (auto* node : {a.get(), b.get()}) {
        const auto status = node->member_status();
        if (status.size() != 2) return false;
        for (const auto& m : status) if (!m.up) return false;
      }
      return true;
    });
  }
};

std::vector<std::uint8_t> payload_of(std::size_t i) {
  const auto text = std::to_string(i);
  return {text.begin(), text.end()};
}

// One connection with the cluster key that never attaches, kept in `idle`.
// (Parameters by value: no temporaries in a co_await expression.)
asio::awaitable<void> dial_idle(asio::any_io_executor executor, asio::ip::tcp::endpoint target,
                                secure::HandshakeConfig who, std::vector<transport::ConnectionPtr>* idle,
                                std::size_t* dialed) {
  const transport::Options options;
  auto counters = std::make_shared<transport::Counters>();
  auto connection = co_await transport::dial(executor, target, who, options, counters);
  ++*dialed;
  if (connection) idle->push_back(*connection);
}

// Distinct payloads `a` received, as numbers.
std::set<std::string> distinct(Inbox& inbox) {
  std::set<std::string> out;
  for (const auto& r : inbox.copy()) out.insert(std::string(r.payload.begin(), r.payload.end()));
  return out;
}

}  // namespace

TEST_CASE("a flood of idle unattached connections is refused past unattached_incoming_max and does not starve an "
          "attached peer's traffic") {
  // Proves: accepted connections that never attach stop at the bound (the
  // rest are closed at accept and counted), while messages between two
  // attached members all arrive during the flood.
  Pair p;
  auto config_a = p.config("a");
  config_a.unattached_incoming_max = unattached_max;
  config_a.transport.handshake_timeout = Millis(30'000);  // the idle ones stay for the whole test
  p.a = p.start(config_a);
  REQUIRE(p.a->register_server("sink", [inbox = p.a_sink](const Received& r) { inbox->push(r); }).ok());
  p.b = p.start(p.config("b"));
  REQUIRE(p.join());

  // Idle connections with the cluster key: handshake done, no Attach ever.
  secure::HandshakeConfig intruder{p.key, "idle", 7, false, 0};
  const auto target = asio::ip::tcp::endpoint(asio::ip::make_address(p.a->spec().listen_addrs.front().ip),
                                              p.a->spec().listen_addrs.front().port);
  std::vector<transport::ConnectionPtr> idle;
  std::size_t dialed = 0;
  for (std::size_t i = 0; i < flood_connections; ++i) {
    secure::HandshakeConfig who = intruder;
    who.instance_id = 100 + i;
    asio::co_spawn(p.io, dial_idle(p.io.get_executor(), target, who, &idle, &dialed), asio::detached);
  }
  // Traffic between the members while the flood arrives.
  std::atomic<std::size_t> acked{0};
  for (std::size_t i = 0; i < messages; ++i) {
    ForwardOptions options;
    options.ack = true;
    REQUIRE(p.b->forward_message("a", "sink", payload_of(i), options, [&acked](const Result<void>& r) {
      if (r) ++acked;
    }).ok());
  }
  REQUIRE(run_until(p.io, [&] {
    const auto m = p.a->metrics();
    return dialed == flood_connections && m.unattached_incoming + m.unattached_refused >= flood_connections;
  }));
  const auto m = p.a->metrics();
  CHECK(m.unattached_incoming == unattached_max);
  CHECK(m.unattached_refused == flood_connections - unattached_max);
  REQUIRE(run_until(p.io, [&] { return acked == messages; }));
  CHECK(distinct(*p.a_sink).size() == messages);
  CHECK(p.a_sink->size() == messages);  // exactly once
  // More traffic after the flood, with the idle ones still open.
  for (std::size_t i = messages; i < 2 * messages; ++i) REQUIRE(p.b->forward_message("a", "sink", payload_of(i)).ok());
  REQUIRE(run_until(p.io, [&] { return p.a_sink->size() == 2 * messages; }));
  CHECK(p.a->metrics().unattached_incoming == unattached_max);
  for (auto& c : idle) c->close();
}

TEST_CASE("past dispatch_queue_max received messages are dropped unacked, and acked ones arrive once the handler "
          "caught up") {
  // Proves: a stalled handler holds at most dispatch_queue_max messages; the
  // rest are refused before dedupe (counted as dispatch_queue_full), so
  // retransmission delivers every acked message exactly once afterwards.
  constexpr std::size_t queue_max = 8;
  Pair p;
  auto config_a = p.config("a");
  config_a.dispatch_queue_max = queue_max;
  p.a = p.start(config_a);
  struct Gate {
    std::mutex mutex;
    std::condition_variable cv;
    bool released = false;
  };
  auto gate = std::make_shared<Gate>();  // shared: the handler may outlive this scope's locals
  auto inbox = p.a_sink;
  ServerOptions on_worker;
  on_worker.placement = ServerOptions::Placement::worker;
  REQUIRE(p.a->register_server("slow", [gate, inbox](const Received& r) {
    std::unique_lock lock(gate->mutex);
    // Held until the test releases it (bounded: 20 s).
    gate->cv.wait_for(lock, std::chrono::seconds(20), [&] { return gate->released; });
    lock.unlock();
    inbox->push(r);
  }, on_worker).ok());
  p.b = p.start(p.config("b"));
  REQUIRE(p.join());

  std::atomic<std::size_t> acked{0};
  for (std::size_t i = 0; i < messages; ++i) {
    ForwardOptions options;
    options.ack = true;
    REQUIRE(p.b->forward_message("a", "slow", payload_of(i), options, [&acked](const Result<void>& r) {
      if (r) ++acked;
    }).ok());
  }
  auto full_drops = [&] {
    const auto drops = p.a->metrics().drops;
    const auto it = drops.find("dispatch_queue_full");
    return it == drops.end() ? std::uint64_t(0) : it->second;
  };
  REQUIRE(run_until(p.io, [&] { return full_drops() > 0; }));
  CHECK(p.a->metrics().dispatch_queued <= queue_max);
  CHECK(acked < messages);
  // A message to its own server is refused too while the queue is full.
  const auto to_self = p.a->forward_message("a", "slow", payload_of(0));
  REQUIRE_FALSE(to_self.ok());
  CHECK(to_self.error().code == errc::outbox_full);
  {
    std::lock_guard lock(gate->mutex);
    gate->released = true;
  }
  gate->cv.notify_all();
  REQUIRE(run_until(p.io, [&] { return acked == messages; }, std::chrono::seconds(20)));
  REQUIRE(run_until(p.io, [&] { return inbox->size() >= messages; }));
  CHECK(distinct(*inbox).size() == messages);
  CHECK(inbox->size() == messages);  // exactly once
  CHECK(p.a->metrics().dispatch_queued == 0);
}
