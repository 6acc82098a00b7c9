// Admin routes for messages and faults: send (forward or cast, with every
// ForwardOptions field; with ack the answer waits for the outcome), the
// built-in sink (read, clear) and injected partitions (inject, list, resolve).
#include <sodium.h>

#include <ctime>

#include "plexus/node/admin_server.hpp"
#include "plexus/node/payload_text.hpp"
#include "plexus/node/sink.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
using peer::Millis;
using peer::PeerService;
using Replier = AdminServer::Replier;

constexpr std::uint64_t timeout_ms_max = 600'000;
constexpr std::uint64_t sink_read_max = 10'000;

std::string_view direction_name(peer::Direction direction) {
  switch (direction) {
    case peer::Direction::inbound: return "inbound";
    case peer::Direction::outbound: return "outbound";
    case peer::Direction::both: break;
  }
  return "both";
}

std::string utc_time(std::chrono::system_clock::time_point at) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  const std::time_t seconds = std::time_t(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms % 1000));
  return text;
}

std::vector<std::uint8_t> payload_of(const Fields& fields) {
  if (fields.has("payload") && fields.has("payload_base64")) {
    throw BadRequest("body: give at most one of 'payload' and 'payload_base64'");
  }
  if (auto text = fields.text("payload")) return {text->begin(), text->end()};
  if (auto encoded = fields.text("payload_base64")) {
    auto bytes = from_base64(*encoded);
    if (!bytes) throw BadRequest("field 'payload_base64': not valid base64");
    return std::move(*bytes);
  }
  return {};
}

peer::ForwardOptions options_of(const Fields& fields) {
  peer::ForwardOptions options;
  options.channel = fields.text("channel", std::string(default_channel));
  if (auto key = fields.number("partition_key", 0, UINT64_MAX)) options.partition_key = *key;
  options.ack = fields.flag("ack", false);
  options.causal_label = fields.text("causal_label", "");
  options.transitive = fields.flag("transitive", false);
  return options;
}

void add_send_route(AdminServer& admin) {
  admin.post("/v1/send", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"node", "server", "payload", "payload_base64", "mode", "channel",
                                               "partition_key", "ack", "timeout_ms", "causal_label", "transitive"});
    const auto node = fields.required_text("node");
    const auto server = fields.required_text("server");
    const auto mode = fields.text("mode", "forward");
    if (mode != "forward" && mode != "cast") throw BadRequest("field 'mode': must be forward or cast");
    const auto payload = payload_of(fields);
    const auto options = options_of(fields);
    const Millis timeout(fields.number("timeout_ms", 5000, 1, timeout_ms_max));
    const json sent{{"status", options.ack ? "delivered" : "sent"}, {"node", node}, {"server", server},
                    {"bytes", payload.size()}};
    return admin.on_io([=](PeerService& service, Replier reply) {
      peer::Completion done;
      if (options.ack) {
        done = [reply, sent](const Result<void>& outcome) {
          reply(outcome ? json_reply(sent) : error_reply(outcome.error()));
        };
      }
      auto queued = mode == "cast" ? service.cast_message(node, server, payload, options, done)
                                   : service.forward_message(node, server, payload, options, done);
      if (!queued) return reply(error_reply(queued.error()));
      if (!options.ack) reply(json_reply(sent));
    }, timeout, options.ack ? AdminServer::Wait::outcome : AdminServer::Wait::brief);
  });
}

json sink_message_json(const SinkMessage& message, bool base64_only) {
  json out{{"seq", message.seq},
           {"from", message.from},
           {"from_instance", instance_id_to_hex(message.from_instance)},
           {"channel", message.channel},
           {"cast", message.cast},
           {"bytes", message.payload.size()},
           {"received_at", utc_time(message.received_at)}};
  if (!base64_only && valid_utf8(message.payload)) {
    out["payload"] = std::string(message.payload.begin(), message.payload.end());
  } else {
    out["payload_base64"] = to_base64(message.payload);
  }
  return out;
}

json sink_counters_json(const SinkCounters& c) {
  return {{"received", c.received}, {"received_bytes", c.received_bytes}, {"evicted", c.evicted},
          {"last_seq", c.last_seq}, {"held", c.held},                     {"held_bytes", c.held_bytes},
          {"capacity", c.capacity}, {"max_bytes", c.max_bytes}};
}

void add_sink_routes(AdminServer& admin) {
  admin.get("/v1/sink", [&admin](const httplib::Request& request) {
    const auto fields = Fields::query(request, {"after", "limit", "encoding"});
    const auto after = fields.number("after", 0, 0, UINT64_MAX);
    const auto limit = fields.number("limit", 100, 1, sink_read_max);
    const auto encoding = fields.text("encoding", "auto");
    if (encoding != "auto" && encoding != "base64") throw BadRequest("query parameter 'encoding': must be auto or base64");
    const auto& sink = *admin.context<PeerRoutes>()->sink;
    json messages = json::array();
    for (const auto& message : sink.read(after, limit)) messages.push_back(sink_message_json(message, encoding == "base64"));
    return json_reply({{"messages", messages}, {"counters", sink_counters_json(sink.counters())}});
  });
  admin.del("/v1/sink", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    auto& sink = *admin.context<PeerRoutes>()->sink;
    const auto held = sink.counters().held;
    sink.clear();
    return json_reply({{"cleared", held}});
  });
}

void add_partition_routes(AdminServer& admin) {
  admin.get("/v1/partitions", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    return admin.on_io_now([](PeerService& service) {
      json list = json::array();
      const auto now = std::chrono::steady_clock::now();
      for (const auto& p : service.partitions()) {
        json expires_in_ms = nullptr;
        if (p.expires) expires_in_ms = std::max<long long>(0, std::chrono::duration_cast<Millis>(*p.expires - now).count());
        list.push_back({{"ref", p.ref}, {"node", p.node}, {"direction", direction_name(p.direction)},
                        {"expires_in_ms", expires_in_ms}});
      }
      return json_reply({{"partitions", list}});
    });
  });
  admin.post("/v1/partitions", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"node", "ttl_ms", "direction"});
    const auto node = fields.required_text("node");
    std::optional<Millis> ttl;
    if (auto ms = fields.number("ttl_ms", 1, 86'400'000)) ttl = Millis(*ms);
    const auto name = fields.text("direction", "both");
    auto direction = peer::Direction::both;
    if (name == "inbound") direction = peer::Direction::inbound;
    else if (name == "outbound") direction = peer::Direction::outbound;
    else if (name != "both") throw BadRequest("field 'direction': must be both, inbound or outbound");
    return admin.on_io_now([node, ttl, direction, name](PeerService& service) {
      const auto ref = service.inject_partition(node, ttl, direction);
      return json_reply({{"ref", ref}, {"node", node}, {"direction", name}}, 201);
    });
  });
  admin.del(R"(/v1/partitions/(\d{1,19}))", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    const std::uint64_t ref = std::stoull(request.matches[1]);
    return admin.on_io_now([ref](PeerService& service) {
      auto resolved = service.resolve_partition(ref);
      return resolved ? json_reply({{"resolved", ref}}) : error_reply(404, "not_found", resolved.error().detail);
    });
  });
}

}  // namespace

void add_messaging_routes(AdminServer& admin) {
  add_send_route(admin);
  add_sink_routes(admin);
  add_partition_routes(admin);
}

}  // namespace plexus::node
