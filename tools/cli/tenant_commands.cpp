// `plexus tenant ...`: the tenant manager's admin routes (docs/admin-api.md,
// "Tenants"): install, update, uninstall, list, get, whereis, nodes, call,
// cast; events is in tenant_events.cpp. CONFIG and CAPABILITIES are JSON objects (or @FILE); a call's
// REQUEST is sent as text, as the tenant's module reads it.
#include <httplib.h>

#include <fstream>
#include <sstream>

#include "tools/cli/commands.hpp"

namespace plexus::tools {
namespace {

using nlohmann::json;
using Millis = std::chrono::milliseconds;

json object_argument(const std::string& what, const std::string& text) {
  std::string source = text;
  if (text.starts_with('@')) {
    std::ifstream in(text.substr(1), std::ios::binary);
    if (!in) throw CLI::ValidationError(what + " " + text + ": cannot read the file");
    std::ostringstream content;
    content << in.rdbuf();
    source = content.str();
  }
  auto value = json::parse(source, nullptr, false);
  if (value.is_discarded() || !value.is_object()) throw CLI::ValidationError(what + ": expected a JSON object");
  return value;
}

struct Args {
  std::string id, module, config, capabilities, request;
  int deadline_ms = 0;
};

/// The HTTP wait: the deadline plus a margin for the answer to come back.
Millis wait_of(const Args& a) { return Millis((a.deadline_ms > 0 ? a.deadline_ms : 5'000) + 5'000); }

void add_deadline(CLI::App* sub, Args& a) {
  sub->add_option("--deadline-ms", a.deadline_ms, "how long to wait (default: the node's --tenant-call-deadline-ms)")
      ->check(CLI::Range(1, 600'000));
}

void add_writes(CLI::App& tenant, std::vector<Command>& out) {
  auto a = std::make_shared<Args>();
  auto* install = tenant.add_subcommand("install", "install tenant ID of MODULE; waits for the owner's outcome (ok | async)");
  install->add_option("MODULE", a->module, "module name")->required();
  install->add_option("ID", a->id, "tenant id")->required();
  install->add_option("--config", a->config, "config: a JSON object or @FILE");
  install->add_option("--capabilities", a->capabilities, "capabilities: a JSON object or @FILE");
  add_deadline(install, *a);
  out.push_back({install, [a] {
                   json body{{"module", a->module}, {"id", a->id}};
                   if (!a->config.empty()) body["config"] = object_argument("--config", a->config);
                   if (!a->capabilities.empty()) body["capabilities"] = object_argument("--capabilities", a->capabilities);
                   if (a->deadline_ms > 0) body["deadline_ms"] = a->deadline_ms;
                   return Call{"POST", "/v1/tenants/install", body, wait_of(*a)};
                 }, nullptr});
  auto u = std::make_shared<Args>();
  auto* update = tenant.add_subcommand("update", "update tenant ID's config and/or capabilities");
  update->add_option("ID", u->id, "tenant id")->required();
  update->add_option("--config", u->config, "new config: a JSON object or @FILE");
  update->add_option("--capabilities", u->capabilities, "new capabilities: a JSON object or @FILE");
  add_deadline(update, *u);
  out.push_back({update, [u] {
                   json body{{"id", u->id}};
                   if (!u->config.empty()) body["config"] = object_argument("--config", u->config);
                   if (!u->capabilities.empty()) body["capabilities"] = object_argument("--capabilities", u->capabilities);
                   if (u->deadline_ms > 0) body["deadline_ms"] = u->deadline_ms;
                   return Call{"POST", "/v1/tenants/update", body, wait_of(*u)};
                 }, nullptr});
  auto x = std::make_shared<Args>();
  auto* uninstall = tenant.add_subcommand("uninstall", "uninstall tenant ID");
  uninstall->add_option("ID", x->id, "tenant id")->required();
  add_deadline(uninstall, *x);
  out.push_back({uninstall, [x] {
                   json body{{"id", x->id}};
                   if (x->deadline_ms > 0) body["deadline_ms"] = x->deadline_ms;
                   return Call{"POST", "/v1/tenants/uninstall", body, wait_of(*x)};
                 }, nullptr});
}

void add_reads(CLI::App& tenant, std::vector<Command>& out) {
  auto* list = tenant.add_subcommand("list", "every tenant of the registry, with its owner and where it runs");
  out.push_back({list, [] { return Call{"GET", "/v1/tenants/list", nullptr}; }, nullptr});
  auto* nodes = tenant.add_subcommand("nodes", "the members as placement sees them: up, modules, tenants running");
  out.push_back({nodes, [] { return Call{"GET", "/v1/tenants/nodes", nullptr}; }, nullptr});
  for (const auto& [name, help] : {std::pair{"get", "tenant ID's record: module, config, generation, owner, status"},
                                   std::pair{"whereis", "the node that runs tenant ID"}}) {
    auto id = std::make_shared<std::string>();
    auto* sub = tenant.add_subcommand(name, help);
    sub->add_option("ID", *id, "tenant id")->required();
    out.push_back({sub, [id, path = std::string("/v1/tenants/") + name] {
                     return Call{"GET", httplib::append_query_params(path, {{"id", *id}}), nullptr};
                   }, nullptr});
  }
}

void add_calls(CLI::App& tenant, std::vector<Command>& out) {
  auto a = std::make_shared<Args>();
  auto* call = tenant.add_subcommand("call", "call tenant ID with REQUEST (text); prints its reply");
  call->add_option("ID", a->id, "tenant id")->required();
  call->add_option("REQUEST", a->request, "the request, as the module reads it")->required();
  add_deadline(call, *a);
  out.push_back({call, [a] {
                   json body{{"id", a->id}, {"request", a->request}};
                   if (a->deadline_ms > 0) body["deadline_ms"] = a->deadline_ms;
                   return Call{"POST", "/v1/tenants/call", body, wait_of(*a)};
                 }, nullptr});
  auto c = std::make_shared<Args>();
  auto* cast = tenant.add_subcommand("cast", "cast REQUEST to tenant ID (no reply)");
  cast->add_option("ID", c->id, "tenant id")->required();
  cast->add_option("REQUEST", c->request, "the request, as the module reads it")->required();
  out.push_back({cast, [c] { return Call{"POST", "/v1/tenants/cast", {{"id", c->id}, {"request", c->request}}}; }, nullptr});
}

}  // namespace

void add_tenant_commands(CLI::App& app, std::vector<Command>& out, const GlobalOptions& global) {
  auto* tenant = app.add_subcommand("tenant", "tenants: install, update, uninstall, list, get, whereis, nodes, call, cast, events");
  tenant->require_subcommand(1);
  add_writes(*tenant, out);
  add_reads(*tenant, out);
  add_calls(*tenant, out);
  add_tenant_events_command(*tenant, out, global);
}

}  // namespace plexus::tools
