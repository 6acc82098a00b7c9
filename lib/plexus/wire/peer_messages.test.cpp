// Peer-service message kinds: every field survives encode/decode, and a bad node spec inside
// an authenticated message is still refused.
#include <doctest/doctest.h>

#include "plexus/wire/message.hpp"

using namespace plexus;
using namespace plexus::wire;

namespace {

NodeSpec sample_spec(const char* name, std::uint16_t port) {
  NodeSpec spec;
  spec.name = name;
  spec.listen_addrs = {{"127.0.0.1", port}, {"::1", port}};
  spec.channels = {{"default", {1, false}}, {"bulk", {4, true}}};
  spec.instance_id = 0x1234567890abcdefull;
  return spec;
}

template <class Kind>
void round_trip(const Kind& value) {
  auto body = encode(Envelope{value});
  auto decoded = decode(body);
  REQUIRE(decoded.ok());
  REQUIRE(std::holds_alternative<Kind>(*decoded));
  CHECK(std::get<Kind>(*decoded) == value);
}

}  // namespace

TEST_CASE("every peer-service kind round-trips with all its fields") {
  // Proves the schema and the C++ view agree field by field.
  round_trip(Attach{sample_spec("n1", 7000), "bulk", 3, true});
  round_trip(Gossip{std::vector<MemberEntry>{{sample_spec("a", 1), 7, false}, {sample_spec("b", 2), 9, true}}});
  round_trip(Gossip{std::vector<DigestEntry>{{"a", 7, false, 1, 11}, {"b", 9, true, 2, 22}}});
  round_trip(Gossip{std::vector<std::string>{"a", "bb", ""}});
  round_trip(Gossip{std::vector<MemberEntry>{}});
  round_trip(Heartbeat{42});
  Message m;
  m.origin = "n1";
  m.origin_instance = 77;
  m.target = "n3";
  m.server = "sink";
  m.cast = true;
  m.payload = {1, 2, 3, 4, 5};
  m.channel = "bulk";
  m.partition_key = 12;
  m.ack_id = 99;
  m.hops_left = 2;
  m.via = {"n2"};
  m.causal_label = "orders";
  m.causal_clock = {{"n1#77", 3}, {"n2#5", 1}};
  m.causal_deps = {{"n3#9", {{"n1#77", 2}}}};
  m.target_instance = 4242;
  round_trip(m);
  Message plain;
  plain.origin = "n1";
  plain.target = "n2";
  plain.server = "echo";
  round_trip(plain);
  round_trip(Ack{"n1", 77, "n2", {1, 2, 3, 1000000}, 3, 88, {4, 5}});
  round_trip(Leave{"n4", 5, "removed by n1"});
}

TEST_CASE("a node spec that breaks the rules is refused even inside a valid message") {
  // Proves decode validates specs, so a buggy or hostile peer cannot plant an invalid member.
  auto spec = sample_spec("n1", 7000);
  spec.name = "bad name with spaces";
  auto body = encode(Envelope{Attach{spec, "default", 0, false}});
  auto decoded = decode(body);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == errc::malformed_message);
  CHECK(decoded.error().detail.find("node spec") != std::string::npos);
}

TEST_CASE("truncations and bit flips of a message never crash the decoder") {
  // Proves the new kinds keep the decoder total on hostile bytes.
  Message m;
  m.origin = "n1";
  m.target = "n2";
  m.server = "sink";
  m.payload.assign(40, 7);
  m.causal_label = "x";
  m.causal_clock = {{"n1#1", 1}};
  auto body = encode(Envelope{m});
  for (std::size_t n = 0; n < body.size(); n += 8) {
    auto decoded = decode(std::span(body).first(n));
    CHECK_FALSE(decoded.ok());
  }
  for (std::size_t i = 0; i < body.size(); ++i) {
    auto copy = body;
    copy[i] ^= 0x40;
    (void)decode(copy);  // ok or error; sanitizers and the fuzzer check the rest
  }
}
