#include "transport_cell.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/address.hpp>
#include <asio/use_awaitable.hpp>

#include <cstring>
#include <future>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "plexus/core/errors.hpp"
#include "plexus/secure/cluster_key.hpp"
#include "plexus/transport/endpoint.hpp"
#include "worker.hpp"

namespace plexus::bench {
namespace {

using transport::ConnectionPtr;
using namespace std::chrono_literals;

// Bounds on everything that is not the measurement itself.
constexpr auto setup_limit = 10s;
constexpr auto close_limit = 15s;

secure::HandshakeConfig identity(const secure::ClusterKey& key, const char* name, bool insecure) {
  secure::HandshakeConfig config;
  config.key = key;
  config.node_name = name;
  config.instance_id = std::hash<std::string>{}(name);
  config.insecure = insecure;
  return config;
}

// State touched only on the receiver's thread.
struct ReceiverSide {
  std::shared_ptr<transport::Listener> listener;
  ConnectionPtr connection;
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  std::uint64_t broken = 0;  // frames of the wrong size or out of order
  std::uint64_t stop_at_bytes = std::numeric_limits<std::uint64_t>::max();
  bool limit_signalled = false;
  Error closed_why;
  std::promise<void> accepted, closed, limit_reached;
};

// State touched only on the sender's thread.
struct SenderSide {
  ConnectionPtr connection;
  std::vector<std::uint8_t> body;
  std::uint64_t next_index = 0;
  bool stopping = false;
  Error failure;
  Error closed_why;
  std::promise<void> closed;
};

// Counters read at one end of the measurement window.
struct Mark {
  std::uint64_t frames = 0, bytes = 0;
  Snapshot at;
  std::uint64_t writes = 0, wire_bytes = 0;
  double sender_cpu_s = 0, receiver_cpu_s = 0;
};

class Cell {
 public:
  explicit Cell(const CellSpec& spec)
      : spec_(spec),
        sender_("plexus-sender", spec.pin_threads ? 0 : -1),
        receiver_("plexus-receiver", spec.pin_threads ? 1 : -1) {}
  // Join both threads before the connections and then the io_contexts go.
  ~Cell() {
    sender_.stop();
    receiver_.stop();
  }
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;

  void run(CellResult& result) {
    auto limit_reached = rx_.limit_reached.get_future();
    result.cipher = connect();
    std::this_thread::sleep_for(std::chrono::duration<double>(spec_.warmup_s));
    const Mark start = mark(true);
    wait_bounded(limit_reached, std::chrono::duration<double>(spec_.seconds));
    const Mark end = mark(false);
    result.frames = end.frames - start.frames;
    result.bytes = end.bytes - start.bytes;
    result.window = between(start.at, end.at);
    result.writes = end.writes - start.writes;
    result.wire_bytes = end.wire_bytes - start.wire_bytes;
    result.sender_cpu_s = end.sender_cpu_s - start.sender_cpu_s;
    result.receiver_cpu_s = end.receiver_cpu_s - start.receiver_cpu_s;
    finish(result);
  }

 private:
  std::string connect() {
    auto counters = counters_;
    const auto endpoint = run_on(receiver_, [this, counters] {
      auto opened = transport::Listener::open(
          receiver_.executor(), {asio::ip::make_address("127.0.0.1"), 0},
          identity(key_, "receiver", spec_.insecure), spec_.options, counters,
          [this](ConnectionPtr c) { accept(std::move(c)); });
      if (!opened) throw std::runtime_error("listen: " + opened.error().message());
      rx_.listener = opened.value();
      return rx_.listener->local_endpoint();
    });
    auto dialed = std::make_shared<std::promise<Result<ConnectionPtr>>>();
    auto dialed_result = dialed->get_future();
    asio::co_spawn(sender_.io(), [this, endpoint, counters, dialed]() -> asio::awaitable<void> {
      dialed->set_value(co_await transport::dial(sender_.executor(), endpoint,
                                                 identity(key_, "sender", spec_.insecure),
                                                 spec_.options, counters));
    }, asio::detached);
    auto accepted = rx_.accepted.get_future();
    if (!wait_bounded(dialed_result, setup_limit)) throw std::runtime_error("dial did not finish");
    auto connection = dialed_result.get();
    if (!connection) throw std::runtime_error("dial: " + connection.error().message());
    if (!wait_bounded(accepted, setup_limit)) throw std::runtime_error("listener never accepted");
    return run_on(sender_, [this, c = connection.value()] {
      tx_.connection = c;
      c->start({}, [this](const Error& why) {
        tx_.closed_why = why;
        tx_.closed.set_value();
      });
      tx_.body.assign(spec_.frame_bytes, 0x5a);
      pump();
      return std::string(c->cipher());
    });
  }

