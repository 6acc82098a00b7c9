// Admin routes of the node's datastore contexts (contexts_service.cpp):
// datastore list, create, drop, start, stop and contexts; context start,
// stop and whereis. Every call blocks (a PostgreSQL statement, a pool's
// first connection, a registration waiting for the io thread), so it runs on
// the request's own thread (AdminServer::blocking). Answers never hold a
// credential nor its source. docs/admin-api.md documents each route.
#include <nlohmann/json.hpp>

#include <optional>

#include "plexus/context/errors.hpp"
#include "plexus/node/contexts_host.hpp"
#include "plexus/node/store_fields.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
namespace cx = context;

int status_of(cx::errc code) {
  switch (code) {
    case cx::errc::context_not_found: return 404;
    case cx::errc::already_registered:
    case cx::errc::already_declared:
    case cx::errc::already_started:
    case cx::errc::not_started: return 409;
    case cx::errc::not_login: return 400;
    case cx::errc::none_started: return 503;
    case cx::errc::provision_failed: return 502;
    default: return 500;
  }
}

/// A context, store or node error with the HTTP status its code maps to.
Reply context_error(const Error& error) {
  if (error.code.category() == cx::context_category()) {
    const auto code = static_cast<cx::errc>(error.code.value());
    return error_reply(status_of(code), cx::errc_name(code), error.message());
  }
  return store_error(error);  // store codes (unavailable, permission_denied), else the node's own
}

/// Runs `fn` with the node's contexts on this request's thread.
Reply with_contexts(AdminServer& admin, std::function<Reply(cx::Contexts&)> fn) {
  auto host = admin.context<ContextsHost>();
  if (!host) return error_reply(404, "context_not_found", "this node has no datastore contexts (--datastore-config)");
  return admin.blocking([host, fn = std::move(fn)] { return host->with(fn); });
}

/// The datastore of `context`: the request's "datastore", or the only one declaring it.
Result<std::string> datastore_of(const cx::Contexts& contexts, const Fields& fields, const std::string& context) {
  if (auto given = fields.text("datastore")) return *given;
  std::vector<std::string> found;
  for (const auto& d : contexts.status_json()) {
    for (const auto& c : d["contexts"]) {
      if (c["name"] == context) found.push_back(d["name"].get<std::string>());
    }
  }
  if (found.empty()) return cx::make_error(cx::errc::context_not_found, "no datastore has a context " + context);
  if (found.size() > 1) {
    return plexus::make_error(plexus::errc::invalid_field,
                              "field 'datastore': required, context " + context + " is in several datastores");
  }
  return found.front();
}

using DatastoreCall = Result<void> (cx::Contexts::*)(std::string_view);

Reply datastore_call(AdminServer& admin, const std::string& datastore, DatastoreCall call, const char* done) {
  return with_contexts(admin, [datastore, call, done](cx::Contexts& contexts) {
    auto outcome = (contexts.*call)(datastore);
    return outcome ? json_reply({{"datastore", datastore}, {done, true}}) : context_error(outcome.error());
  });
}

void add_datastore_call(AdminServer& admin, const std::string& path, DatastoreCall call, const char* done) {
  admin.post(path, [&admin, call, done](const httplib::Request& request) {
    return datastore_call(admin, Fields::body(request, {"datastore"}).required_text("datastore"), call, done);
  });
}

/// `error` about the posted options, its field path put under "options.".
Error in_options(const Error& error) {
  const bool about_a_field = error.code == plexus::make_error_code(plexus::errc::invalid_field) ||
                             error.code == cx::make_error_code(cx::errc::already_declared);
  return about_a_field ? Error{error.code, "options." + error.detail} : error;
}

/// A request's "options" (a datastore declared at run time): nullopt without
/// it; the parse error (fields named under "options.") when it is wrong. With
/// "options", "datastore" may not be given too.
std::optional<Result<cx::DatastoreOptions>> declared_options(const Fields& fields) {
  const json* options = fields.raw("options");
  if (options == nullptr) return std::nullopt;
  if (fields.has("datastore")) throw BadRequest("field 'datastore': give either datastore or options, not both");
  auto parsed = cx::parse_datastore_options(*options);
  if (!parsed) return Result<cx::DatastoreOptions>(in_options(parsed.error()));
  return parsed;
}

