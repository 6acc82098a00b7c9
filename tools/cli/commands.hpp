// The plexus CLI's commands as HTTP calls: each subcommand fills one Call
// (method, path, body, deadline) that main.cpp sends to the node's admin API
// and prints. Local commands (keygen, token) carry a function instead.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plexus::tools {

struct Call {
  std::string method;  ///< GET, POST or DELETE
  std::string path;
  nlohmann::json body;
  std::chrono::milliseconds timeout{10'000};
  bool text_output = false;  ///< print the body as is (metrics), not as JSON
};

/// A subcommand and what it does once parsed.
struct Command {
  CLI::App* app = nullptr;
  /// Builds the call (may throw CLI::ValidationError for bad arguments).
  std::function<Call()> make_call;
  /// Or a local action returning the exit code (keygen, token).
  std::function<int()> run_local;
};

struct GlobalOptions {
  std::string admin;
  std::string secret_file;
  std::string token_file;
  bool pretty = false;
};

/// Register every subcommand on `app`; the returned objects are filled by app.parse().
std::vector<Command> add_commands(CLI::App& app, GlobalOptions& global);
/// `plexus presence ...` (presence_commands.cpp).
void add_presence_commands(CLI::App& app, std::vector<Command>& out);
/// `plexus keyspace ...` and `plexus kv ...` (store_commands.cpp).
void add_store_commands(CLI::App& app, std::vector<Command>& out);
/// `plexus datastore ...` and `plexus context ...` (context_commands.cpp).
void add_context_commands(CLI::App& app, std::vector<Command>& out);
/// `plexus tenant ...` (tenant_commands.cpp).
void add_tenant_commands(CLI::App& app, std::vector<Command>& out, const GlobalOptions& global);
/// `plexus tenant events` (tenant_events.cpp): a long poll, or a bounded --follow.
void add_tenant_events_command(CLI::App& tenant, std::vector<Command>& out, const GlobalOptions& global);
/// `plexus tuple pack|unpack`, offline (tuple_commands.cpp).
void add_tuple_commands(CLI::App& app, std::vector<Command>& out, GlobalOptions& global);

}  // namespace plexus::tools
