// Tests for NodeSpec: JSON round trips, every rejection naming its field path,
// listen address parsing, and validate() on specs built in code.
#include "plexus/core/node_spec.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"

namespace plexus {
namespace {

using nlohmann::json;

json valid_spec_json() {
  return json::parse(R"({
    "name": "n1",
    "listen_addrs": [{"ip": "127.0.0.1", "port": 7101}],
    "channels": {"default": {"parallelism": 1, "monotonic": false}},
    "instance_id": "9f2c4e0a11d3b577"})");
}

/// Checks that `result` failed with `code` and a detail starting "<path>: ".
template <class T>
void check_rejected(const Result<T>& result, std::string_view path, errc code = errc::invalid_field) {
  REQUIRE_FALSE(result.ok());
  const Error& error = result.error();
  INFO("detail: ", error.detail);
  CHECK(error.code == make_error_code(code));
  CHECK(error.detail.starts_with(std::string(path) + ": "));
}

void check_round_trip(const NodeSpec& spec) {
  REQUIRE(validate(spec).ok());
  const json encoded = to_json(spec);
  const auto decoded = node_spec_from_json(encoded);
  REQUIRE(decoded.ok());
  CHECK(*decoded == spec);
  const auto reparsed = parse_node_spec(encoded.dump());
  REQUIRE(reparsed.ok());
  CHECK(*reparsed == spec);
}

TEST_CASE("the documented example parses into the expected spec") {
  // Proves every field of the header's JSON example lands in the right member.
  const auto spec = node_spec_from_json(valid_spec_json());
  REQUIRE(spec.ok());
  CHECK(spec->name == "n1");
  REQUIRE(spec->listen_addrs.size() == 1);
  CHECK(spec->listen_addrs[0] == ListenAddr{"127.0.0.1", 7101});
  CHECK(spec->channels.size() == 1);
  CHECK(spec->channels.at("default") == ChannelSpec{1, false});
  CHECK(spec->instance_id == 0x9f2c4e0a11d3b577ULL);
}

TEST_CASE("an IPv4 spec survives to_json and back") {
  // Proves to_json and node_spec_from_json are inverse for a minimal IPv4 spec.
  check_round_trip(NodeSpec{"node-1.eu@rack_3", {{"10.0.0.7", 0}}, {{"default", {}}}, 1});
}

TEST_CASE("an IPv6 spec with several addresses survives to_json and back") {
  // Proves IPv6 literals and mixed address lists round-trip unchanged.
  check_round_trip(NodeSpec{"n6",
                            {{"::1", 7000}, {"fe80::1:2", 65535}, {"192.168.1.9", 1}},
                            {{"default", {}}},
                            0xffffffffffffffffULL});
}

TEST_CASE("several channels with parallelism and monotonic survive to_json and back") {
  // Proves channel settings, including the limits 1 and 256, round-trip unchanged.
  check_round_trip(NodeSpec{"n2",
                            {{"127.0.0.1", 7102}},
                            {{"default", {1, false}},
                             {"data", {256, false}},
                             {"state.v2", {4, true}},
                             {"gossip_fast-1", {1, true}}},
                            0});
}

TEST_CASE("to_json writes instance_id as 16 lowercase hex digits and reads uppercase") {
  // Proves the JSON form keeps all 64 bits as text and accepts either case.
  NodeSpec spec{"n1", {{"127.0.0.1", 1}}, {{"default", {}}}, 0x00ABCDEF01234567ULL};
  CHECK(to_json(spec)["instance_id"] == "00abcdef01234567");
  json upper = valid_spec_json();
  upper["instance_id"] = "00ABCDEF01234567";
  const auto decoded = node_spec_from_json(upper);
  REQUIRE(decoded.ok());
  CHECK(decoded->instance_id == 0x00ABCDEF01234567ULL);
  CHECK(instance_id_to_hex(0) == "0000000000000000");
}

TEST_CASE("the default channel is added when channels is omitted or lacks it") {
  // Proves every decoded spec has "default" with parallelism 1, not monotonic.
  json omitted = valid_spec_json();
  omitted.erase("channels");
  const auto without = node_spec_from_json(omitted);
  REQUIRE(without.ok());
  CHECK(without->channels.size() == 1);
  CHECK(without->channels.at("default") == ChannelSpec{1, false});

  json other = valid_spec_json();
  other["channels"] = json::parse(R"({"data": {"monotonic": true}})");
  const auto with_other = node_spec_from_json(other);
  REQUIRE(with_other.ok());
  CHECK(with_other->channels.size() == 2);
  CHECK(with_other->channels.at("default") == ChannelSpec{1, false});
  CHECK(with_other->channels.at("data") == ChannelSpec{1, true});
}

TEST_CASE("a missing name is rejected as name") {
  // Proves a required field reports "<field>: missing".
  json spec = valid_spec_json();
  spec.erase("name");
  check_rejected(node_spec_from_json(spec), "name");
  CHECK(node_spec_from_json(spec).error().detail == "name: missing");
}

TEST_CASE("a name with a character outside [A-Za-z0-9_.@-] is rejected as name") {
  // Proves spaces, slashes, non-ASCII and empty names are refused.
  for (const char* bad : {"n 1", "n/1", "n\xc3\xa9", "n:1", ""}) {
    json spec = valid_spec_json();
    spec["name"] = bad;
    check_rejected(node_spec_from_json(spec), "name");
  }
  json not_string = valid_spec_json();
  not_string["name"] = 17;
  check_rejected(node_spec_from_json(not_string), "name");
}

TEST_CASE("a name longer than 255 bytes is rejected and one of 255 is accepted") {
  // Proves the node_name_max_bytes limit is inclusive.
  json spec = valid_spec_json();
  spec["name"] = std::string(node_name_max_bytes + 1, 'a');
  check_rejected(node_spec_from_json(spec), "name");
  spec["name"] = std::string(node_name_max_bytes, 'a');
  CHECK(node_spec_from_json(spec).ok());
}

TEST_CASE("an unknown top-level field is rejected by its own name") {
  // Proves a typo in a key is an error, not silently ignored.
  json spec = valid_spec_json();
  spec["bogus"] = 1;
  check_rejected(node_spec_from_json(spec), "bogus");
  CHECK(node_spec_from_json(spec).error().detail == "bogus: unknown field");
}

TEST_CASE("an unknown field in a channel or a listen addr is rejected with its path") {
  // Proves unknown keys are refused at every nesting level.
  json channel = valid_spec_json();
  channel["channels"]["data"] = json::parse(R"({"parallelism": 2, "priority": 1})");
  check_rejected(node_spec_from_json(channel), "channels.data.priority");

  json addr = valid_spec_json();
  addr["listen_addrs"][0]["host"] = "x";
  check_rejected(node_spec_from_json(addr), "listen_addrs[0].host");
}

TEST_CASE("a bad channel name is rejected under channels") {
  // Proves channel names follow [A-Za-z0-9_.-] (no @) and 1..64 bytes.
  for (const char* bad : {"a@b", "a b", ""}) {
    json spec = valid_spec_json();
    spec["channels"][bad] = json::object();
    check_rejected(node_spec_from_json(spec), std::string("channels.") + (*bad ? bad : "\"\""));
  }
  json long_name = valid_spec_json();
  long_name["channels"][std::string(channel_name_max_bytes + 1, 'c')] = json::object();
  // The path shows at most 64 bytes of a key, then "...".
  check_rejected(node_spec_from_json(long_name), "channels." + std::string(64, 'c') + "...");
}

TEST_CASE("an ip that is not an IP literal is rejected as listen_addrs[i].ip") {
  // Proves malformed addresses, brackets and host names are all refused.
  for (const char* bad : {"256.1.1.1", "1.2.3", "[::1]", "::1%eth0", "", " 127.0.0.1"}) {
    json spec = valid_spec_json();
    spec["listen_addrs"][0]["ip"] = bad;
    check_rejected(node_spec_from_json(spec), "listen_addrs[0].ip");
  }
  json wrong_type = valid_spec_json();
  wrong_type["listen_addrs"][0]["ip"] = 2130706433;
  check_rejected(node_spec_from_json(wrong_type), "listen_addrs[0].ip");
}

TEST_CASE("a host name as ip is rejected at the index where it appears") {
  // Proves no name resolution happens and the path carries the array index.
  json spec = valid_spec_json();
  spec["listen_addrs"].push_back({{"ip", "localhost"}, {"port", 7000}});
  check_rejected(node_spec_from_json(spec), "listen_addrs[1].ip");
}

TEST_CASE("a port outside 0..65535 is rejected as listen_addrs[i].port") {
  // Proves the port range is checked on both ends and 0 ("pick one") is allowed.
  for (const json& bad : {json(65536), json(-1), json(70000000000LL)}) {
    json spec = valid_spec_json();
    spec["listen_addrs"][0]["port"] = bad;
    check_rejected(node_spec_from_json(spec), "listen_addrs[0].port");
  }
  json zero = valid_spec_json();
  zero["listen_addrs"][0]["port"] = 0;
  CHECK(node_spec_from_json(zero).ok());
}

TEST_CASE("a port given as a string, a float or a boolean is rejected") {
  // Proves wrong JSON types are errors and are never converted.
  for (const json& bad : {json("7000"), json(7000.0), json(true), json(nullptr)}) {
    json spec = valid_spec_json();
    spec["listen_addrs"][0]["port"] = bad;
    check_rejected(node_spec_from_json(spec), "listen_addrs[0].port");
  }
  json missing = valid_spec_json();
  missing["listen_addrs"][0].erase("port");
  check_rejected(node_spec_from_json(missing), "listen_addrs[0].port");
}

TEST_CASE("parallelism 0 and 257 are rejected, 1 and 256 accepted") {
  // Proves the parallelism range 1..256 is inclusive and checked by its path.
  for (const int bad : {0, 257}) {
    json spec = valid_spec_json();
    spec["channels"]["data"] = {{"parallelism", bad}};
    check_rejected(node_spec_from_json(spec), "channels.data.parallelism");
  }
  json string_value = valid_spec_json();
  string_value["channels"]["data"] = {{"parallelism", "2"}};
  check_rejected(node_spec_from_json(string_value), "channels.data.parallelism");
  json monotonic = valid_spec_json();
  monotonic["channels"]["data"] = {{"monotonic", 1}};
  check_rejected(node_spec_from_json(monotonic), "channels.data.monotonic");
}

TEST_CASE("an instance id that is short, long, non-hex or missing is rejected") {
  // Proves instance_id must be exactly 16 hex digits and is required.
  for (const json& bad : {json("9f2c4e0a11d3b57"), json("9f2c4e0a11d3b5770"), json("9f2c4e0a11d3b57g"),
                          json("0x2c4e0a11d3b577"), json(12345)}) {
    json spec = valid_spec_json();
    spec["instance_id"] = bad;
    check_rejected(node_spec_from_json(spec), "instance_id");
  }
  json missing = valid_spec_json();
  missing.erase("instance_id");
  check_rejected(node_spec_from_json(missing), "instance_id");
  check_rejected(instance_id_from_hex("xyz", "peer.instance_id"), "peer.instance_id");
}

TEST_CASE("text that is not JSON is rejected as invalid_json") {
  // Proves parse errors come back as errc::invalid_json, never as an exception.
  for (const char* bad : {"", "not json", "{\"name\": \"n1\",", "{} trailing", "{'name': 1}"}) {
    check_rejected(parse_node_spec(bad), "(root)", errc::invalid_json);
  }
  check_rejected(parse_node_spec(std::string(100 * 1024, ' ')), "(root)", errc::invalid_json);
}

TEST_CASE("a JSON array or scalar instead of an object is rejected at the root") {
  // Proves the root must be an object, from text and from a json value.
  check_rejected(parse_node_spec("[1, 2]"), "(root)");
  check_rejected(parse_node_spec("\"n1\""), "(root)");
  check_rejected(node_spec_from_json(json(nullptr)), "(root)");
}

TEST_CASE("a duplicate key in the text is rejected with its path") {
  // Proves a repeated key is not silently resolved to its last value.
  check_rejected(parse_node_spec(R"({"name": "a", "name": "b"})"), "name");
  check_rejected(parse_node_spec(R"({"name": "n1", "listen_addrs": [
      {"ip": "::1", "port": 1}, {"ip": "::1", "port": 2, "port": 3}]})"),
                 "listen_addrs[1].port");
}