void add_datastore_routes(AdminServer& admin) {
  admin.get("/v1/datastore/list", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    if (!admin.context<ContextsHost>()) return json_reply({{"datastores", json::array()}});
    return with_contexts(admin, [](cx::Contexts& c) { return json_reply({{"datastores", c.status_json()}}); });
  });
  admin.get("/v1/datastore/contexts", [&admin](const httplib::Request& request) {
    const auto datastore = Fields::query(request, {"datastore"}).required_text("datastore");
    return with_contexts(admin, [datastore](cx::Contexts& c) {
      auto contexts = c.contexts_json(datastore);
      return contexts ? json_reply({{"datastore", datastore}, {"contexts", *contexts}}) : context_error(contexts.error());
    });
  });
  admin.post("/v1/datastore/start", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"datastore", "options"});
    auto declared = declared_options(fields);
    if (declared && !*declared) return context_error(declared->error());
    const auto datastore = declared ? (*declared)->name : fields.required_text("datastore");
    return with_contexts(admin, [datastore, declared](cx::Contexts& c) {
      if (declared) {
        if (auto ok = c.declare(**declared, false); !ok) return context_error(in_options(ok.error()));
      }
      auto started = c.start(datastore);
      return started ? json_reply(*started) : context_error(started.error());
    });
  });
  admin.post("/v1/datastore/create", [&admin](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"datastore", "options"});
    auto declared = declared_options(fields);
    if (!declared) return datastore_call(admin, fields.required_text("datastore"), &cx::Contexts::create, "created");
    if (!*declared) return context_error(declared->error());
    return with_contexts(admin, [options = **declared](cx::Contexts& c) {
      auto ok = c.declare(options, true);
      return ok ? json_reply({{"datastore", options.name}, {"created", true}, {"declared", true}})
                : context_error(in_options(ok.error()));
    });
  });
  add_datastore_call(admin, "/v1/datastore/drop", &cx::Contexts::drop, "dropped");
  add_datastore_call(admin, "/v1/datastore/stop", &cx::Contexts::stop, "stopped");
}

using ContextCall = Result<void> (cx::Contexts::*)(std::string_view, std::string_view);

void add_context_call(AdminServer& admin, const std::string& path, ContextCall call, const char* done) {
  admin.post(path, [&admin, call, done](const httplib::Request& request) {
    const auto fields = Fields::body(request, {"context", "datastore"});
    const auto context = fields.required_text("context");
    return with_contexts(admin, [fields, context, call, done](cx::Contexts& contexts) {
      auto datastore = datastore_of(contexts, fields, context);
      if (!datastore) return context_error(datastore.error());
      auto outcome = (contexts.*call)(*datastore, context);
      if (!outcome) return context_error(outcome.error());
      auto state = contexts.contexts_json(*datastore);
      json out{{"datastore", *datastore}, {"context", context}, {done, true}};
      for (const auto& c : state ? *state : json::array()) {
        if (c["name"] != context) continue;
        out["state"] = c["state"];
        if (c.contains("registration_error")) out["registration_error"] = c["registration_error"];
      }
      return json_reply(out);
    });
  });
}

}  // namespace

Reply with_context_tenant(AdminServer& admin, const Fields& fields, bool create, std::function<Reply(store::Tenant&)> fn) {
  const auto context = fields.required_text("context");
  const auto tenant = tenant_field(fields);
  auto host = admin.context<ContextsHost>();
  if (!host) return error_reply(404, "context_not_found", "this node has no datastore contexts (--datastore-config)");
  return admin.blocking([host, fields, context, tenant, create, fn = std::move(fn)] {
    // The handle is taken under the operation lock; the call runs outside it, as the context's role.
    auto handle = host->with([&](cx::Contexts& c) -> Result<std::shared_ptr<cx::Context>> {
      auto datastore = datastore_of(c, fields, context);
      if (!datastore) return datastore.error();
      return c.context(*datastore, context);
    });
    if (!handle) return context_error(handle.error());
    auto opened = create ? cx::open_or_create(**handle, tenant) : cx::open(**handle, tenant);
    if (!opened) return context_error(opened.error());
    return fn(*opened);
  });
}

void add_context_routes(AdminServer& admin) {
  add_datastore_routes(admin);
  add_context_call(admin, "/v1/context/start", &cx::Contexts::start_context, "started");
  add_context_call(admin, "/v1/context/stop", &cx::Contexts::stop_context, "stopped");
  admin.get("/v1/context/whereis", [&admin](const httplib::Request& request) {
    const auto name = Fields::query(request, {"name"}).required_text("name");
    return with_contexts(admin, [name](cx::Contexts& c) {
      auto found = c.whereis(name);
      if (!found) return context_error(found.error());
      return json_reply({{"name", name}, {"node", found->node}, {"datastore", found->datastore},
                         {"context", found->context}, {"registered_at_unix_ms", found->registered_at_unix_ms}});
    });
  });
}

}  // namespace plexus::node
