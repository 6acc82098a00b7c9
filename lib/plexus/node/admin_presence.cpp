// Admin routes of the presence tracker: owners with leases (open, renew,
// close, list), track, untrack (one presence or all of an owner), update,
// list(topic), get_by_key, graceful_permdown and a status summary. Requests
// are checked here (types, sizes, meta as JSON carried as is); the tracker
// runs on the io thread. docs/admin-api.md documents each route.
#include <charconv>

#include "plexus/node/admin_server.hpp"
#include "plexus/node/presence_host.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
using peer::PeerService;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
namespace pr = presence;

/// Longest topic and key accepted (bytes).
constexpr std::size_t topic_max_bytes = 1024;
constexpr std::size_t key_max_bytes = 1024;
/// Meta limits: what every peer's decoder accepts (presence::CodecLimits), so
/// a meta tracked here is never refused elsewhere.
constexpr std::size_t meta_max_bytes = 64 * 1024;
constexpr std::size_t meta_max_depth = 32;
constexpr std::uint64_t default_ttl_ms = 30'000;
constexpr std::uint64_t min_ttl_ms = 100;
/// Presences one list answer carries at most (the count is always exact).
constexpr std::uint64_t list_limit_default = 10'000;
constexpr std::uint64_t list_limit_max = 1'000'000;

Reply disabled() {
  return error_reply(404, "presence_disabled", "this node runs no presence tracker (--presence-disabled)");
}

// The presence errors as HTTP answers, with the request's context in the message.
Reply presence_error(const Error& error, const std::string& context) {
  if (error.code.category() != pr::presence_category()) return error_reply(error);
  const auto code = static_cast<pr::errc>(error.code.value());
  const std::string what = context.empty() ? error.message() : context;
  switch (code) {
    case pr::errc::already_tracked: return error_reply(409, "already_tracked", what + ": already tracked by this owner");
    case pr::errc::not_tracked: return error_reply(404, "not_tracked", what + ": not tracked by this owner");
    case pr::errc::closed_owner: return error_reply(404, "unknown_owner", error.detail.empty() ? error.message() : error.detail);
    case pr::errc::stopped:
      return error_reply(409, "stopped", "this node's tracker is permanently down (graceful_permdown); restart the node");
    default: return error_reply(500, pr::errc_name(code), error.message());
  }
}

std::uint64_t owner_in_path(const httplib::Request& request) {
  const std::string text = request.matches[1];
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id == 0) {
    throw BadRequest("owner '" + text + "': expected an owner id 1..2^64-1");
  }
  return id;
}

std::string bounded_text(const Fields& fields, std::string_view field, std::size_t max) {
  auto value = fields.required_text(field);
  if (value.size() > max) {
    throw BadRequest("field '" + std::string(field) + "': longer than " + std::to_string(max) + " bytes");
  }
  return value;
}

// Nesting depth of a JSON value, counted no further than `limit`.
std::size_t depth_of(const json& value, std::size_t limit) {
  if (!value.is_structured() || limit == 0) return 0;
  std::size_t deepest = 0;
  for (const auto& element : value) deepest = std::max(deepest, depth_of(element, limit - 1));
  return deepest + 1;
}

json meta_of(const Fields& fields, bool required) {
  const json* meta = fields.raw("meta");
  if (!meta) {
    if (required) throw BadRequest("field 'meta': required (any JSON value)");
    return json::object();
  }
  const std::string text = meta->dump();
  if (text.size() > meta_max_bytes) {
    throw BadRequest("field 'meta': " + std::to_string(text.size()) + " bytes as JSON, over " +
                     std::to_string(meta_max_bytes));
  }
  const std::size_t deepest = depth_of(*meta, meta_max_depth + 1);
  if (deepest > meta_max_depth) throw BadRequest("field 'meta': nested deeper than " + std::to_string(meta_max_depth));
  return *meta;
}

/// What one presence request names: owner, topic, key.
struct Target {
  std::uint64_t owner = 0;
  std::string topic, key;
  [[nodiscard]] std::string context() const {
    return "owner " + std::to_string(owner) + ", topic '" + topic + "', key '" + key + "'";
  }
};

Target target_of(const Fields& fields) {
  Target t;
  const auto owner = fields.number("owner", 1, UINT64_MAX);
  if (!owner) throw BadRequest("field 'owner': required (an id from POST /v1/presence/owners)");
  t.owner = *owner;
  t.topic = bounded_text(fields, "topic", topic_max_bytes);
  t.key = bounded_text(fields, "key", key_max_bytes);
  return t;
}

