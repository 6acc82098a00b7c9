// Seeded simulation of causal delivery: 3-5 processes exchange point-to-point
// messages over a network with random delays (a seeded event queue, no
// threads). Some sends are spontaneous, some react to a delivery, so many
// messages are causally related through third processes. The test keeps its
// own full vector clocks (every send and delivery is an event) as ground
// truth for happened-before, independent of the algorithm under test.
#include <doctest/doctest.h>

#include <algorithm>
#include <queue>
#include <random>

#include "plexus/delivery/causal.hpp"
#include "plexus/delivery/errors.hpp"
#include "plexus/delivery/test_seeds.hpp"

using namespace plexus::delivery;

namespace {

using VectorClock = std::vector<std::uint64_t>;

/// a happened before b: a <= b everywhere and a != b.
bool happened_before(const VectorClock& a, const VectorClock& b) {
  bool smaller = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] > b[i]) return false;
    smaller = smaller || a[i] < b[i];
  }
  return smaller;
}

struct Message {
  std::size_t from, to;
  Stamp stamp;
  VectorClock sent_at;  ///< ground truth: the sender's full clock at the send event
  bool delivered = false;
};

struct Event {
  std::uint64_t at, order;
  bool arrival;           ///< true: message `index` arrives; false: process `index` sends
  std::size_t index;
  bool operator>(const Event& other) const { return std::tie(at, order) > std::tie(other.at, other.order); }
};

class World {
 public:
  explicit World(std::uint64_t seed) : rng_(seed) {
    const std::size_t n = 3 + rng_() % 3;
    for (std::size_t i = 0; i < n; ++i) {
      names_.push_back("p" + std::to_string(i) + "#" + std::to_string(rng_() % 1000000));
      labels_.emplace_back(names_.back());
    }
    clocks_.assign(n, VectorClock(n, 0));
    max_delay_ = 1 + rng_() % 200;
    react_percent_ = rng_() % 90;
    budget_ = 20 + rng_() % 300;
    for (std::uint64_t i = 0, spontaneous = 5 + rng_() % 60; i < spontaneous; ++i) {
      push(Event{rng_() % 1000, 0, false, rng_() % n});
    }
  }

  void run() {
    while (!events_.empty()) {
      Event event = events_.top();
      events_.pop();
      now_ = event.at;
      if (event.arrival) {
        arrive(event.index);
      } else {
        send(event.index);
      }
    }
  }

  void check_liveness() const {
    for (const Message& m : messages_) CHECK(m.delivered);
    for (const CausalLabel& label : labels_) CHECK(label.buffered() == 0);
  }
  [[nodiscard]] std::size_t messages() const { return messages_.size(); }
  [[nodiscard]] std::size_t widest_stamp() const { return widest_; }
  [[nodiscard]] std::size_t processes() const { return names_.size(); }

 private:
  void push(Event event) {
    event.order = order_++;
    events_.push(event);
  }

  void send(std::size_t from) {
    if (messages_.size() >= budget_) return;
    std::size_t to = rng_() % (names_.size() - 1);
    if (to >= from) ++to;
    ++clocks_[from][from];
    auto stamp = labels_[from].stamp_send(names_[to]);
    REQUIRE(stamp.ok());
    widest_ = std::max(widest_, stamp->entries());
    messages_.push_back(Message{from, to, std::move(*stamp), clocks_[from]});
    // Heavy-tailed delays: mostly short, sometimes very long, so messages overtake each other.
    std::uint64_t delay = 1 + rng_() % max_delay_;
    if (rng_() % 10 == 0) delay *= 20;
    push(Event{now_ + delay, 0, true, messages_.size() - 1});
  }

  void arrive(std::size_t index) {
    const Message& m = messages_[index];
    CausalLabel& label = labels_[m.to];
    REQUIRE(label.admit(names_[m.from], m.stamp).ok());
    REQUIRE(label.receive(names_[m.from], m.stamp, index).ok());
    for (std::uint64_t handle : label.take_deliverable()) deliver(static_cast<std::size_t>(handle));
  }

  void deliver(std::size_t index) {
    Message& m = messages_[index];
    REQUIRE_FALSE(m.delivered);
    // Safety: no message to this process that happened before m may still be undelivered.
    for (const Message& other : messages_) {
      if (other.to == m.to && !other.delivered && happened_before(other.sent_at, m.sent_at)) {
        FAIL("delivered " << names_[m.from] << "->" << names_[m.to] << " before a message it depends on");
      }
    }
    m.delivered = true;
    VectorClock& clock = clocks_[m.to];
    for (std::size_t i = 0; i < clock.size(); ++i) clock[i] = std::max(clock[i], m.sent_at[i]);
    ++clock[m.to];
    if (rng_() % 100 < react_percent_) push(Event{now_ + rng_() % 5, 0, false, m.to});
  }

  std::mt19937_64 rng_;
  std::vector<std::string> names_;
  std::vector<CausalLabel> labels_;
  std::vector<VectorClock> clocks_;
  std::vector<Message> messages_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t now_ = 0, order_ = 0, max_delay_ = 1, react_percent_ = 0, budget_ = 0;
  std::size_t widest_ = 0;
};

}  // namespace

TEST_CASE("random point-to-point traffic is delivered in causal order, and all of it") {
  // Proves safety (no delivery before a happened-before predecessor) and liveness, over many seeds and patterns.
  std::size_t total = 0;
  for (std::uint64_t seed : test::seeds(500)) {
    INFO("replay: " << test::replay(seed, "random point-to-point traffic*"));
    World world(seed);
    world.run();
    world.check_liveness();
    const std::size_t n = world.processes();
    CHECK(world.widest_stamp() <= n + (n - 1) * (n - 1));  // tm, plus ORD for n-1 destinations by n-1 senders
    total += world.messages();
  }
  CHECK(total > 0);
}

TEST_CASE("a buffer bound holds under a burst behind one slow message") {
  // Proves max_buffered is enforced under load and the label recovers once the slow message arrives.
  CausalOptions options;
  options.max_buffered = 16;
  CausalLabel sender("s#1"), relay("r#1"), receiver("q#1", options);
  Stamp slow = *sender.stamp_send("q#1");
  Stamp to_relay = *sender.stamp_send("r#1");
  REQUIRE(relay.receive("s#1", to_relay, 0).ok());
  REQUIRE(relay.take_deliverable().size() == 1);
  std::vector<Stamp> burst;  // causally after `slow` through the relay
  for (int i = 0; i < 40; ++i) burst.push_back(*relay.stamp_send("q#1"));
  std::size_t refused = 0;
  for (std::size_t i = 0; i < burst.size(); ++i) {
    auto received = receiver.receive("r#1", burst[i], i + 1);
    if (!received.ok()) {
      CHECK(received.error().code == errc::causal_buffer_full);
      ++refused;
    }
    CHECK(receiver.buffered() <= options.max_buffered);
  }
  CHECK(refused == burst.size() - options.max_buffered);
  CHECK(receiver.take_deliverable().empty());
  REQUIRE(receiver.receive("s#1", slow, 0).ok());
  CHECK(receiver.take_deliverable().size() == options.max_buffered + 1);
  // The refused ones come again (the sender retransmits them) and now deliver in order.
  for (std::size_t i = options.max_buffered; i < burst.size(); ++i) {
    REQUIRE(receiver.receive("r#1", burst[i], i + 1).ok());
  }
  CHECK(receiver.take_deliverable().size() == refused);
}
