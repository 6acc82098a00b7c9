// NodeCore: two cores wired by hand exchange membership on attach and carry
// an acked message exactly once, with its completion back at the sender.
#include <doctest/doctest.h>

#include <cstring>

#include "plexus/sim/node_core.hpp"

using namespace std::chrono_literals;
using namespace plexus;
using namespace plexus::sim;

namespace {

NodeSpec spec(const std::string& name, std::uint64_t instance) {
  NodeSpec s;
  s.name = name;
  s.listen_addrs = {{"127.0.0.1", 7000}};
  s.channels[std::string(default_channel)] = ChannelSpec{1, false};
  s.instance_id = instance;
  return s;
}

/// Carry every frame of `fx` from `from` to `to` (and none elsewhere), as many rounds as it takes.
void pump(NodeCore& a, NodeCore& b, Effects& fa, Effects& fb, Time now, std::vector<wire::Message>& delivered_at_b,
          std::vector<std::uint64_t>& completed_at_a) {
  for (int round = 0; round < 20 && (!fa.sends.empty() || !fb.sends.empty()); ++round) {
    Effects next_a, next_b;
    for (auto& [to, envelope] : fa.sends) b.receive(a.self().name, std::move(envelope), now, next_b);
    for (auto& [to, envelope] : fb.sends) a.receive(b.self().name, std::move(envelope), now, next_a);
    for (auto& m : next_b.delivered) delivered_at_b.push_back(m);
    for (auto& [token, outcome] : next_a.completed) if (outcome) completed_at_a.push_back(token);
    fa = std::move(next_a);
    fb = std::move(next_b);
    a.tick(now + 20ms, fa);
    b.tick(now + 20ms, fb);
    now += 20ms;
  }
}

}  // namespace

SCENARIO("two node cores converge on membership and deliver an acked message once") {
  Effects fa, fb;
  NodeCore a(spec("a", 1), NodeConfig{}, Rng(1), nullptr, 0ms, fa);
  NodeCore b(spec("b", 2), NodeConfig{}, Rng(2), nullptr, 0ms, fb);
  b.join(spec("a", 1), 0ms, fb);
  CHECK(std::find(fb.dials.begin(), fb.dials.end(), "a") == fb.dials.end());  // dials come from tick()
  b.tick(0ms, fb);
  CHECK(std::find(fb.dials.begin(), fb.dials.end(), "a") != fb.dials.end());
  fa.clear();
  fb.clear();
  a.link_up(spec("b", 2), 1ms, fa);
  b.link_up(spec("a", 1), 1ms, fb);
  std::vector<wire::Message> delivered;
  std::vector<std::uint64_t> completed;
  pump(a, b, fa, fb, 1ms, delivered, completed);
  CHECK(a.members().entries() == b.members().entries());
  CHECK(a.members().members().size() == 2);

  std::uint64_t id = 42;
  std::vector<std::uint8_t> payload(sizeof id);
  std::memcpy(payload.data(), &id, sizeof id);
  REQUIRE(static_cast<bool>(a.forward("b", payload, SendOptions{true, "", false}, 7, 1s, fa)));
  pump(a, b, fa, fb, 1s, delivered, completed);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].payload == payload);
  CHECK(completed == std::vector<std::uint64_t>{7});
  CHECK(a.pending_acks() == 0);
}

namespace {

/// What `a` delivers when b's life `instance` sends it acked message 1, after
/// b restarted and a's membership flipped to b's previous life and back.
std::size_t delivered_after_flip(Bug bug) {
  NodeConfig config;
  config.bug = bug;
  Effects fx;
  NodeCore a(spec("a", 1), config, Rng(1), nullptr, 0ms, fx);
  a.link_up(spec("b", 2), 1ms, fx);  // b's first life
  a.link_down("b", 2ms, fx);         // it crashed
  a.link_up(spec("b", 3), 3ms, fx);  // its next life attaches
  // Gossip of b's first life at a higher version (admitted elsewhere), then
  // the new life's refutation above it: the view flips to the dead life and back.
  a.receive("b", wire::Envelope{wire::Gossip{std::vector<wire::MemberEntry>{{spec("b", 2), 90, false}}}}, 4ms, fx);
  a.receive("b", wire::Envelope{wire::Gossip{std::vector<wire::MemberEntry>{{spec("b", 3), 91, false}}}}, 5ms, fx);
  a.link_up(spec("b", 3), 6ms, fx);
  fx.clear();
  wire::Message m;
  m.origin = "b";
  m.origin_instance = 3;
  m.target = "a";
  m.target_instance = 1;
  m.ack_id = 1;
  m.payload = {1, 2, 3};
  a.receive("b", wire::Envelope{m}, 7ms, fx);
  return fx.delivered.size();
}

}  // namespace

SCENARIO("a membership flip to a dead life does not make the live one stale") {
  CHECK(delivered_after_flip(Bug::none) == 1);
  // The behaviour before the fix: the live instance was forgotten for good.
  CHECK(delivered_after_flip(Bug::retire_on_flip) == 0);
}

SCENARIO("pending acks to a restarted node fail when its next life attaches") {
  Effects fx;
  NodeCore a(spec("a", 1), NodeConfig{}, Rng(1), nullptr, 0ms, fx);
  a.link_up(spec("b", 2), 1ms, fx);
  REQUIRE(static_cast<bool>(a.forward("b", {1}, SendOptions{true, "", false}, 9, 2ms, fx)));
  a.link_down("b", 3ms, fx);
  fx.clear();
  a.link_up(spec("b", 3), 4ms, fx);
  REQUIRE(fx.completed.size() == 1);
  CHECK(fx.completed[0].first == 9);
  CHECK_FALSE(static_cast<bool>(fx.completed[0].second));
  CHECK(a.pending_acks() == 0);
}