// list() answers (key, meta, ref); get_by_key() adds the owner.
json listed_json(const pr::Listed& p) {
  return {{"key", p.key.str()}, {"meta", p.meta ? *p.meta : json(nullptr)}, {"ref", p.ref.str()}};
}

json presence_json(const pr::Presence& p) {
  return {{"key", p.key.str()}, {"meta", p.meta ? *p.meta : json(nullptr)}, {"ref", p.ref.str()},
          {"owner", {{"node", p.owner.node}, {"id", p.owner.id}}}};
}

// Run `fn` with the node's PresenceHost on the io thread.
Reply with_host(AdminServer& admin, std::function<Reply(PresenceHost&)> fn) {
  std::weak_ptr<PresenceHost> weak = admin.context<PresenceHost>();
  if (!admin.context<PresenceHost>()) return disabled();
  return admin.on_io_now([weak, fn = std::move(fn)](PeerService&) {
    auto host = weak.lock();
    return host ? fn(*host) : error_reply(503, "shutting_down", "the node is stopping");
  });
}

Millis ttl_of(AdminServer& admin, const Fields& fields) {
  const auto max = std::uint64_t(admin.context<PresenceHost>()->lease_max().count());
  return Millis(fields.number("ttl_ms", std::min(default_ttl_ms, max), min_ttl_ms, max));
}

void add_owner_routes(AdminServer& admin) {
  admin.post("/v1/presence/owners", [&admin](const httplib::Request& request) {
    if (!admin.context<PresenceHost>()) return disabled();
    const auto ttl = ttl_of(admin, Fields::body(request, {"ttl_ms"}));
    return with_host(admin, [ttl](PresenceHost& host) {
      if (host.leases().full()) {
        return error_reply(503, "owners_full", std::to_string(host.leases().capacity()) +
                                                   " owners open already (--presence-owners-max): close some first");
      }
      auto id = host.open(ttl);
      return id ? json_reply({{"owner", *id}, {"ttl_ms", ttl.count()}}) : presence_error(id.error(), "");
    });
  });
  admin.get("/v1/presence/owners", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    return with_host(admin, [](PresenceHost& host) {
      const auto now = Clock::now();
      json owners = json::array();
      for (const auto& [id, expiry] : host.leases().leases()) {
        const auto left = std::chrono::duration_cast<Millis>(expiry - now).count();
        owners.push_back({{"owner", id}, {"expires_in_ms", std::max<std::int64_t>(0, left)}});
      }
      return json_reply({{"owners", owners}, {"owners_max", host.leases().capacity()}});
    });
  });
  admin.post(R"(/v1/presence/owners/([0-9]{1,20})/renew)", [&admin](const httplib::Request& request) {
    if (!admin.context<PresenceHost>()) return disabled();
    const auto id = owner_in_path(request);
    const auto ttl = ttl_of(admin, Fields::body(request, {"ttl_ms"}));
    return with_host(admin, [id, ttl](PresenceHost& host) {
      auto renewed = host.renew(id, ttl);
      return renewed ? json_reply({{"owner", id}, {"ttl_ms", ttl.count()}}) : presence_error(renewed.error(), "");
    });
  });
  admin.del(R"(/v1/presence/owners/([0-9]{1,20}))", [&admin](const httplib::Request& request) {
    const auto id = owner_in_path(request);
    return with_host(admin, [id](PresenceHost& host) {
      auto closed = host.close(id);
      return closed ? json_reply({{"closed", id}, {"untracked", *closed}}) : presence_error(closed.error(), "");
    });
  });
}

