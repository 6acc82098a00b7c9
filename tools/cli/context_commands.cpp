// `plexus datastore ...` and `plexus context ...`: a node's datastores with
// contexts (declared by its --datastore-config) and their contexts, through
// the admin API (docs/admin-api.md, "Datastores and contexts").
#include <httplib.h>

#include "tools/cli/commands.hpp"

namespace plexus::tools {
namespace {

using nlohmann::json;

/// Creating a database with its roles, or a pool's first connections, may take a while.
constexpr std::chrono::milliseconds slow_call{60'000};

void add_datastore_commands(CLI::App& app, std::vector<Command>& out) {
  auto* datastore = app.add_subcommand("datastore", "datastores with contexts: list, create, drop, start, stop, contexts");
  datastore->require_subcommand(1);
  auto* list = datastore->add_subcommand("list", "every datastore of the node's --datastore-config, its contexts and their states");
  out.push_back({list, [] { return Call{"GET", "/v1/datastore/list", nullptr}; }, nullptr});
  const std::pair<const char*, const char*> posts[] = {
      {"create", "create NAME on its server: database (or LMDB environment), roles, privileges"},
      {"drop", "drop NAME: database and roles (or LMDB files); it must be stopped; cannot be undone"},
      {"start", "start NAME's contexts (all_started, some_started or none_started)"},
      {"stop", "stop NAME's contexts; their calls fail unavailable"},
  };
  for (const auto& [name, help] : posts) {
    auto target = std::make_shared<std::string>();
    auto* sub = datastore->add_subcommand(name, help);
    sub->add_option("NAME", *target, "datastore name")->required();
    out.push_back({sub, [target, path = std::string("/v1/datastore/") + name] {
                     return Call{"POST", path, json{{"datastore", *target}}, slow_call};
                   }, nullptr});
  }
  auto target = std::make_shared<std::string>();
  auto* contexts = datastore->add_subcommand("contexts", "the contexts of NAME: kind, access, pool size, state, reason");
  contexts->add_option("NAME", *target, "datastore name")->required();
  out.push_back({contexts, [target] {
                   return Call{"GET", httplib::append_query_params("/v1/datastore/contexts", {{"datastore", *target}}),
                               nullptr};
                 }, nullptr});
}

struct ContextArgs {
  std::string name;
  std::string datastore;
};

void add_context_subcommands(CLI::App& app, std::vector<Command>& out) {
  auto* context = app.add_subcommand("context", "contexts of the node's datastores: start, stop, whereis");
  context->require_subcommand(1);
  const std::pair<const char*, const char*> posts[] = {
      {"start", "start context NAME: a fresh pool, probed, registered again"},
      {"stop", "stop context NAME: its calls fail unavailable, its name is unregistered"},
  };
  for (const auto& [name, help] : posts) {
    auto args = std::make_shared<ContextArgs>();
    auto* sub = context->add_subcommand(name, help);
    sub->add_option("NAME", args->name, "context name")->required();
    sub->add_option("--datastore", args->datastore, "its datastore (needed only when several declare NAME)");
    out.push_back({sub, [args, path = std::string("/v1/context/") + name] {
                     json body{{"context", args->name}};
                     if (!args->datastore.empty()) body["datastore"] = args->datastore;
                     return Call{"POST", path, body, slow_call};
                   }, nullptr});
  }
  auto name = std::make_shared<std::string>();
  auto* whereis = context->add_subcommand("whereis", "where registered name NAME runs: node, datastore, context");
  whereis->add_option("NAME", *name, "registered name")->required();
  out.push_back({whereis, [name] {
                   return Call{"GET", httplib::append_query_params("/v1/context/whereis", {{"name", *name}}), nullptr};
                 }, nullptr});
}

}  // namespace

void add_context_commands(CLI::App& app, std::vector<Command>& out) {
  add_datastore_commands(app, out);
  add_context_subcommands(app, out);
}

}  // namespace plexus::tools
