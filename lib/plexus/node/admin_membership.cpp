// Admin routes for the membership: spec, members, join (address or spec,
// optionally synchronous), connect, reserve, leave, update-members,
// capabilities and the whole local state.
#include <asio/steady_timer.hpp>

#include "plexus/node/admin_server.hpp"
#include "plexus/node/join_retry.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
using peer::Millis;
using peer::PeerService;
using Replier = AdminServer::Replier;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t timeout_ms_max = 600'000;

json member_json(const peer::MemberStatus& member) {
  json channels = json::object();
  for (const auto& [channel, up] : member.channels_up) channels[channel] = up;
  return {{"name", member.spec.name}, {"self", member.self}, {"up", member.up},
          {"channels", channels},     {"spec", to_json(member.spec)}};
}

bool everyone_up(const PeerService& service) {
  for (const auto& member : service.member_status()) {
    if (!member.up) return false;
    for (const auto& [channel, up] : member.channels_up) if (!up) return false;
  }
  return true;
}

// Answer `ok` once every member is up on every channel, or 504 at the deadline (checked on the io thread).
void reply_when_all_up(std::weak_ptr<PeerService> weak, asio::any_io_executor io, Clock::time_point deadline,
                       json ok, Replier reply) {
  auto service = weak.lock();
  if (!service) return reply(error_reply(503, "shutting_down", "the node is stopping"));
  if (everyone_up(*service)) return reply(json_reply(ok));
  if (Clock::now() >= deadline) {
    return reply(error_reply(504, "timeout", "joined, but not every member is up on every channel yet"));
  }
  auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(20));
  timer->async_wait([weak, io, deadline, ok, reply, timer](std::error_code) {
    reply_when_all_up(weak, io, deadline, ok, reply);
  });
}

Reply join_by_spec(AdminServer& admin, const NodeSpec& spec, bool sync, Millis timeout) {
  const json ok{{"joined", spec.name}, {"sync", sync}};
  if (!sync) {
    return admin.on_io_now([spec, ok](PeerService& service) {
      auto joined = service.join(spec);
      return joined ? json_reply(ok) : error_reply(joined.error());
    });
  }
  return admin.on_io([spec, timeout, ok](PeerService& service, Replier reply) {
    service.sync_join(spec, timeout, [ok, reply](const Result<void>& joined) {
      reply(joined ? json_reply(ok) : error_reply(joined.error()));
    });
  }, timeout + Millis(1000), AdminServer::Wait::outcome);
}

// The address is retried in the background until it joins (join_retry.hpp). Without sync the answer
// is the first attempt's: 200 joined, or 202 with its error while the retries go on; with sync it
// waits until joined and every member is up, or 504 at the deadline (the retries go on).
Reply join_by_address(AdminServer& admin, const std::string& text, bool sync, Millis timeout) {
  auto address = parse_listen_addr(text);
  if (!address) throw BadRequest("field 'address': " + address.error().detail);
  if (address->port == 0) throw BadRequest("field 'address': port 0 is not an address to join");
  const json ok{{"joined", to_string(*address)}, {"sync", sync}};
  const auto deadline = Clock::now() + timeout;
  std::weak_ptr<PeerService> weak = admin.context<PeerRoutes>()->service;
  std::weak_ptr<Joiner> joiner = admin.context<PeerRoutes>()->joiner;
  auto io = admin.io();
  return admin.on_io([address = *address, sync, ok, deadline, weak, joiner, io](PeerService&, Replier reply) {
    auto retrying = joiner.lock();
    if (!retrying) return reply(error_reply(503, "shutting_down", "the node is stopping"));
    const auto pending = [ok](const Result<void>& first) {
      json body{{"joined", nullptr}, {"pending", ok["joined"]}, {"sync", false},
                {"error", first.error().detail.empty() ? first.error().message() : first.error().detail},
                {"retrying", true}};
      return json_reply(body, 202);
    };
    if (!sync) {
      return retrying->add(address, [ok, reply, pending](const Result<void>& first) {
        reply(first ? json_reply(ok) : pending(first));
      });
    }
    retrying->add(address, {}, [ok, deadline, weak, io, reply](const Result<void>& joined) {
      if (!joined) return reply(error_reply(joined.error()));
      reply_when_all_up(weak, io, deadline, ok, reply);
    });
  }, timeout + Millis(1000), AdminServer::Wait::outcome);
}