TEST_CASE("more than 16 listen addrs, or none, are rejected as listen_addrs") {
  // Proves the listen address count is bounded to 1..16 and 16 is allowed.
  json spec = valid_spec_json();
  for (int port = 1; spec["listen_addrs"].size() < listen_addrs_max; ++port) {
    spec["listen_addrs"].push_back({{"ip", "127.0.0.1"}, {"port", port}});
  }
  CHECK(node_spec_from_json(spec).ok());
  spec["listen_addrs"].push_back({{"ip", "127.0.0.1"}, {"port", 9999}});
  check_rejected(node_spec_from_json(spec), "listen_addrs");

  json empty = valid_spec_json();
  empty["listen_addrs"] = json::array();
  check_rejected(node_spec_from_json(empty), "listen_addrs");
  json not_array = valid_spec_json();
  not_array["listen_addrs"] = json::object();
  check_rejected(node_spec_from_json(not_array), "listen_addrs");
}

TEST_CASE("more than 64 channels, counting the added default, are rejected") {
  // Proves channels_max holds after "default" is added, so validate() agrees.
  json spec = valid_spec_json();
  spec["channels"] = json::object();
  for (std::size_t i = 0; i < channels_max; ++i) spec["channels"]["c" + std::to_string(i)] = json::object();
  check_rejected(node_spec_from_json(spec), "channels");
  spec["channels"].erase("c0");
  CHECK(node_spec_from_json(spec).ok());
}

