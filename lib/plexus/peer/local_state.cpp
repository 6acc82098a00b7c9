// decode_local_state: PeerService::get_local_state() JSON back into data,
// strictly (every field checked, errors name the field), so tools and tests
// can read a node's self-report without guessing.
#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/peer/peer_service.hpp"

namespace plexus::peer {
namespace {

Error bad(const std::string& field, const std::string& what) {
  return make_error(errc::invalid_field, field + ": " + what);
}

template <class T>
Result<T> get(const nlohmann::json& object, const std::string& key, const std::string& path) {
  if (!object.is_object() || !object.contains(key)) return bad(path + key, "missing");
  try {
    return object.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    return bad(path + key, "wrong type");
  }
}

Result<Direction> direction_from(const std::string& text, const std::string& field) {
  if (text == "both") return Direction::both;
  if (text == "inbound") return Direction::inbound;
  if (text == "outbound") return Direction::outbound;
  return bad(field, "must be both, inbound or outbound");
}

Result<void> decode_links(const nlohmann::json& links, LocalState& out) {
  if (!links.is_object()) return bad("links", "must be an object");
  for (const auto& [name, link] : links.items()) {
    const std::string path = "links." + name + ".";
    auto up = get<bool>(link, "up", path);
    if (!up) return up.error();
    if (!link.contains("channels") || !link["channels"].is_object()) return bad(path + "channels", "must be an object");
    LocalState::Link decoded{*up, {}};
    for (const auto& [channel, counts] : link["channels"].items()) {
      const std::string cpath = path + "channels." + channel + ".";
      auto connections = get<std::size_t>(counts, "connections", cpath);
      if (!connections) return connections.error();
      auto parallelism = get<std::size_t>(counts, "parallelism", cpath);
      if (!parallelism) return parallelism.error();
      decoded.channels[channel] = {*connections, *parallelism};
    }
    out.links[name] = std::move(decoded);
  }
  return {};
}

Result<void> decode_partitions(const nlohmann::json& partitions, LocalState& out) {
  if (!partitions.is_array()) return bad("partitions", "must be an array");
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    const std::string path = "partitions[" + std::to_string(i) + "].";
    auto ref = get<std::uint64_t>(partitions[i], "ref", path);
    if (!ref) return ref.error();
    auto node = get<std::string>(partitions[i], "node", path);
    if (!node) return node.error();
    auto way = get<std::string>(partitions[i], "direction", path);
    if (!way) return way.error();
    auto direction = direction_from(*way, path + "direction");
    if (!direction) return direction.error();
    out.partitions.push_back({*ref, *node, *direction, std::nullopt});
  }
  return {};
}

}  // namespace

Result<LocalState> decode_local_state(const nlohmann::json& state) {
  if (!state.is_object()) return bad("(root)", "must be an object");
  LocalState out;
  auto node = get<std::string>(state, "node", "");
  if (!node) return node.error();
  out.node = *node;
  if (!state.contains("spec")) return bad("spec", "missing");
  auto spec = node_spec_from_json(state["spec"]);
  if (!spec) return bad("spec", spec.error().detail);
  out.spec = *spec;
  auto left = get<bool>(state, "left", "");
  if (!left) return left.error();
  out.left = *left;
  if (!state.contains("membership")) return bad("membership", "missing");
  auto members = membership::decode_local_state(state["membership"]);
  if (!members) return bad("membership", members.error().detail);
  out.membership = *members;
  if (auto r = decode_links(state.value("links", nlohmann::json()), out); !r) return r.error();
  if (auto r = decode_partitions(state.value("partitions", nlohmann::json()), out); !r) return r.error();
  if (!state.contains("ack_table")) return bad("ack_table", "missing");
  auto entries = get<std::size_t>(state["ack_table"], "entries", "ack_table.");
  if (!entries) return entries.error();
  auto bytes = get<std::size_t>(state["ack_table"], "bytes", "ack_table.");
  if (!bytes) return bytes.error();
  out.ack_entries = *entries;
  out.ack_bytes = *bytes;
  auto servers = get<std::vector<std::string>>(state, "servers", "");
  if (!servers) return servers.error();
  out.servers = *servers;
  return out;
}

}  // namespace plexus::peer