void add_join_routes(AdminServer& admin) {
  admin.post("/v1/join", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"address", "spec", "sync", "timeout_ms"});
    if (fields.has("address") == fields.has("spec")) throw BadRequest("body: give exactly one of 'address' and 'spec'");
    const bool sync = fields.flag("sync", false);
    const Millis timeout(fields.number("timeout_ms", 5000, 1, timeout_ms_max));
    if (fields.has("spec")) return join_by_spec(admin, spec_field(*fields.raw("spec"), "spec"), sync, timeout);
    return join_by_address(admin, fields.required_text("address"), sync, timeout);
  });
  admin.post("/v1/connect", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"spec", "prune"});
    if (!fields.has("spec")) throw BadRequest("field 'spec': required");
    const NodeSpec spec = spec_field(*fields.raw("spec"), "spec");
    const bool prune = fields.flag("prune", false);
    return admin.on_io_now([spec, prune](PeerService& service) {
      auto stale = service.connect(spec, prune);
      if (!stale) return error_reply(stale.error());
      json specs = json::array();
      for (const auto& s : *stale) specs.push_back(to_json(s));
      return json_reply({{"connected", spec.name}, {"stale", specs}});
    });
  });
  admin.post("/v1/reserve", [&admin](const httplib::Request& request) {
    const auto tag = Fields::body(request, {"tag"}).required_text("tag");
    return admin.on_io_now([tag](PeerService& service) {
      auto reserved = service.reserve(tag);
      return reserved ? json_reply({{"reserved", tag}}) : error_reply(reserved.error());
    });
  });
}

void add_leave_routes(AdminServer& admin) {
  admin.post("/v1/leave", [&admin](const httplib::Request& request) {
    const auto node = Fields::body(request, {"node"}).text("node");
    return admin.on_io([&admin, node](PeerService& service, Replier reply) {
      if (node && *node != service.spec().name) {
        auto removed = service.leave(*node);
        return reply(removed ? json_reply({{"removed", *node}}) : error_reply(removed.error()));
      }
      service.leave([&admin, reply, name = service.spec().name](const Result<void>& left) {
        reply(left ? json_reply({{"left", name}}) : error_reply(left.error()));
        if (left && admin.context<PeerRoutes>()->on_left) admin.context<PeerRoutes>()->on_left();
      });
    });
  });
  admin.post("/v1/update-members", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"specs"});
    const json* list = fields.raw("specs");
    if (!list || !list->is_array()) throw BadRequest("field 'specs': expected an array of node specs");
    std::vector<NodeSpec> specs;
    for (std::size_t i = 0; i < list->size(); ++i) specs.push_back(spec_field((*list)[i], "specs[" + std::to_string(i) + "]"));
    return admin.on_io_now([specs](PeerService& service) {
      auto updated = service.update_members(specs);
      return updated ? json_reply({{"members", service.members()}}) : error_reply(updated.error());
    });
  });
}

void add_read_routes(AdminServer& admin) {
  admin.get("/v1/spec", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    return admin.on_io_now([](PeerService& service) { return json_reply(to_json(service.spec())); });
  });
  admin.get("/v1/members", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    return admin.on_io_now([](PeerService& service) {
      json members = json::array();
      for (const auto& member : service.member_status()) members.push_back(member_json(member));
      return json_reply({{"node", service.spec().name}, {"members", members}});
    });
  });
  admin.get("/v1/state", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    return admin.on_io_now([](PeerService& service) { return json_reply(service.get_local_state()); });
  });
  admin.get(R"(/v1/capabilities/([A-Za-z0-9_.-]{1,64}))", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    const std::string name = request.matches[1];
    return admin.on_io_now([name](PeerService& service) {
      return json_reply({{"capability", name}, {"supported", service.supports_capability(name)}});
    });
  });
}

}  // namespace

void add_membership_routes(AdminServer& admin) {
  add_read_routes(admin);
  add_join_routes(admin);
  add_leave_routes(admin);
}

}  // namespace plexus::node
