// NodeSpec validation and its JSON form (format in node_spec.hpp).
//
// Every rejection is errc::invalid_field (errc::invalid_json for text that is
// not JSON) with a detail that starts with the exact field path, e.g.
// "listen_addrs[1].port: must be an integer 0..65535", so an operator finds the
// offending line at once. The root itself is "(root)". No exception leaves this
// file: JSON types are checked before any get<>(), and the two JSON entry
// points also catch whatever nlohmann throws.
#include "plexus/core/node_spec.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <exception>
#include <initializer_list>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/core/json_path.hpp"

namespace plexus {
namespace {

using nlohmann::json;
using Channels = std::map<std::string, ChannelSpec, std::less<>>;

/// Longest text parse_node_spec reads; a full spec (64 channels, 16
/// addresses, pretty-printed) stays well under 16 KiB.
constexpr std::size_t spec_text_max_bytes = 64 * 1024;
constexpr std::string_view root_path = json_path::root;

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// Shared check for node and channel names: 1..max_bytes of alphanumerics
/// and the bytes in `punctuation`; `allowed` spells the set for the message.
Result<void> check_name(std::string_view name, std::string_view field, std::size_t max_bytes,
                        std::string_view punctuation, std::string_view allowed) {
  if (name.empty()) return json_path::field_error(field, "must not be empty");
  if (name.size() > max_bytes) {
    return json_path::field_error(field, "must be at most " + std::to_string(max_bytes) + " bytes");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_ascii_alnum(name[i]) && punctuation.find(name[i]) == std::string_view::npos) {
      return json_path::field_error(field, "has '" + json_path::printable(name.substr(i, 1)) + "' at byte " + std::to_string(i) +
                                    "; only " + std::string(allowed) + " allowed");
    }
  }
  return {};
}

/// inet_pton for one address family. It wants a NUL-terminated string, and
/// an embedded NUL must not hide trailing junk from it.
bool is_ip_literal(std::string_view ip, int family) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (ip.empty() || ip.size() >= text.size() || ip.find('\0') != std::string_view::npos) {
    return false;
  }
  std::copy(ip.begin(), ip.end(), text.begin());
  std::array<unsigned char, sizeof(in6_addr)> binary{};
  return inet_pton(family, text.data(), binary.data()) == 1;
}

constexpr std::string_view ip_requirement =
    "must be an IPv4 or IPv6 literal (no brackets, no host names)";

Result<void> validate_ip(std::string_view ip, std::string_view field) {
  if (is_ip_literal(ip, AF_INET) || is_ip_literal(ip, AF_INET6)) return {};
  return json_path::field_error(field, ip_requirement);
}

/// All of `text` as an unsigned number in `base`: from_chars takes digits
/// only (either case), no sign, no "0x", no spaces.
std::optional<std::uint64_t> parse_unsigned(std::string_view text, int base) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, status] = std::from_chars(text.data(), end, value, base);
  if (status != std::errc{} || stop != end) return std::nullopt;
  return value;
}

Result<void> validate_listen_addrs(const std::vector<ListenAddr>& addrs) {
  if (addrs.empty() || addrs.size() > listen_addrs_max) {
    return json_path::field_error("listen_addrs", "must hold 1.." + std::to_string(listen_addrs_max) + " addresses");
  }
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    if (auto ok = validate_ip(addrs[i].ip, json_path::index("listen_addrs", i) + ".ip"); !ok) return ok;
  }
  return {};
}

Result<void> validate_channels(const Channels& channels) {
  if (channels.size() > channels_max) {
    return json_path::field_error("channels", "must hold at most " + std::to_string(channels_max) +
                                       " channels (\"default\" included)");
  }
  if (!channels.contains(default_channel)) return json_path::field_error("channels.default", "missing");
  for (const auto& [name, channel] : channels) {
    const std::string path = json_path::join("channels", name);
    if (auto ok = validate_channel_name(name, path); !ok) return ok;
    if (channel.parallelism < 1 || channel.parallelism > channel_parallelism_max) {
      return json_path::field_error(path + ".parallelism",
                         "must be 1.." + std::to_string(channel_parallelism_max));
    }
  }
  return {};
}

