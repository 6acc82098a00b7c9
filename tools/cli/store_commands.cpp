// `plexus keyspace ...` and `plexus kv ...`: tenant key spaces and their keys
// through the admin API (docs/admin-api.md, "Key spaces"). Keys are JSON
// tuples (docs/store.md, "Tuples as JSON"), checked here first so a typo is a
// usage error naming the argument, before anything is sent.
#include <httplib.h>

#include "plexus/store/tuple.hpp"
#include "tools/cli/commands.hpp"

namespace plexus::tools {
namespace {

using nlohmann::json;

/// Parses a tuple argument; CLI::ValidationError naming it when it is not one.
json tuple_argument(const std::string& name, const std::string& text) {
  auto tuple = store::tuple_from_json_text(text);
  if (!tuple) {
    throw CLI::ValidationError(name + ": " + tuple.error().detail + " (a key is a JSON array such as '[\"users\", 42]')");
  }
  // Sent as the canonical spelling, so a big integer never passes through a double.
  return store::to_json(*tuple);
}

struct TenantArgs {
  std::string tenant;
  std::string datastore = "main";
  std::string context;  ///< work through this datastore context (kv and keyspace open only)
};

void add_tenant_args(CLI::App* sub, TenantArgs& args) {
  sub->add_option("TENANT", args.tenant, "tenant id")->required();
  sub->add_option("--datastore", args.datastore, "datastore name")->capture_default_str();
}

/// `--context C`: work as a datastore context's role (docs/store.md, "Contexts in a node").
void add_context_arg(CLI::App* sub, TenantArgs& args) {
  sub->add_option("--context", args.context,
                  "work through this datastore context (its --datastore only when several declare it)");
}

json tenant_body(const TenantArgs& args) {
  if (!args.context.empty()) {
    json body{{"tenant", args.tenant}, {"context", args.context}};
    if (args.datastore != "main") body["datastore"] = args.datastore;
    return body;
  }
  return {{"tenant", args.tenant}, {"datastore", args.datastore}};
}

/// The query of a GET on the tenant's keys.
httplib::Params tenant_params(const TenantArgs& args) {
  httplib::Params params{{"tenant", args.tenant}};
  if (args.context.empty() || args.datastore != "main") params.emplace("datastore", args.datastore);
  if (!args.context.empty()) params.emplace("context", args.context);
  return params;
}

void add_keyspace_commands(CLI::App& app, std::vector<Command>& out) {
  auto* keyspace = app.add_subcommand("keyspace", "tenant key spaces: create, exists, list, open, clear, delete");
  keyspace->require_subcommand(1);
  const std::pair<const char*, const char*> posts[] = {
      {"create", "create TENANT (fails if it exists)"},
      {"clear", "remove every key of TENANT; cannot be undone"},
      {"delete", "delete TENANT; it must hold no keys (a missing tenant is fine)"},
      {"clear-delete", "clear TENANT, then delete it (a missing tenant is fine)"},
  };
  for (const auto& [name, help] : posts) {
    auto args = std::make_shared<TenantArgs>();
    auto* sub = keyspace->add_subcommand(name, help);
    add_tenant_args(sub, *args);
    out.push_back({sub, [args, path = std::string("/v1/keyspace/") + name] {
                     return Call{"POST", path, tenant_body(*args)};
                   }, nullptr});
  }
  auto exists = std::make_shared<TenantArgs>();
  auto* e = keyspace->add_subcommand("exists", "whether TENANT exists");
  add_tenant_args(e, *exists);
  out.push_back({e, [exists] {
                   return Call{"GET", httplib::append_query_params("/v1/keyspace/exists",
                                          {{"tenant", exists->tenant}, {"datastore", exists->datastore}}), nullptr};
                 }, nullptr});
  struct Open : TenantArgs {
    bool create = false;
  };
  auto open = std::make_shared<Open>();
  auto* o = keyspace->add_subcommand("open", "open TENANT (runs its migrations); prints its prefix");
  add_tenant_args(o, *open);
  add_context_arg(o, *open);
  o->add_flag("--create", open->create, "create it if missing (open!)");
  out.push_back({o, [open] {
                   auto body = tenant_body(*open);
                   body["create"] = open->create;
                   return Call{"POST", "/v1/keyspace/open", body};
                 }, nullptr});
  struct List {
    std::string datastore = "main", after;
    int limit = 1000;
  };
  auto list = std::make_shared<List>();
  auto* l = keyspace->add_subcommand("list", "tenants in id order, a page at a time (--after the last one seen)");
  l->add_option("--datastore", list->datastore, "datastore name")->capture_default_str();
  l->add_option("--after", list->after, "list ids after this one");
  l->add_option("--limit", list->limit, "page size")->capture_default_str()->check(CLI::Range(1, 10'000));
  out.push_back({l, [list] {
                   httplib::Params params{{"datastore", list->datastore}, {"limit", std::to_string(list->limit)}};
                   if (!list->after.empty()) params.emplace("after", list->after);
                   return Call{"GET", httplib::append_query_params("/v1/keyspace/list", params), nullptr};
                 }, nullptr});
}

struct KeyArgs : TenantArgs {
  std::string key;
  std::string value;
  bool hex = false;
};

void add_kv_commands(CLI::App& app, std::vector<Command>& out) {
  auto* kv = app.add_subcommand("kv", "keys of a tenant key space; keys are JSON tuples such as '[\"users\", 42]'");
  kv->require_subcommand(1);
  auto get = std::make_shared<KeyArgs>();
  auto* g = kv->add_subcommand("get", "the value of KEY in TENANT");
  add_tenant_args(g, *get);
  add_context_arg(g, *get);
  g->add_option("KEY", get->key, "key tuple as JSON")->required();
  out.push_back({g, [get] {
                   tuple_argument("KEY", get->key);
                   auto params = tenant_params(*get);
                   params.emplace("key", get->key);
                   return Call{"GET", httplib::append_query_params("/v1/kv/get", params), nullptr};
                 }, nullptr});
  auto set = std::make_shared<KeyArgs>();
  auto* s = kv->add_subcommand("set", "set KEY to VALUE in TENANT");
  add_tenant_args(s, *set);
  add_context_arg(s, *set);
  s->add_option("KEY", set->key, "key tuple as JSON")->required();
  s->add_option("VALUE", set->value, "the value (text, or hex with --hex)")->required();
  s->add_flag("--hex", set->hex, "VALUE is hex-encoded bytes");
  out.push_back({s, [set] {
                   auto body = tenant_body(*set);
                   body["key"] = tuple_argument("KEY", set->key);
                   body["value"] = set->hex ? json{{"bytes", set->value}} : json(set->value);
                   return Call{"POST", "/v1/kv/set", body};
                 }, nullptr});
  auto clear = std::make_shared<KeyArgs>();
  auto* c = kv->add_subcommand("clear", "remove KEY from TENANT");
  add_tenant_args(c, *clear);
  add_context_arg(c, *clear);
  c->add_option("KEY", clear->key, "key tuple as JSON")->required();
  out.push_back({c, [clear] {
                   auto body = tenant_body(*clear);
                   body["key"] = tuple_argument("KEY", clear->key);
                   return Call{"POST", "/v1/kv/clear", body};
                 }, nullptr});
  struct Range : KeyArgs {
    int limit = 100;
    bool reverse = false;
  };
  auto range = std::make_shared<Range>();
  auto* r = kv->add_subcommand("range", "keys of TENANT that extend PREFIX (all keys without it), in order");
  add_tenant_args(r, *range);
  add_context_arg(r, *range);
  r->add_option("PREFIX", range->key, "prefix tuple as JSON (default [])");
  r->add_option("--limit", range->limit, "rows at most")->capture_default_str()->check(CLI::Range(1, 10'000));
  r->add_flag("--reverse", range->reverse, "from the last key backwards");
  out.push_back({r, [range] {
                   auto params = tenant_params(*range);
                   params.emplace("limit", std::to_string(range->limit));
                   params.emplace("reverse", range->reverse ? "true" : "false");
                   if (!range->key.empty()) {
                     tuple_argument("PREFIX", range->key);
                     params.emplace("prefix", range->key);
                   }
                   return Call{"GET", httplib::append_query_params("/v1/kv/range", params), nullptr};
                 }, nullptr});
}

}  // namespace

void add_store_commands(CLI::App& app, std::vector<Command>& out) {
  add_keyspace_commands(app, out);
  add_kv_commands(app, out);
}

}  // namespace plexus::tools
