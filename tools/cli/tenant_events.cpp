// `plexus tenant events`: one long poll of the node's durable lifecycle event
// log (GET /v1/tenants/events), or with --follow a bounded series of them
// (--count events or --seconds, whichever comes first) printing one JSON
// event per line and resuming each poll from the previous answer's `next`.
#include <httplib.h>

#include <algorithm>
#include <iostream>
#include <variant>

#include "plexus/core/errors.hpp"
#include "tools/cli/admin_client.hpp"
#include "tools/cli/commands.hpp"

namespace plexus::tools {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

constexpr int exit_node_error = 1;
constexpr int exit_usage = 2;
constexpr int exit_unreachable = 3;
/// A follow's polls wait at least this long, so an idle log is never polled in a tight loop.
constexpr int follow_wait_min_ms = 100;

struct EventArgs {
  std::uint64_t after = 0;
  int limit = 100;
  int wait_ms = 0;
  bool follow = false;
  std::uint64_t count = 0;  ///< follow: stop after this many events (0: no bound by count)
  int seconds = 0;          ///< follow: stop after this long (0: no bound by time)
};

std::string events_path(std::uint64_t after, int limit, int wait_ms) {
  return httplib::append_query_params("/v1/tenants/events", {{"after", std::to_string(after)},
                                                             {"limit", std::to_string(limit)},
                                                             {"wait_ms", std::to_string(wait_ms)}});
}

/// One poll: the page, or the exit code after printing why it failed.
std::variant<json, int> poll(const AdminClient& client, const EventArgs& a, std::uint64_t after, int wait_ms) {
  auto response = client.get(events_path(after, a.limit, wait_ms), Millis(wait_ms + 10'000));
  if (!response) {
    std::cerr << "plexus tenant events: " << response.error().detail << "\n";
    return response.error().code == plexus::errc::dial_failed ? exit_unreachable : exit_node_error;
  }
  auto body = json::parse(response->body, nullptr, false);
  if (response->status != 200 || body.is_discarded() || !body.is_object()) {
    std::cerr << "plexus tenant events: HTTP " << response->status << " " << response->body << "\n";
    return exit_node_error;
  }
  return body;
}

int run_events(const EventArgs& a, const GlobalOptions& global) {
  if (a.follow && a.count == 0 && a.seconds == 0) {
    std::cerr << "plexus tenant events: --follow needs --count or --seconds (it must end)\n";
    return exit_usage;
  }
  if (global.admin.empty()) {
    std::cerr << "plexus tenant events: no node given: use --admin HOST:PORT (or PLEXUS_ADMIN)\n";
    return exit_usage;
  }
  auto token = admin_token_from(global.secret_file, global.token_file);
  if (!token) return std::cerr << "plexus tenant events: " << token.error().message() << "\n", exit_usage;
  auto client = AdminClient::create(global.admin, *token);
  if (!client) return std::cerr << "plexus tenant events: " << client.error().detail << "\n", exit_usage;
  if (!a.follow) {
    auto page = poll(*client, a, a.after, a.wait_ms);
    if (auto* code = std::get_if<int>(&page)) return *code;
    std::cout << std::get<json>(page).dump(global.pretty ? 2 : -1) << "\n";
    return 0;
  }
  const auto end = a.seconds > 0 ? Clock::now() + std::chrono::seconds(a.seconds) : Clock::time_point::max();
  std::uint64_t after = a.after, printed = 0;
  while ((a.count == 0 || printed < a.count) && Clock::now() < end) {
    const auto left = std::chrono::duration_cast<Millis>(end - Clock::now()).count();
    const int wait = static_cast<int>(std::clamp<std::int64_t>(left, follow_wait_min_ms, std::max(a.wait_ms, 1'000)));
    auto page = poll(*client, a, after, wait);
    if (auto* code = std::get_if<int>(&page)) return *code;
    const auto& body = std::get<json>(page);
    for (const auto& e : body.at("events")) {
      if (a.count != 0 && printed == a.count) break;
      std::cout << e.dump() << "\n" << std::flush;
      after = e.at("seq").get<std::uint64_t>();
      ++printed;
    }
  }
  return 0;
}

}  // namespace

void add_tenant_events_command(CLI::App& tenant, std::vector<Command>& out, const GlobalOptions& global) {
  auto e = std::make_shared<EventArgs>();
  auto* events = tenant.add_subcommand("events", "this node's lifecycle events after seq --after (resume from \"next\")");
  events->add_option("--after", e->after, "only events with a larger seq (default 0: all kept)");
  events->add_option("--limit", e->limit, "most events per answer")->check(CLI::Range(1, 1'000));
  events->add_option("--wait-ms", e->wait_ms, "long poll: wait this long for an event when none is there yet")
      ->check(CLI::Range(0, 30'000));
  events->add_flag("--follow", e->follow, "keep polling, one JSON event per line, until --count or --seconds");
  events->add_option("--count", e->count, "--follow: stop after this many events");
  events->add_option("--seconds", e->seconds, "--follow: stop after this long")->check(CLI::Range(1, 86'400));
  out.push_back({events, nullptr, [e, &global] { return run_events(*e, global); }});
}

}  // namespace plexus::tools