// ---- JSON decoding. Each helper gets the JSON path of what it decodes. ----

Result<void> check_known_keys(const json& object, std::string_view path,
                              std::initializer_list<std::string_view> known) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      return json_path::field_error(json_path::join(path, it.key()), "unknown field");
    }
  }
  return {};
}

/// The member `key` of `object`, or "<path>: missing".
Result<const json*> require(const json& object, const char* key, std::string_view path) {
  const auto it = object.find(key);
  if (it == object.end()) return json_path::field_error(path, "missing");
  return &*it;
}

/// An integer in [min, max]; floats, booleans and strings are rejected.
Result<std::uint64_t> integer_from_json(const json& value, std::string_view path,
                                        std::uint64_t min, std::uint64_t max) {
  std::optional<std::uint64_t> number;
  if (value.is_number_unsigned()) {
    number = value.get<std::uint64_t>();
  } else if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    number = static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  if (!number || *number < min || *number > max) {
    return json_path::field_error(path, "must be an integer " + std::to_string(min) + ".." + std::to_string(max));
  }
  return *number;
}

Result<ListenAddr> listen_addr_from_json(const json& value, const std::string& path) {
  if (!value.is_object()) return json_path::field_error(path, "must be an object {\"ip\": ..., \"port\": ...}");
  if (auto ok = check_known_keys(value, path, {"ip", "port"}); !ok) return ok.error();
  const std::string ip_path = path + ".ip";
  const auto ip = require(value, "ip", ip_path);
  if (!ip) return ip.error();
  if (!(*ip)->is_string()) return json_path::field_error(ip_path, ip_requirement);
  const auto& ip_text = (*ip)->get_ref<const std::string&>();
  if (auto ok = validate_ip(ip_text, ip_path); !ok) return ok.error();
  const auto port = require(value, "port", path + ".port");
  if (!port) return port.error();
  const auto number = integer_from_json(**port, path + ".port", 0, 65535);
  if (!number) return number.error();
  return ListenAddr{ip_text, static_cast<std::uint16_t>(*number)};
}

Result<std::vector<ListenAddr>> listen_addrs_from_json(const json& value) {
  const std::string expected = "must be an array of 1.." + std::to_string(listen_addrs_max) + " addresses";
  if (!value.is_array()) return json_path::field_error("listen_addrs", expected);
  if (value.empty() || value.size() > listen_addrs_max) return json_path::field_error("listen_addrs", expected);
  std::vector<ListenAddr> addrs;
  for (std::size_t i = 0; i < value.size(); ++i) {
    auto addr = listen_addr_from_json(value[i], json_path::index("listen_addrs", i));
    if (!addr) return addr.error();
    addrs.push_back(std::move(addr).value());
  }
  return addrs;
}

Result<ChannelSpec> channel_from_json(const json& value, const std::string& path) {
  if (!value.is_object()) return json_path::field_error(path, "must be an object {\"parallelism\": ..., \"monotonic\": ...}");
  if (auto ok = check_known_keys(value, path, {"parallelism", "monotonic"}); !ok) return ok.error();
  ChannelSpec channel;
  if (const auto it = value.find("parallelism"); it != value.end()) {
    const auto number = integer_from_json(*it, path + ".parallelism", 1, channel_parallelism_max);
    if (!number) return number.error();
    channel.parallelism = static_cast<std::uint32_t>(*number);
  }
  if (const auto it = value.find("monotonic"); it != value.end()) {
    if (!it->is_boolean()) return json_path::field_error(path + ".monotonic", "must be true or false");
    channel.monotonic = it->get<bool>();
  }
  return channel;
}

