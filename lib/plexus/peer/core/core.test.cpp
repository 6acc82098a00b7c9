// The peer core's decisions without sockets: the attach policy, the nudge
// answer and the receive order (relay, stale target, unknown server with a
// refused ack, dedupe, causal waiting), driven by hand between cores.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "plexus/core/errors.hpp"
#include "plexus/peer/core/core.hpp"
#include "plexus/peer/core/member_entries.hpp"
#include "plexus/peer/core/test_support.hpp"

using namespace std::chrono_literals;
using namespace plexus;
using namespace plexus::peer::core;
using namespace plexus::peer::core::testing;


TEST_CASE("attach: a mismatched identity is aborted, a new member is bound and admitted") {
  // Proves the first steps of the attach policy: the handshake's identity rules, attaching is joining.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  auto wrong = facts(spec("b", 2), false);
  wrong.handshake_instance = 3;
  CHECK(a.attach(wrong, 1ms).verdict == AttachVerdict::mismatch);
  CHECK(a.members().find("b") == nullptr);
  const auto bound = a.attach(facts(spec("b", 2), false), 1ms);
  CHECK(bound.verdict == AttachVerdict::bind);
  CHECK(bound.answer);  // we did not dial: our attach answers theirs
  REQUIRE(a.members().find("b") != nullptr);
  const Output out = a.take();
  REQUIRE(out.changes.size() == 1);
  CHECK(out.changes[0].kind == membership::ChangeKind::added);
  CHECK(out.changes[0].spec.name == "b");
  CHECK(out.persist);
  CHECK_FALSE(a.attach(facts(spec("b", 2), true), 2ms).answer);  // a dialer waits for the answer
}

TEST_CASE("attach: a removed life is told of its removal and refused") {
  // Proves that a life removed from the cluster gets its tombstone and a Leave, not a link.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  REQUIRE(a.admit(spec("b", 2), 0ms));
  REQUIRE(a.members().remove("b"));
  const auto decision = a.attach(facts(spec("b", 2), false), 1ms);
  CHECK(decision.verdict == AttachVerdict::removed_life);
  REQUIRE(decision.replies.size() == 2);
  const auto& gossip = std::get<wire::Gossip>(decision.replies[0]);
  const auto& entries = std::get<std::vector<wire::MemberEntry>>(gossip.body);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].removed);
  const auto& leave = std::get<wire::Leave>(decision.replies[1]);
  CHECK(leave.node == "b");
  CHECK(leave.instance_id == 2);
}

TEST_CASE("attach: a nudge is answered on its own link and does not bind a slot") {
  // Proves the nudge branch: the answered side replies with its attach, the nudger's peer is due a dial.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  const auto decision = a.attach(facts(spec("b", 2), false, true), 1ms);
  CHECK(decision.verdict == AttachVerdict::nudge);
  CHECK(decision.answer);
  // "a" < "b": a dials b, at once.
  CHECK(a.liveness().dial_due("b", 1ms));
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  const auto answered = b.attach(facts(spec("a", 1), true, true), 1ms);
  CHECK(answered.verdict == AttachVerdict::nudge);
  CHECK_FALSE(answered.answer);
  // b nudged a and a answered: b does not nudge again before a's dial had time.
  CHECK_FALSE(b.liveness().dial_due("a", 2ms));
}

TEST_CASE("attach: a new life of a member fails what waits on the old one") {
  // Proves that an attach retires every other life: pending acked sends to it fail at once.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  link(a, b, 1ms);
  Seen seen;
  pump({&a, &b}, 1ms, seen);
  SendOptions options;
  options.ack = true;
  REQUIRE(a.forward("b", bytes(7), options, 70, 2ms));
  (void)a.take();  // the message is lost: b never sees it
  CHECK(a.acks().size() == 1);
  REQUIRE(a.members().add(spec("b", 3)));  // b restarted and says so
  CHECK(a.attach(facts(spec("b", 3), false), 3ms).verdict == AttachVerdict::bind);
  const Output out = a.take();
  REQUIRE(out.completions.size() == 1);
  CHECK(out.completions[0].first == 70);
  CHECK(out.completions[0].second.error().code == errc::connection_closed);
}

TEST_CASE("nudge answer: the nudger gets the entries its digest lacks") {
  // Proves the nudge answer: a joiner's empty digest is answered with every entry we hold.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  REQUIRE(a.admit(spec("c", 3), 0ms));
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  const auto digest = to_wire(b.members().digest());
  const auto replies = a.answer_nudge("b", digest);
  REQUIRE(replies.size() == 1);
  const auto& entries = std::get<std::vector<wire::MemberEntry>>(std::get<wire::Gossip>(replies[0]).body);
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.spec.name);
  CHECK(std::find(names.begin(), names.end(), "a") != names.end());
  CHECK(std::find(names.begin(), names.end(), "c") != names.end());
}