TEST_CASE("parse_listen_addr accepts IPv4 and bracketed IPv6 and to_string inverts it") {
  // Proves the two accepted forms and the exact round trip through to_string.
  for (const char* text : {"127.0.0.1:7000", "[::1]:7000", "0.0.0.0:0", "[fe80::1:2]:65535",
                           "[::ffff:10.0.0.1]:1"}) {
    const auto addr = parse_listen_addr(text);
    REQUIRE_MESSAGE(addr.ok(), text);
    CHECK(to_string(*addr) == text);
  }
  CHECK(*parse_listen_addr("[::1]:7000") == ListenAddr{"::1", 7000});
  CHECK(*parse_listen_addr("10.1.2.3:80") == ListenAddr{"10.1.2.3", 80});
}

TEST_CASE("parse_listen_addr rejects host names, bare IPv6 and bad ports") {
  // Proves each malformed form is an invalid_field error on listen_addr.
  for (const char* bad : {"localhost:7000", "::1:7000", "[::1]7000", "[::1]:", "[127.0.0.1]:7000",
                          "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80",
                          "127.0.0.1:80x", "[::1", ":7000", "", "127.0.0.1:7000:1", " 127.0.0.1:7000"}) {
    INFO("text: ", bad);
    check_rejected(parse_listen_addr(bad), "listen_addr");
  }
}

TEST_CASE("validate checks specs built in code by the same rules") {
  // Proves validate() names the same paths node_spec_from_json would.
  const NodeSpec good{"n1", {{"127.0.0.1", 7000}}, {{"default", {}}}, 42};
  CHECK(validate(good).ok());

  NodeSpec bad_name = good;
  bad_name.name = "bad name";
  check_rejected(validate(bad_name), "name");
  NodeSpec no_addrs = good;
  no_addrs.listen_addrs.clear();
  check_rejected(validate(no_addrs), "listen_addrs");
  NodeSpec bad_ip = good;
  bad_ip.listen_addrs.push_back({"example.com", 1});
  check_rejected(validate(bad_ip), "listen_addrs[1].ip");
  NodeSpec no_default = good;
  no_default.channels = {{"data", {}}};
  check_rejected(validate(no_default), "channels.default");
  NodeSpec zero_parallel = good;
  zero_parallel.channels["data"] = {0, false};
  check_rejected(validate(zero_parallel), "channels.data.parallelism");
  NodeSpec bad_channel = good;
  bad_channel.channels["a@b"] = {};
  check_rejected(validate(bad_channel), "channels.a@b");
}

}  // namespace
}  // namespace plexus
