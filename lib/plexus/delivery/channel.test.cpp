// End-to-end simulation of `ack: true` over a lossy, duplicating, reordering
// channel: sender AckTable, receiver Dedupe + AckBatcher, virtual time in
// 1 ms steps, one seeded generator per run, no threads.
#include <doctest/doctest.h>

#include <map>
#include <queue>
#include <random>

#include "plexus/delivery/delivery.hpp"
#include "plexus/delivery/test_seeds.hpp"

using namespace plexus::delivery;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t sender_instance = 0xfeed;

struct Packet {
  bool to_receiver = true;
  std::uint64_t id = 0;  ///< data: the message id
  Payload payload;       ///< data: the message
  std::vector<std::uint64_t> acks;  ///< ack: ids
  std::uint64_t watermark = 0;      ///< ack: cumulative ack (0 = none)
};

struct InFlight {
  Time at;
  std::uint64_t order;
  Packet packet;
  bool operator>(const InFlight& other) const { return std::tie(at, order) > std::tie(other.at, other.order); }
};

/// A channel that drops, duplicates and delays (so reorders) every packet independently.
class LossyChannel {
 public:
  LossyChannel(std::mt19937_64& rng, double drop, double duplicate, std::uint64_t max_delay_ms)
      : rng_(rng), drop_(drop), duplicate_(duplicate), max_delay_ms_(max_delay_ms) {}

  void send(const Packet& packet, Time now) {
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    if (coin(rng_) < drop_) return;
    const int copies = coin(rng_) < duplicate_ ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      const Time delay = std::chrono::milliseconds(1 + rng_() % max_delay_ms_);
      queue_.push(InFlight{now + delay, next_order_++, packet});
    }
  }
  /// Packets arriving at `now`.
  std::vector<Packet> arrivals(Time now) {
    std::vector<Packet> out;
    while (!queue_.empty() && queue_.top().at <= now) {
      out.push_back(queue_.top().packet);
      queue_.pop();
    }
    return out;
  }
  [[nodiscard]] bool empty() const { return queue_.empty(); }

 private:
  std::mt19937_64& rng_;
  double drop_, duplicate_;
  std::uint64_t max_delay_ms_;
  std::uint64_t next_order_ = 0;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> queue_;
};

Payload message(std::uint64_t index) {
  Payload out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(index >> (8 * i));
  return out;
}

struct Receiver {
  Dedupe dedupe;
  AckBatcher batcher;
  std::map<std::uint64_t, int> delivered;  ///< id -> deliveries
  std::size_t overflows = 0;

  explicit Receiver(DedupeOptions options) : dedupe(options) {}

  void on_data(const Packet& packet) {
    const Verdict verdict = dedupe.check(sender_instance, "sender", packet.id);
    REQUIRE(verdict != Verdict::stale);
    if (verdict == Verdict::overflow) {
      ++overflows;
      return;
    }
    if (verdict == Verdict::deliver) {
      // Ids are per-target sequential from 1, so message index i has id i + 1.
      REQUIRE(packet.payload == message(packet.id - 1));
      ++delivered[packet.id];
    }
    REQUIRE(batcher.add("sender", packet.id));
  }
};

}  // namespace

TEST_CASE("acked messages over a lossy, duplicating, reordering channel: exactly once, all acked") {
  // Proves AckTable + Dedupe + AckBatcher deliver every message exactly once and settle every ack, over many seeds.
  for (std::uint64_t seed : test::seeds(300)) {
    INFO("replay: " << test::replay(seed, "acked messages over a lossy*"));
    std::mt19937_64 rng(seed);
    const std::uint64_t count = 1 + rng() % 300;
    const double drop = static_cast<double>(rng() % 40) / 100.0;
    const double duplicate = static_cast<double>(rng() % 40) / 100.0;
    LossyChannel channel(rng, drop, duplicate, 1 + rng() % 80);
    AckTableOptions sender_options;
    sender_options.retransmit_interval = std::chrono::milliseconds(20 + rng() % 50);
    sender_options.exponential_backoff = rng() % 2 == 0;
    sender_options.retransmit_interval_max = 400ms;
    AckTable sender(sender_options);
    DedupeOptions receiver_options;
    receiver_options.max_out_of_order = rng() % 2 == 0 ? 4 : 65536;  // exercise overflow on half the seeds
    Receiver receiver(receiver_options);
    const bool cumulative = rng() % 2 == 0;
    std::uint64_t added = 0;
    Time now{0};
    for (; now < 600s; now += 1ms) {
      if (added < count && rng() % 3 == 0) {
        auto id = sender.add("receiver#1", message(added), now);
        REQUIRE(id.ok());
        REQUIRE(*id == added + 1);
        channel.send(Packet{true, *id, message(added), {}, 0}, now);
        ++added;
      }
      for (const Due& due : sender.due(now)) {
        channel.send(Packet{true, due.id, Payload(due.payload.begin(), due.payload.end()), {}, 0}, now);
      }
      for (Packet& packet : channel.arrivals(now)) {
        if (packet.to_receiver) {
          receiver.on_data(packet);
        } else {
          sender.acknowledge("receiver#1", packet.acks);
          if (packet.watermark > 0) sender.acknowledge_up_to("receiver#1", packet.watermark);
        }
      }
      if (now % 10ms == 0ms) {
        for (AckBatch& batch : receiver.batcher.drain()) {
          const std::uint64_t watermark = cumulative ? receiver.dedupe.watermark(sender_instance) : 0;
          channel.send(Packet{false, 0, {}, std::move(batch.ids), watermark}, now);
        }
      }
      if (added == count && sender.size() == 0 && channel.empty()) break;
    }
    CAPTURE(count);
    CAPTURE(drop);
    CAPTURE(duplicate);
    CHECK(now < 600s);
    CHECK(sender.size() == 0);
    CHECK(sender.expired(now).empty());
    CHECK(receiver.delivered.size() == count);
    for (const auto& [id, times] : receiver.delivered) REQUIRE(times == 1);
    CHECK(receiver.dedupe.watermark(sender_instance) == count);
  }
}