TEST_CASE("receive: an acked message to an unknown server is refused, and the sender fails at once") {
  // Proves the unknown-server step: no delivery, a refused ack, completion with unknown_server.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  b.serve("known");
  link(a, b, 1ms);
  Seen seen;
  pump({&a, &b}, 1ms, seen);
  SendOptions options;
  options.ack = true;
  options.server = "missing";
  REQUIRE(a.forward("b", bytes(1), options, 11, 2ms));
  options.server = "known";
  REQUIRE(a.forward("b", bytes(2), options, 12, 2ms));
  pump({&a, &b}, 2ms, seen);
  CHECK(has(seen.drops, "unknown_server"));
  b.tick(20ms);  // flushes acks: one ack with an id and a refusal
  pump({&a, &b}, 20ms, seen);
  REQUIRE(seen.delivered.size() == 1);
  CHECK(seen.delivered[0].server == "known");
  REQUIRE(seen.completed.size() == 2);
  std::map<std::uint64_t, bool> ok;
  for (const auto& [token, outcome] : seen.completed) ok[token] = static_cast<bool>(outcome);
  CHECK(ok.at(12));
  CHECK_FALSE(ok.at(11));
  for (const auto& [token, outcome] : seen.completed) {
    if (token == 11) CHECK(outcome.error().code == errc::unknown_server);
  }
  CHECK(a.acks().size() == 0);
}

TEST_CASE("receive: a retransmitted acked message is delivered once and acked again") {
  // Proves dedupe in the receive order: the second arrival is dropped as a duplicate but acknowledged.
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  link(a, b, 1ms);
  Seen seen;
  pump({&a, &b}, 1ms, seen);
  wire::Message m;
  m.origin = "a";
  m.origin_instance = 1;
  m.target = "b";
  m.target_instance = 2;
  m.ack_id = 1;
  m.channel = std::string(default_channel);
  b.on_message(m, 2ms);
  b.on_message(m, 3ms);
  const Output out = b.take();
  CHECK(out.deliveries.size() == 1);
  CHECK(has(std::vector<std::string>(out.drops.begin(), out.drops.end()), "duplicate"));
  b.tick(20ms);
  const Output acks = b.take();
  bool acked = false;
  for (const auto& send : acks.sends) {
    if (const auto* ack = std::get_if<wire::Ack>(send.frame.get())) acked = ack->ids == std::vector<std::uint64_t>{1, 1} || ack->ids == std::vector<std::uint64_t>{1};
  }
  CHECK(acked);
}

TEST_CASE("receive: stale targets are dropped, messages for others are relayed on") {
  // Proves the first two steps of the receive order: relay for another target, drop for a previous life.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  Core c(spec("c", 3), CoreConfig{}, 3, 0ms);
  link(a, b, 1ms);
  link(b, c, 1ms);
  Seen seen;
  pump({&a, &b, &c}, 1ms, seen);
  wire::Message stale;
  stale.origin = "a";
  stale.origin_instance = 1;
  stale.target = "b";
  stale.target_instance = 99;
  b.on_message(stale, 2ms);
  Output out = b.take();
  CHECK(out.deliveries.empty());
  CHECK(has(std::vector<std::string>(out.drops.begin(), out.drops.end()), "stale_target"));
  wire::Message relayed = stale;
  relayed.target = "c";
  relayed.target_instance = 3;
  relayed.hops_left = 1;
  relayed.via = {"a"};
  b.on_message(relayed, 2ms);
  out = b.take();
  REQUIRE(out.sends.size() == 1);
  CHECK(out.sends[0].peer == "c");
  CHECK(std::get<wire::Message>(*out.sends[0].frame).hops_left == 0);
  relayed.hops_left = 0;
  b.on_message(relayed, 2ms);
  out = b.take();
  CHECK(out.sends.empty());
  CHECK(has(std::vector<std::string>(out.drops.begin(), out.drops.end()), "hops_exhausted"));
}

TEST_CASE("a message whose target is unreachable goes through a relay when it may") {
  // Proves routing: no direct link to the target, a transitive message takes a member that has one.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  Core c(spec("c", 3), CoreConfig{}, 3, 0ms);
  link(a, b, 1ms);
  link(b, c, 1ms);
  REQUIRE(a.admit(spec("c", 3), 1ms));
  Seen seen;
  pump({&a, &b, &c}, 1ms, seen);
  SendOptions options;
  CHECK_FALSE(a.forward("c", bytes(1), options, 1, 2ms));  // not transitive: no path
  options.transitive = true;
  REQUIRE(a.forward("c", bytes(2), options, 2, 2ms));
  pump({&a, &b, &c}, 2ms, seen);
  REQUIRE(seen.delivered.size() == 1);
  CHECK(seen.delivered[0].via == std::vector<std::string>{"a"});  // the relay b sent it straight on
}