/// `value` is null when "channels" is absent; "default" is added when missing.
Result<Channels> channels_from_json(const json* value) {
  const std::string too_many = "must hold at most " + std::to_string(channels_max) +
                               " channels (\"default\" included)";
  Channels channels;
  if (value != nullptr) {
    if (!value->is_object()) return json_path::field_error("channels", "must be an object {name: {...}}");
    if (value->size() > channels_max) return json_path::field_error("channels", too_many);
    for (auto it = value->begin(); it != value->end(); ++it) {
      const std::string path = json_path::join("channels", it.key());
      if (auto ok = validate_channel_name(it.key(), path); !ok) return ok.error();
      auto channel = channel_from_json(it.value(), path);
      if (!channel) return channel.error();
      channels.emplace(it.key(), *channel);
    }
  }
  channels.try_emplace(std::string(default_channel));
  if (channels.size() > channels_max) return json_path::field_error("channels", too_many);
  return channels;
}

Result<NodeSpec> decode_spec(const json& value) {
  if (!value.is_object()) return json_path::field_error(root_path, "must be a JSON object");
  const auto known = {std::string_view("name"), std::string_view("listen_addrs"),
                      std::string_view("channels"), std::string_view("instance_id")};
  if (auto ok = check_known_keys(value, "", known); !ok) return ok.error();
  NodeSpec spec;
  const auto name = require(value, "name", "name");
  if (!name) return name.error();
  if (!(*name)->is_string()) return json_path::field_error("name", "must be a string");
  spec.name = (*name)->get<std::string>();
  if (auto ok = validate_node_name(spec.name); !ok) return ok.error();
  const auto addrs_json = require(value, "listen_addrs", "listen_addrs");
  if (!addrs_json) return addrs_json.error();
  auto addrs = listen_addrs_from_json(**addrs_json);
  if (!addrs) return addrs.error();
  spec.listen_addrs = std::move(addrs).value();
  const auto channels_it = value.find("channels");
  auto channels = channels_from_json(channels_it == value.end() ? nullptr : &*channels_it);
  if (!channels) return channels.error();
  spec.channels = std::move(channels).value();
  const auto id_json = require(value, "instance_id", "instance_id");
  if (!id_json) return id_json.error();
  const auto id = (*id_json)->is_string()
                      ? instance_id_from_hex((*id_json)->get_ref<const std::string&>())
                      : instance_id_from_hex("");  // Same message as a malformed string.
  if (!id) return id.error();
  spec.instance_id = *id;
  return spec;
}

/// Finds the first duplicate object key while nlohmann parses (it would keep
/// the last one silently) and names it by its field path.
class DuplicateKeyFinder {
 public:
  bool on_event(json::parse_event_t event, const json& parsed) {
    using event_t = json::parse_event_t;
    switch (event) {
      case event_t::object_start:
      case event_t::array_start:
        frames_.push_back(Frame{event == event_t::array_start, 0, child_path(), {}, {}});
        break;
      case event_t::key:
        on_key(parsed.get_ref<const std::string&>());
        break;
      case event_t::object_end:
      case event_t::array_end:
        frames_.pop_back();
        [[fallthrough]];
      case event_t::value:
        next_element();
        break;
    }
    return true;  // Keep every value: this only watches.
  }
  [[nodiscard]] const std::optional<std::string>& duplicate_path() const { return duplicate_path_; }

 private:
  struct Frame {
    bool is_array;
    std::size_t index;  // Next element's index, for arrays.
    std::string path;
    std::string key;  // Last key seen, for objects.
    std::set<std::string, std::less<>> keys;
  };

  [[nodiscard]] std::string child_path() const {
    if (frames_.empty()) return {};
    const Frame& top = frames_.back();
    return top.is_array ? json_path::index(top.path, top.index) : json_path::join(top.path, top.key);
  }
  void on_key(const std::string& key) {
    Frame& top = frames_.back();
    top.key = key;
    if (!top.keys.insert(key).second && !duplicate_path_) duplicate_path_ = child_path();
  }
  void next_element() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
  }

  std::vector<Frame> frames_;
  std::optional<std::string> duplicate_path_;
};

}  // namespace

Result<void> validate_node_name(std::string_view name, std::string_view field) {
  return check_name(name, field, node_name_max_bytes, "_.@-", "[A-Za-z0-9_.@-]");
}

Result<void> validate_channel_name(std::string_view name, std::string_view field) {
  return check_name(name, field, channel_name_max_bytes, "_.-", "[A-Za-z0-9_.-]");
}

