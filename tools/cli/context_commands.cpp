// `plexus datastore ...` and `plexus context ...`: a node's datastores with
// contexts (declared by its --datastore-config, or at run time with
// `create|start --options`) and their contexts, through
// the admin API (docs/admin-api.md, "Datastores and contexts").
#include <httplib.h>

#include <fstream>
#include <sstream>

#include "tools/cli/commands.hpp"

namespace plexus::tools {
namespace {

using nlohmann::json;

/// Creating a database with its roles, or a pool's first connections, may take a while.
constexpr std::chrono::milliseconds slow_call{60'000};

struct DatastoreArgs {
  std::string name;
  std::string options;  ///< JSON, or @FILE
};

/// {"datastore": NAME} or {"options": {...}}: exactly one of NAME and --options.
json datastore_body(const DatastoreArgs& args) {
  if (args.name.empty() == args.options.empty()) throw CLI::ValidationError("give NAME or --options, one of them");
  if (!args.name.empty()) return json{{"datastore", args.name}};
  std::string text = args.options;
  if (text.starts_with('@')) {
    std::ifstream in(text.substr(1), std::ios::binary);
    if (!in) throw CLI::ValidationError("--options " + text + ": cannot read the file");
    std::ostringstream content;
    content << in.rdbuf();
    text = content.str();
  }
  auto options = json::parse(text, nullptr, false);
  if (options.is_discarded() || !options.is_object()) {
    throw CLI::ValidationError("--options: expected a JSON object of datastore options, or @FILE");
  }
  return json{{"options", std::move(options)}};
}

void add_datastore_commands(CLI::App& app, std::vector<Command>& out) {
  auto* datastore = app.add_subcommand("datastore", "datastores with contexts: list, create, drop, start, stop, contexts");
  datastore->require_subcommand(1);
  auto* list = datastore->add_subcommand("list", "every datastore of the node's --datastore-config, its contexts and their states");
  out.push_back({list, [] { return Call{"GET", "/v1/datastore/list", nullptr}; }, nullptr});
  const std::pair<const char*, const char*> posts[] = {
      {"create", "create NAME on its server: database (or LMDB environment), roles, privileges; or, with "
                 "--options, declare a datastore not in the config file and create it"},
      {"drop", "drop NAME: database and roles (or LMDB files); it must be stopped; cannot be undone"},
      {"start", "start NAME's contexts (all_started, some_started or none_started); or, with --options, "
                "declare a datastore not in the config file and start it"},
      {"stop", "stop NAME's contexts; their calls fail unavailable"},
  };
  for (const auto& [name, help] : posts) {
    auto args = std::make_shared<DatastoreArgs>();
    auto* sub = datastore->add_subcommand(name, help);
    const bool declares = std::string_view(name) == "create" || std::string_view(name) == "start";
    auto* positional = sub->add_option("NAME", args->name, "datastore name");
    if (declares) {
      sub->add_option("--options", args->options,
                      "datastore options as JSON or @FILE (docs/store.md, \"Options\"): declared on the node at run time");
    } else {
      positional->required();
    }
    out.push_back({sub, [args, path = std::string("/v1/datastore/") + name] {
                     return Call{"POST", path, datastore_body(*args), slow_call};
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
