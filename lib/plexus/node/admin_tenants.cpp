// Admin routes of the tenant manager (tenants_service.cpp): install, update,
// uninstall (each acknowledged once the registry write is saved and sent,
// then waiting up to its deadline for the owner's outcome), list, get,
// whereis, nodes, call and cast, and the long poll of this node's durable
// lifecycle event log (events). Requests are checked here, each bad field
// named; tenant errors map to HTTP statuses by code. docs/admin-api.md.
#include <limits>

#include "plexus/node/admin_server.hpp"
#include "plexus/node/tenants_host.hpp"
#include "plexus/tenants/errors.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
namespace te = tenants;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t deadline_max_ms = 600'000;
/// Longest call or cast request accepted through the admin API (bytes).
constexpr std::size_t request_max_bytes = 1 << 20;
/// Longest long poll of GET /v1/tenants/events (wait_ms), and most events per answer (limit).
constexpr std::uint64_t events_wait_max_ms = 30'000;
constexpr std::uint64_t events_limit_max = 1'000;

int status_of(te::errc code) {
  switch (code) {
    case te::errc::invalid_argument:
    case te::errc::unknown_module: return 400;
    case te::errc::tenant_not_found: return 404;
    case te::errc::already_exists:
    case te::errc::conflict:
    case te::errc::fenced: return 409;
    case te::errc::module_error: return 422;
    case te::errc::mailbox_full:
    case te::errc::outbox_full: return 429;
    case te::errc::unavailable:
    case te::errc::stopped: return 503;
    case te::errc::timeout: return 504;
    default: return 500;
  }
}

Reply tenant_error(const Error& error) {
  if (error.code.category() != te::tenants_category()) return error_reply(error);
  const auto code = static_cast<te::errc>(error.code.value());
  return error_reply(status_of(code), te::errc_name(code), error.detail.empty() ? error.message() : error.detail);
}

std::shared_ptr<TenantsHost> host_of(AdminServer& admin) { return admin.context<TenantsHost>(); }

Reply disabled() { return error_reply(404, "tenants_disabled", "this node runs no tenant manager (start it with --tenants)"); }

/// A JSON object field, or BadRequest naming it.
json object_field(const Fields& fields, std::string_view key, const json& fallback) {
  const json* value = fields.raw(key);
  if (!value) return fallback;
  if (!value->is_object()) throw BadRequest("field '" + std::string(key) + "': expected a JSON object");
  return *value;
}

std::string tenant_id(const Fields& fields) {
  auto id = fields.required_text("id");
  if (auto ok = te::validate_id(id, "id"); !ok) throw BadRequest("field 'id': " + ok.error().detail);
  return id;
}

Clock::time_point deadline_of(const Fields& fields, const TenantsHost& host) {
  const auto fallback = std::uint64_t(host.settings().call_deadline.count());
  return Clock::now() + std::chrono::milliseconds(fields.number("deadline_ms", fallback, 1, deadline_max_ms));
}

peer::Millis wait_for(Clock::time_point deadline) {
  return std::chrono::duration_cast<peer::Millis>(deadline - Clock::now()) + peer::Millis(1000);
}

/// Runs a registry write on the io thread, then waits for the owner's outcome.
using Write = std::function<Result<te::Registered>(TenantsHost&)>;
Reply write_and_wait(AdminServer& admin, Clock::time_point deadline, Write write) {
  auto host = host_of(admin);
  if (!host) return disabled();
  return admin.on_io([host, deadline, write = std::move(write)](peer::PeerService&, AdminServer::Replier reply) {
    auto written = write(*host);
    if (!written) return reply(tenant_error(written.error()));
    const auto id = written->id;
    host->await_outcome(id, written->generation, deadline, [host, id, reply](LifecycleOutcome result) {
      if (result.kind == LifecycleOutcome::Kind::error) return reply(tenant_error(result.error));
      json body{{"outcome", outcome_name(result.kind)}};
      if (auto now = host->find(id)) body["tenant"] = host->describe(*now);
      reply(json_reply(body));
    });
  }, wait_for(deadline), AdminServer::Wait::outcome);
}

void add_write_routes(AdminServer& admin) {
  admin.post("/v1/tenants/install", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"id", "module", "config", "capabilities", "deadline_ms"});
    const auto id = tenant_id(fields);
    const auto module = fields.required_text("module");
    te::Config config{object_field(fields, "config", json::object()), object_field(fields, "capabilities", json::object())};
    auto host = host_of(admin);
    if (!host) return disabled();
    return write_and_wait(admin, deadline_of(fields, *host), [id, module, config](TenantsHost& h) {
      return h.install(id, module, config);
    });
  });
  admin.post("/v1/tenants/update", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"id", "config", "capabilities", "deadline_ms"});
    const auto id = tenant_id(fields);
    const json* config = fields.raw("config");
    const json* capabilities = fields.raw("capabilities");
    if (config && !config->is_object()) throw BadRequest("field 'config': expected a JSON object");
    if (capabilities && !capabilities->is_object()) throw BadRequest("field 'capabilities': expected a JSON object");
    auto host = host_of(admin);
    if (!host) return disabled();
    return write_and_wait(admin, deadline_of(fields, *host),
                          [id, config = config ? std::optional<json>(*config) : std::nullopt,
                           capabilities = capabilities ? std::optional<json>(*capabilities) : std::nullopt](TenantsHost& h)
                              -> Result<te::Registered> {
                            const auto now = h.find(id);
                            if (!now) return te::make_error(te::errc::tenant_not_found, "no tenant '" + id + "' is installed");
                            te::Config next = now->record.config;
                            if (config) next.config = *config;
                            if (capabilities) next.capabilities = *capabilities;
                            return h.update(id, std::move(next));
                          });
  });
  admin.post("/v1/tenants/uninstall", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"id", "deadline_ms"});
    const auto id = tenant_id(fields);
    auto host = host_of(admin);
    if (!host) return disabled();
    return write_and_wait(admin, deadline_of(fields, *host), [id](TenantsHost& h) { return h.uninstall(id); });
  });
}

