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