TEST_CASE("causal: a message waits for its past, and is acked only when delivered") {
  // Proves causal waiting: out-of-order arrival is buffered unacked; a repeat while waiting is not acked.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  link(a, b, 1ms);
  Seen seen;
  pump({&a, &b}, 1ms, seen);
  SendOptions options;
  options.causal_label = "c";
  REQUIRE(a.forward("b", bytes(1), options, 1, 2ms));
  REQUIRE(a.forward("b", bytes(2), options, 2, 2ms));
  Output out = a.take();
  REQUIRE(out.sends.size() == 2);
  const auto first = std::get<wire::Message>(*out.sends[0].frame);
  const auto second = std::get<wire::Message>(*out.sends[1].frame);
  b.on_message(second, 3ms);
  b.on_message(second, 4ms);  // retransmitted while waiting
  out = b.take();
  CHECK(out.deliveries.empty());
  CHECK(b.causal_buffered() == 1);
  b.tick(20ms);
  out = b.take();
  for (const auto& send : out.sends) CHECK_FALSE(std::holds_alternative<wire::Ack>(*send.frame));
  b.on_message(first, 21ms);
  out = b.take();
  REQUIRE(out.deliveries.size() == 2);
  CHECK(out.deliveries[0].ack_id == first.ack_id);
  CHECK(out.deliveries[1].ack_id == second.ack_id);
  CHECK(b.causal_buffered() == 0);
  b.tick(40ms);
  pump({&a, &b}, 40ms, seen);
  std::size_t ok = 0;
  for (const auto& [token, outcome] : seen.completed) ok += outcome ? 1 : 0;
  CHECK(ok == 2);
  CHECK(a.acks().size() == 0);
}

TEST_CASE("the dedupe bug switch delivers a retransmission twice") {
  // Proves Bug::skip_dedupe restores the wrong behaviour the simulator must find.
  CoreConfig config;
  config.bug = Bug::skip_dedupe;
  Core b(spec("b", 2), config, 2, 0ms);
  wire::Message m;
  m.origin = "a";
  m.origin_instance = 1;
  m.target = "b";
  m.target_instance = 2;
  m.ack_id = 1;
  b.on_message(m, 2ms);
  b.on_message(m, 3ms);
  CHECK(b.take().deliveries.size() == 2);
}

TEST_CASE("causal: a message to an unknown server is refused in its turn and does not block its successors") {
  // Proves the refusal keeps the causal order: the next causal message from the same sender is delivered.
  Core a(spec("a", 1), CoreConfig{}, 1, 0ms);
  Core b(spec("b", 2), CoreConfig{}, 2, 0ms);
  b.serve("known");
  link(a, b, 1ms);
  Seen seen;
  pump({&a, &b}, 1ms, seen);
  SendOptions options;
  options.causal_label = "c";
  options.server = "missing";
  REQUIRE(a.forward("b", bytes(1), options, 1, 2ms));
  options.server = "known";
  REQUIRE(a.forward("b", bytes(2), options, 2, 2ms));
  pump({&a, &b}, 2ms, seen);
  CHECK(b.causal_buffered() == 0);
  REQUIRE(seen.delivered.size() == 1);
  CHECK(seen.delivered[0].server == "known");
  b.tick(20ms);
  pump({&a, &b}, 20ms, seen);
  std::map<std::uint64_t, bool> ok;
  for (const auto& [token, outcome] : seen.completed) ok[token] = static_cast<bool>(outcome);
  REQUIRE(ok.size() == 2);
  CHECK_FALSE(ok.at(1));
  CHECK(ok.at(2));
}

TEST_CASE("a peer silent for peer_timeout while linked is closed, data links included, and redialed") {
  // Proves the down decision closes the peer's links (Output::closes) once, detaches it, and makes a dial due.
  CoreConfig config;
  config.liveness.peer_timeout = 100ms;
  Core a(spec("a", 1), config, 1, 0ms);
  Core b(spec("b", 2), config, 2, 0ms);
  link(a, b, 1ms);
  Seen seen;
  pump({&a, &b}, 1ms, seen);
  a.evaluate(50ms);
  CHECK(a.take().closes.empty());  // heard recently: nothing to close
  CHECK(a.liveness().attached("b"));
  a.evaluate(200ms);  // b silent past peer_timeout
  const Output down = a.take();
  CHECK(down.closes == std::vector<std::string>{"b"});
  REQUIRE(down.transitions.size() == 1);
  CHECK_FALSE(down.transitions[0].up);
  CHECK_FALSE(a.liveness().attached("b"));
  CHECK_FALSE(a.reachable("b"));
  CHECK_FALSE(a.close_if_silent("b", 300ms));  // closed once, not at every evaluation
  a.evaluate(300ms);
  CHECK(a.take().closes.empty());
  // a dials b (the smaller name dials): a fresh link is due within the backoff.
  bool due = false;
  for (int ms = 300; ms < 300 + 5000 && !due; ms += 10) due = !a.dials_due(Time(std::chrono::milliseconds(ms))).empty();
  CHECK(due);
}