void add_read_routes(AdminServer& admin) {
  admin.get("/v1/tenants/list", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    auto host = host_of(admin);
    if (!host) return disabled();
    return admin.on_io_now([host](peer::PeerService&) {
      json tenants = json::array();
      for (const auto& t : host->list()) tenants.push_back(host->describe(t));
      return json_reply({{"tenants", tenants}});
    });
  });
  admin.get("/v1/tenants/get", [&admin](const httplib::Request& request) {
    const auto id = tenant_id(Fields::query(request, {"id"}));
    auto host = host_of(admin);
    if (!host) return disabled();
    return admin.on_io_now([host, id](peer::PeerService&) {
      const auto t = host->find(id);
      if (!t) return tenant_error(te::make_error(te::errc::tenant_not_found, "no tenant '" + id + "' is installed"));
      return json_reply(host->describe(*t));
    });
  });
  admin.get("/v1/tenants/whereis", [&admin](const httplib::Request& request) {
    const auto id = tenant_id(Fields::query(request, {"id"}));
    auto host = host_of(admin);
    if (!host) return disabled();
    return admin.on_io_now([host, id](peer::PeerService&) {
      const auto t = host->find(id);
      const auto ran = host->running_on(id);
      if (!t || t->record.desired != te::Desired::running || !ran) {
        return tenant_error(te::make_error(te::errc::tenant_not_found, "tenant '" + id + "' runs nowhere now"));
      }
      return json_reply({{"id", id}, {"node", *ran}});
    });
  });
  admin.get("/v1/tenants/nodes", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    auto host = host_of(admin);
    if (!host) return disabled();
    return admin.on_io_now([host](peer::PeerService&) {
      return json_reply({{"nodes", host->nodes_json()}, {"may_run", host->may_run_now()}});
    });
  });
}

json event_json(const te::LoggedEvent& e) {
  return {{"seq", e.seq}, {"tenant", e.tenant}, {"kind", te::event_kind_name(e.kind)}, {"ok", e.ok},
          {"reason", e.reason}, {"key", e.key}, {"generation", e.generation}, {"unix_ms", e.unix_ms}};
}

/// GET /v1/tenants/events: answers at once when events after `after` are
/// logged, else waits for one (a condition variable, on this request's
/// thread, counted as a blocking route) up to wait_ms.
void add_event_routes(AdminServer& admin) {
  admin.get("/v1/tenants/events", [&admin](const httplib::Request& request) {
    const auto fields = Fields::query(request, {"after", "limit", "wait_ms"});
    const auto after = fields.number("after", 0, 0, std::uint64_t(std::numeric_limits<std::int64_t>::max()));
    const auto limit = fields.number("limit", 100, 1, events_limit_max);
    const auto wait_ms = fields.number("wait_ms", 0, 0, events_wait_max_ms);
    auto host = host_of(admin);
    if (!host) return disabled();
    auto log = host->runner() ? host->runner()->events() : nullptr;
    if (!log) return error_reply(404, "events_disabled", "this node runs no tenants (no tenant datastore): it logs no events");
    return admin.blocking([&] {
      if (wait_ms > 0) (void)log->wait(after, Clock::now() + std::chrono::milliseconds(wait_ms));
      auto page = log->read(after, limit);
      if (!page) return tenant_error(page.error());
      json events = json::array();
      for (const auto& e : page->events) events.push_back(event_json(e));
      return json_reply({{"events", events}, {"next", page->next}, {"first_kept", page->first_kept}, {"last", log->last()}});
    });
  });
}

void add_call_routes(AdminServer& admin) {
  admin.post("/v1/tenants/call", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"id", "request", "deadline_ms"});
    const auto id = tenant_id(fields);
    auto body = fields.required_text("request");
    if (body.size() > request_max_bytes) throw BadRequest("field 'request': longer than 1 MiB");
    auto host = host_of(admin);
    if (!host) return disabled();
    const auto deadline = deadline_of(fields, *host);
    return admin.on_io([host, id, body = std::move(body), deadline](peer::PeerService&, AdminServer::Replier reply) mutable {
      host->call(id, std::move(body), deadline, [reply](Result<std::string> r) {
        reply(r ? json_reply({{"reply", *r}}) : tenant_error(r.error()));
      });
    }, wait_for(deadline), AdminServer::Wait::outcome);
  });
  admin.post("/v1/tenants/cast", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"id", "request"});
    const auto id = tenant_id(fields);
    auto body = fields.required_text("request");
    if (body.size() > request_max_bytes) throw BadRequest("field 'request': longer than 1 MiB");
    auto host = host_of(admin);
    if (!host) return disabled();
    return admin.on_io_now([host, id, body = std::move(body)](peer::PeerService&) mutable {
      auto sent = host->cast(id, std::move(body));
      return sent ? json_reply({{"cast", true}}) : tenant_error(sent.error());
    });
  });
}

}  // namespace

void add_tenant_routes(AdminServer& admin) {
  add_write_routes(admin);
  add_read_routes(admin);
  add_call_routes(admin);
  add_event_routes(admin);
}

}  // namespace plexus::node
