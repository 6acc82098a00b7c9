// plexus: the command-line tool of a Plexus cluster. `keygen` writes a
// cluster key; every other command is one call to a node's admin HTTP API
// (docs/admin-api.md). Output: the JSON answer on stdout (--pretty for
// people); errors: one line on stderr and a non-zero exit code:
//   1  the node refused or failed the request (the line has the HTTP status)
//   2  bad usage or a local problem (flags, key or token file)
//   3  the node cannot be reached
#include <CLI/CLI.hpp>

#include <iostream>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "tools/cli/admin_client.hpp"
#include "tools/cli/commands.hpp"

namespace {

using namespace plexus::tools;

constexpr int exit_node_error = 1;
constexpr int exit_usage = 2;
constexpr int exit_unreachable = 3;

std::string command_name(const CLI::App* app) {
  std::string name = app->get_name();
  for (auto* parent = app->get_parent(); parent && parent->get_parent(); parent = parent->get_parent()) {
    name = parent->get_name() + " " + name;
  }
  return name;
}

int print_answer(const AdminResponse& response, const Call& call, const std::string& name, bool pretty) {
  const bool ok = response.status >= 200 && response.status < 300;
  if (ok && call.text_output) {
    std::cout << response.body;
    return 0;
  }
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (ok) {
    if (body.is_discarded()) {
      std::cout << response.body;
    } else {
      std::cout << body.dump(pretty ? 2 : -1) << "\n";
    }
    return 0;
  }
  std::string reason = response.body;
  if (!body.is_discarded() && body.is_object() && body.contains("error")) {
    reason = body.value("code", "error") + ": " + body["error"].get<std::string>();
    // health answers 503 with a body worth printing: it says why.
    if (body.contains("status")) std::cout << body.dump(pretty ? 2 : -1) << "\n";
  } else if (!body.is_discarded() && body.contains("status")) {
    std::cout << body.dump(pretty ? 2 : -1) << "\n";
    reason = "status " + body.value("status", "");
  }
  std::cerr << "plexus " << name << ": HTTP " << response.status << " " << reason << "\n";
  return exit_node_error;
}

int run_call(const Command& command, const GlobalOptions& global) {
  const std::string name = command_name(command.app);
  Call call;
  try {
    call = command.make_call();
  } catch (const CLI::ValidationError& e) {
    std::cerr << "plexus " << name << ": " << e.what() << "\n";
    return exit_usage;
  }
  if (global.admin.empty()) {
    std::cerr << "plexus " << name << ": no node given: use --admin HOST:PORT (or PLEXUS_ADMIN); "
              << "plexusd prints its \"admin\" address when ready\n";
    return exit_usage;
  }
  auto token = admin_token_from(global.secret_file, global.token_file);
  if (!token) {
    std::cerr << "plexus " << name << ": " << token.error().message() << "\n";
    return exit_usage;
  }
  auto client = AdminClient::create(global.admin, *token);
  if (!client) {
    std::cerr << "plexus " << name << ": " << client.error().detail << "\n";
    return exit_usage;
  }
  auto response = call.method == "GET"    ? client->get(call.path, call.timeout)
                  : call.method == "POST" ? client->post(call.path, call.body, call.timeout)
                                          : client->del(call.path, call.timeout);
  if (!response) {
    std::cerr << "plexus " << name << ": " << response.error().detail << "\n";
    return response.error().code == plexus::errc::dial_failed ? exit_unreachable : exit_node_error;
  }
  return print_answer(*response, call, name, global.pretty);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"plexus: manage a Plexus cluster through a node's admin API (docs/admin-api.md).\n"
               "Exit codes: 0 ok, 1 the node refused the request, 2 usage or local error, 3 node unreachable."};
  app.require_subcommand(1);
  app.get_formatter()->column_width(30);
  GlobalOptions global;
  app.add_option("--admin", global.admin, "admin API address of the node (its ready line's \"admin\")")
      ->envname("PLEXUS_ADMIN");
  auto* secret = app.add_option("--secret-file", global.secret_file, "cluster key file: the token is derived from it")
                     ->envname("PLEXUS_SECRET_FILE");
  auto* token = app.add_option("--token-file", global.token_file, "file holding the admin token (plexus token)")
                    ->envname("PLEXUS_TOKEN_FILE");
  secret->excludes(token);
  app.add_flag("--pretty", global.pretty, "indent the JSON output");
  const auto commands = add_commands(app, global);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : exit_usage;
  }
  for (const auto& command : commands) {
    if (command.app->parsed()) return command.run_local ? command.run_local() : run_call(command, global);
  }
  std::cerr << "plexus: no command given (see plexus --help)\n";
  return exit_usage;
}
