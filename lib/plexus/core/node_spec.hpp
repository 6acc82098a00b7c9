// NodeSpec: how a node is named and reached. A spec is what `join` takes and
// what membership gossips: the node name, the addresses it listens on, the
// channels it serves (name -> parallelism, monotonic) and an instance id that
// is drawn at random each time the node starts, so a restarted node is told
// apart from its previous life.
//
// JSON form (instance_id as 16 lowercase hex digits so no JSON reader loses
// precision):
//   {"name": "n1",
//    "listen_addrs": [{"ip": "127.0.0.1", "port": 7101}],
//    "channels": {"default": {"parallelism": 1, "monotonic": false}},
//    "instance_id": "9f2c4e0a11d3b577"}
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plexus/core/result.hpp"

namespace plexus {

/// Limits on what a spec may hold (checked on every parse).
inline constexpr std::size_t node_name_max_bytes = 255;
inline constexpr std::size_t channel_name_max_bytes = 64;
inline constexpr std::uint32_t channel_parallelism_max = 256;
inline constexpr std::size_t listen_addrs_max = 16;
inline constexpr std::size_t channels_max = 64;

/// One listen address: an IPv4 or IPv6 literal and a port.
struct ListenAddr {
  std::string ip;  ///< "127.0.0.1" or "::1" (no brackets, no host names)
  std::uint16_t port = 0;
  friend bool operator==(const ListenAddr&, const ListenAddr&) = default;
  friend auto operator<=>(const ListenAddr&, const ListenAddr&) = default;
};

/// How many parallel connections a channel has to each peer, and whether it
/// keeps only the newest queued message per key when its outbox is behind.
struct ChannelSpec {
  std::uint32_t parallelism = 1;
  bool monotonic = false;
  friend bool operator==(const ChannelSpec&, const ChannelSpec&) = default;
};

/// Name of the channel every spec has even when none is configured.
inline constexpr std::string_view default_channel = "default";

struct NodeSpec {
  std::string name;
  std::vector<ListenAddr> listen_addrs;
  std::map<std::string, ChannelSpec, std::less<>> channels;
  std::uint64_t instance_id = 0;
  friend bool operator==(const NodeSpec&, const NodeSpec&) = default;
};

/// Check a name: 1..255 bytes of [A-Za-z0-9_.@-]. Error names `field`.
Result<void> validate_node_name(std::string_view name, std::string_view field = "name");
/// Check a channel name: 1..64 bytes of [A-Za-z0-9_.-].
Result<void> validate_channel_name(std::string_view name, std::string_view field);
/// Parse "127.0.0.1:7000", "[::1]:7000" (port 0 allowed: "pick one").
Result<ListenAddr> parse_listen_addr(std::string_view text);
/// "127.0.0.1:7000" or "[::1]:7000".
std::string to_string(const ListenAddr& addr);

/// Validate every field of a spec (what from_json checks, for specs built in code).
Result<void> validate(const NodeSpec& spec);

/// Decode from JSON. Unknown keys, wrong types and out-of-range values are
/// errors whose detail names the field, e.g. "listen_addrs[1].port".
Result<NodeSpec> node_spec_from_json(const nlohmann::json& json);
/// Parse JSON text, then node_spec_from_json.
Result<NodeSpec> parse_node_spec(std::string_view text);
nlohmann::json to_json(const NodeSpec& spec);

/// "9f2c4e0a11d3b577" and back.
std::string instance_id_to_hex(std::uint64_t id);
Result<std::uint64_t> instance_id_from_hex(std::string_view hex, std::string_view field = "instance_id");

}  // namespace plexus