Result<ListenAddr> parse_listen_addr(std::string_view text) {
  const auto malformed = [text] {
    return json_path::field_error("listen_addr", "must be IPV4:PORT or [IPV6]:PORT with PORT 0..65535, got \"" +
                                          json_path::printable(text) + "\"");
  };
  std::string_view ip;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return malformed();
    ip = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!is_ip_literal(ip, AF_INET6)) return malformed();
  } else {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return malformed();
    ip = text.substr(0, colon);
    port = text.substr(colon + 1);
    // An IPv6 literal without brackets fails here too: its port would be ambiguous.
    if (!is_ip_literal(ip, AF_INET)) return malformed();
  }
  const auto number = port.size() <= 5 ? parse_unsigned(port, 10) : std::nullopt;
  if (!number || *number > 65535) return malformed();
  return ListenAddr{std::string(ip), static_cast<std::uint16_t>(*number)};
}

std::string to_string(const ListenAddr& addr) {
  const bool is_ipv6 = addr.ip.find(':') != std::string::npos;
  return (is_ipv6 ? "[" + addr.ip + "]" : addr.ip) + ":" + std::to_string(addr.port);
}

Result<void> validate(const NodeSpec& spec) {
  if (auto ok = validate_node_name(spec.name); !ok) return ok;
  if (auto ok = validate_listen_addrs(spec.listen_addrs); !ok) return ok;
  return validate_channels(spec.channels);
}

Result<NodeSpec> node_spec_from_json(const nlohmann::json& json) {
  try {
    return decode_spec(json);
  } catch (const std::exception& e) {
    // Unreachable by design (types are checked first); kept so a missed case
    // turns into a rejection instead of an escaping exception.
    return json_path::field_error(root_path, std::string("cannot decode: ") + e.what());
  }
}

Result<NodeSpec> parse_node_spec(std::string_view text) {
  if (text.size() > spec_text_max_bytes) {
    return make_error(errc::invalid_json, std::string(root_path) + ": longer than " +
                                              std::to_string(spec_text_max_bytes) + " bytes");
  }
  DuplicateKeyFinder duplicates;
  json document;
  try {
    document = json::parse(text.begin(), text.end(),
                           [&duplicates](int /*depth*/, json::parse_event_t event, json& parsed) {
                             return duplicates.on_event(event, parsed);
                           });
  } catch (const json::parse_error& e) {
    return make_error(errc::invalid_json, std::string(root_path) + ": not JSON (syntax error at byte " +
                                              std::to_string(e.byte) + ")");
  } catch (const std::exception& e) {
    return make_error(errc::invalid_json, std::string(root_path) + ": not JSON (" + e.what() + ")");
  }
  if (const auto& path = duplicates.duplicate_path()) return json_path::field_error(*path, "duplicate key");
  return node_spec_from_json(document);
}

nlohmann::json to_json(const NodeSpec& spec) {
  json addrs = json::array();
  for (const auto& addr : spec.listen_addrs) {
    addrs.push_back(json::object({{"ip", addr.ip}, {"port", addr.port}}));
  }
  json channels = json::object();
  for (const auto& [name, channel] : spec.channels) {
    channels[name] = json::object({{"parallelism", channel.parallelism}, {"monotonic", channel.monotonic}});
  }
  return json::object({{"name", spec.name},
                       {"listen_addrs", std::move(addrs)},
                       {"channels", std::move(channels)},
                       {"instance_id", instance_id_to_hex(spec.instance_id)}});
}

std::string instance_id_to_hex(std::uint64_t id) {
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string hex(16, '0');
  for (auto it = hex.rbegin(); it != hex.rend(); ++it, id >>= 4) *it = digits[id & 0xfU];
  return hex;
}

Result<std::uint64_t> instance_id_from_hex(std::string_view hex, std::string_view field) {
  const auto id = hex.size() == 16 ? parse_unsigned(hex, 16) : std::nullopt;
  if (!id) return json_path::field_error(field, "must be 16 hex digits");
  return *id;
}

}  // namespace plexus