void add_change_routes(AdminServer& admin) {
  admin.post("/v1/presence/track", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"owner", "topic", "key", "meta"});
    const auto t = target_of(fields);
    const auto meta = meta_of(fields, false);
    return with_host(admin, [t, meta](PresenceHost& host) {
      auto owner = host.owner(t.owner);
      if (!owner) return presence_error(owner.error(), "");
      auto ref = host.tracker().track(**owner, t.topic, t.key, meta);
      return ref ? json_reply({{"ref", ref->str()}, {"owner", t.owner}, {"topic", t.topic}, {"key", t.key}})
                 : presence_error(ref.error(), t.context());
    });
  });
  admin.post("/v1/presence/update", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"owner", "topic", "key", "meta"});
    const auto t = target_of(fields);
    const auto meta = meta_of(fields, true);
    return with_host(admin, [t, meta](PresenceHost& host) {
      auto owner = host.owner(t.owner);
      if (!owner) return presence_error(owner.error(), "");
      auto ref = host.tracker().update(**owner, t.topic, t.key, meta);
      return ref ? json_reply({{"ref", ref->str()}, {"owner", t.owner}, {"topic", t.topic}, {"key", t.key}})
                 : presence_error(ref.error(), t.context());
    });
  });
  admin.post("/v1/presence/untrack", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"owner", "topic", "key"});
    if (fields.has("topic") != fields.has("key")) {
      throw BadRequest("body: give both 'topic' and 'key' (one presence) or neither (all of the owner's)");
    }
    if (!fields.has("topic")) {
      const auto owner = fields.number("owner", 1, UINT64_MAX);
      if (!owner) throw BadRequest("field 'owner': required (an id from POST /v1/presence/owners)");
      return with_host(admin, [id = *owner](PresenceHost& host) {
        auto found = host.owner(id);
        if (!found) return presence_error(found.error(), "");
        return json_reply({{"owner", id}, {"untracked", host.tracker().untrack(**found)}});
      });
    }
    const auto t = target_of(fields);
    return with_host(admin, [t](PresenceHost& host) {
      auto owner = host.owner(t.owner);
      if (!owner) return presence_error(owner.error(), "");
      auto done = host.tracker().untrack(**owner, t.topic, t.key);
      return done ? json_reply({{"owner", t.owner}, {"untracked", 1}}) : presence_error(done.error(), t.context());
    });
  });
  admin.post("/v1/presence/permdown", [&admin](const httplib::Request& request) {
    (void)Fields::body(request, {});
    return with_host(admin, [](PresenceHost& host) {
      host.tracker().graceful_permdown();
      return json_reply({{"permdown", true}});
    });
  });
}

void add_read_routes(AdminServer& admin) {
  admin.get("/v1/presence/list", [&admin](const httplib::Request& request) {
    const auto fields = Fields::query(request, {"topic", "limit"});
    const auto topic = bounded_text(fields, "topic", topic_max_bytes);
    const auto limit = fields.number("limit", list_limit_default, 0, list_limit_max);
    return with_host(admin, [topic, limit](PresenceHost& host) {
      json presences = json::array();
      std::size_t count = 0;
      for (const auto& p : host.tracker().list(topic)) {
        if (count++ < limit) presences.push_back(listed_json(p));
      }
      return json_reply({{"topic", topic}, {"count", count}, {"truncated", count > limit}, {"presences", presences}});
    });
  });
  admin.get("/v1/presence/get", [&admin](const httplib::Request& request) {
    const auto fields = Fields::query(request, {"topic", "key"});
    const auto topic = bounded_text(fields, "topic", topic_max_bytes);
    const auto key = bounded_text(fields, "key", key_max_bytes);
    return with_host(admin, [topic, key](PresenceHost& host) {
      json presences = json::array();
      for (const auto& p : host.tracker().get_by_key(topic, key)) presences.push_back(presence_json(p));
      return json_reply({{"topic", topic}, {"key", key}, {"presences", presences}});
    });
  });
  admin.get("/v1/presence", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    return with_host(admin, [](PresenceHost& host) {
      const auto& o = host.tracker().options();
      const auto m = host.tracker().metrics();
      json errors = json::array();
      for (const auto& e : host.tracker().recent_errors()) errors.push_back(e.message());
      return json_reply({{"name", o.name},
                         {"channel", o.channel},
                         {"pool_size", o.pool_size},
                         {"broadcast_period_ms", o.broadcast_period.count()},
                         {"down_period_ms", o.down_period.count()},
                         {"permdown_period_ms", o.permdown_period.count()},
                         {"presences", m.presences},
                         {"local_presences", m.local_presences},
                         {"owners", host.leases().size()},
                         {"owners_max", host.leases().capacity()},
                         {"owners_expired", host.expired_total()},
                         {"pool_size_mismatches", m.pool_size_mismatches},
                         {"bad_messages", m.bad_messages},
                         {"recent_errors", errors}});
    });
  });
}

}  // namespace

void add_presence_routes(AdminServer& admin) {
  add_owner_routes(admin);
  add_change_routes(admin);
  add_read_routes(admin);
}

}  // namespace plexus::node