  // Receiver thread: the listener handed over the connection.
  void accept(ConnectionPtr c) {
    if (rx_.connection) return;  // only the benchmark's own dial is expected
    rx_.connection = c;
    c->start([this](std::span<const std::uint8_t> body) { on_frame(body); },
             [this](const Error& why) {
               rx_.closed_why = why;
               rx_.closed.set_value();
             });
    rx_.accepted.set_value();
  }

  // Receiver thread: count, and check size and order (the index in the first 8 bytes).
  void on_frame(std::span<const std::uint8_t> body) {
    if (body.size() != spec_.frame_bytes) {
      ++rx_.broken;
    } else if (body.size() >= 8) {
      std::uint64_t index = 0;
      std::memcpy(&index, body.data(), 8);
      if (index != rx_.frames) ++rx_.broken;
    }
    ++rx_.frames;
    rx_.bytes += body.size();
    if (rx_.bytes >= rx_.stop_at_bytes && !rx_.limit_signalled) {
      rx_.limit_signalled = true;
      rx_.limit_reached.set_value();
    }
  }

  // Sender thread: fill the outbox, then wait for on_writable (no spin, no sleep).
  void pump() {
    while (!tx_.stopping) {
      if (tx_.body.size() >= 8) std::memcpy(tx_.body.data(), &tx_.next_index, 8);
      auto sent = tx_.connection->send(tx_.body);
      if (sent.ok()) {
        ++tx_.next_index;
        continue;
      }
      if (sent.error().code == errc::outbox_full) {
        // Posted, not called: on_writable fires inside the writer, just before
        // it writes; resuming after that write has started keeps both going.
        tx_.connection->on_writable([this] { asio::post(sender_.io(), [this] { pump(); }); });
      } else {
        tx_.failure = sent.error();
      }
      return;
    }
  }

  Mark mark(bool arm_limit) {
    Mark m = run_on(receiver_, [this, arm_limit] {
      if (arm_limit) rx_.stop_at_bytes = rx_.bytes + spec_.max_bytes;
      Mark rx;
      rx.frames = rx_.frames;
      rx.bytes = rx_.bytes;
      rx.at = take_snapshot();
      rx.receiver_cpu_s = thread_cpu_seconds();
      return rx;
    });
    const auto [stats, sender_cpu_s] = run_on(sender_, [this] {
      return std::pair{tx_.connection->stats(), thread_cpu_seconds()};
    });
    m.writes = stats.writes;
    m.wire_bytes = stats.bytes_written;
    m.sender_cpu_s = sender_cpu_s;
    return m;
  }

  // Stop the producer, close gracefully, and check that every accepted frame arrived.
  void finish(CellResult& result) {
    auto tx_closed = tx_.closed.get_future();
    auto rx_closed = rx_.closed.get_future();
    const auto sent = run_on(sender_, [this] {
      tx_.stopping = true;
      tx_.connection->close();
      return tx_.connection->stats().frames_sent;
    });
    if (!wait_bounded(tx_closed, close_limit) || !wait_bounded(rx_closed, close_limit)) {
      throw std::runtime_error("graceful close did not finish");
    }
    const auto [received, broken] = run_on(receiver_, [this] {
      rx_.listener->stop();
      return std::pair{rx_.frames, rx_.broken};
    });
    const auto [tx_failure, tx_closed_why] =
        run_on(sender_, [this] { return std::pair{tx_.failure, tx_.closed_why}; });
    const auto rx_closed_why = run_on(receiver_, [this] { return rx_.closed_why; });
    if (tx_failure.code) result.error = "send: " + tx_failure.message();
    else if (tx_closed_why.code) result.error = "sender closed: " + tx_closed_why.message();
    else if (rx_closed_why.code != errc::peer_closed) result.error = "receiver closed: " + rx_closed_why.message();
    else if (received != sent) {
      result.error = std::to_string(sent) + " frames accepted, " + std::to_string(received) + " delivered";
    } else if (broken != 0) {
      result.error = std::to_string(broken) + " frames arrived out of order or resized";
    }
    result.verified = result.error.empty();
    run_on(sender_, [this] { tx_.connection.reset(); });
    run_on(receiver_, [this] {
      rx_.connection.reset();
      rx_.listener.reset();
    });
  }

  CellSpec spec_;
  secure::ClusterKey key_ = secure::generate_cluster_key();
  std::shared_ptr<transport::Counters> counters_ = std::make_shared<transport::Counters>();
  Worker sender_;
  Worker receiver_;
  // Declared after the workers, so destroyed before their io_contexts.
  ReceiverSide rx_;
  SenderSide tx_;
};

}  // namespace

CellResult run_transport_cell(const CellSpec& spec) {
  CellResult result;
  result.mode = spec.insecure ? "insecure" : "encrypted";
  result.frame_bytes = spec.frame_bytes;
  try {
    Cell cell(spec);
    cell.run(result);
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace plexus::bench
