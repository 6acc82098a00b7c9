// `plexus presence ...`: the presence tracker's admin routes (docs/admin-api.md,
// "Presence"), one subcommand per call. META arguments are JSON (any value)
// or @FILE; they are sent as is.
#include <httplib.h>

#include <fstream>
#include <sstream>

#include "tools/cli/commands.hpp"

namespace plexus::tools {
namespace {

using nlohmann::json;
using Millis = std::chrono::milliseconds;

json meta_argument(const std::string& text) {
  std::string source = text;
  if (text.starts_with('@')) {
    std::ifstream in(text.substr(1), std::ios::binary);
    if (!in) throw CLI::ValidationError("META " + text + ": cannot read the file");
    std::ostringstream content;
    content << in.rdbuf();
    source = content.str();
  }
  auto meta = json::parse(source, nullptr, false);
  if (meta.is_discarded()) {
    throw CLI::ValidationError("META: not valid JSON (quote strings: '\"away\"', or give an object: '{\"status\":\"away\"}')");
  }
  return meta;
}

std::string query(const std::string& path, const httplib::Params& params) {
  return httplib::append_query_params(path, params);
}

struct Target {
  std::uint64_t owner = 0;
  std::string topic, key, meta;
};

// OWNER TOPIC KEY, plus META when `meta` is given ("required" or "optional").
void add_target(CLI::App* sub, Target& t, const char* meta) {
  sub->add_option("OWNER", t.owner, "owner id (from: presence open)")->required();
  sub->add_option("TOPIC", t.topic, "topic")->required();
  sub->add_option("KEY", t.key, "key")->required();
  if (meta == nullptr) return;
  auto* option = sub->add_option("META", t.meta, "meta: any JSON value, or @FILE (default {})");
  if (std::string_view(meta) == "required") option->required();
}

void add_owner_commands(CLI::App& presence, std::vector<Command>& out) {
  auto ttl = std::make_shared<int>(30'000);
  auto* open = presence.add_subcommand("open", "open an owner with a lease; prints its id (renew it, or it closes)");
  open->add_option("--ttl-ms", *ttl, "lease length")->capture_default_str()->check(CLI::Range(100, 86'400'000));
  out.push_back({open, [ttl] { return Call{"POST", "/v1/presence/owners", {{"ttl_ms", *ttl}}}; }, nullptr});

  struct Renew {
    std::uint64_t owner = 0;
    int ttl_ms = 30'000;
  };
  auto renew = std::make_shared<Renew>();
  auto* r = presence.add_subcommand("renew", "extend OWNER's lease to now + --ttl-ms");
  r->add_option("OWNER", renew->owner, "owner id")->required();
  r->add_option("--ttl-ms", renew->ttl_ms, "lease length")->capture_default_str()->check(CLI::Range(100, 86'400'000));
  out.push_back({r, [renew] {
                   return Call{"POST", "/v1/presence/owners/" + std::to_string(renew->owner) + "/renew",
                               {{"ttl_ms", renew->ttl_ms}}};
                 }, nullptr});

  auto owner = std::make_shared<std::uint64_t>();
  auto* close = presence.add_subcommand("close", "close OWNER: untrack everything it tracked, everywhere");
  close->add_option("OWNER", *owner, "owner id")->required();
  out.push_back({close, [owner] { return Call{"DELETE", "/v1/presence/owners/" + std::to_string(*owner), nullptr}; },
                 nullptr});

  auto* owners = presence.add_subcommand("owners", "owners open on this node, with the time left on each lease");
  out.push_back({owners, [] { return Call{"GET", "/v1/presence/owners", nullptr}; }, nullptr});
}

void add_change_commands(CLI::App& presence, std::vector<Command>& out) {
  auto track = std::make_shared<Target>();
  auto* t = presence.add_subcommand("track", "track KEY in TOPIC for OWNER with META; prints the ref");
  add_target(t, *track, "optional");
  out.push_back({t, [track] {
                   json body{{"owner", track->owner}, {"topic", track->topic}, {"key", track->key}};
                   body["meta"] = track->meta.empty() ? json::object() : meta_argument(track->meta);
                   return Call{"POST", "/v1/presence/track", body};
                 }, nullptr});

  auto update = std::make_shared<Target>();
  auto* u = presence.add_subcommand("update", "replace the meta of OWNER's KEY in TOPIC; prints the new ref");
  add_target(u, *update, "required");
  out.push_back({u, [update] {
                   return Call{"POST", "/v1/presence/update",
                               {{"owner", update->owner}, {"topic", update->topic}, {"key", update->key},
                                {"meta", meta_argument(update->meta)}}};
                 }, nullptr});

  auto untrack = std::make_shared<Target>();
  auto* un = presence.add_subcommand("untrack", "untrack OWNER's KEY in TOPIC, or (no TOPIC KEY) all it tracked");
  un->add_option("OWNER", untrack->owner, "owner id")->required();
  un->add_option("TOPIC", untrack->topic, "topic (with KEY)");
  un->add_option("KEY", untrack->key, "key");
  out.push_back({un, [untrack] {
                   if (untrack->topic.empty() != untrack->key.empty()) {
                     throw CLI::ValidationError("give TOPIC and KEY, or neither (untrack all of OWNER's)");
                   }
                   json body{{"owner", untrack->owner}};
                   if (!untrack->topic.empty()) {
                     body["topic"] = untrack->topic;
                     body["key"] = untrack->key;
                   }
                   return Call{"POST", "/v1/presence/untrack", body};
                 }, nullptr});

  auto* permdown = presence.add_subcommand(
      "permdown", "graceful_permdown: every node drops this node's presences now; its tracker stops for good");
  out.push_back({permdown, [] { return Call{"POST", "/v1/presence/permdown", json::object()}; }, nullptr});
}

void add_read_commands(CLI::App& presence, std::vector<Command>& out) {
  struct List {
    std::string topic;
    std::uint64_t limit = 10'000;
  };
  auto list = std::make_shared<List>();
  auto* l = presence.add_subcommand("list", "presences of TOPIC on every up node: key, meta, ref; and the count");
  l->add_option("TOPIC", list->topic, "topic")->required();
  l->add_option("--limit", list->limit, "print at most this many (count stays exact)")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1'000'000}));
  out.push_back({l, [list] {
                   return Call{"GET", query("/v1/presence/list", {{"topic", list->topic}, {"limit", std::to_string(list->limit)}}),
                               nullptr, Millis(30'000)};
                 }, nullptr});

  auto get = std::make_shared<std::pair<std::string, std::string>>();
  auto* g = presence.add_subcommand("get", "presences of KEY in TOPIC, one per owner tracking it, with the owner (node, id)");
  g->add_option("TOPIC", get->first, "topic")->required();
  g->add_option("KEY", get->second, "key")->required();
  out.push_back({g, [get] {
                   return Call{"GET", query("/v1/presence/get", {{"topic", get->first}, {"key", get->second}}), nullptr};
                 }, nullptr});

  auto* status = presence.add_subcommand("status", "the tracker: options, presence and owner counts, recent errors");
  out.push_back({status, [] { return Call{"GET", "/v1/presence", nullptr}; }, nullptr});
}

}  // namespace

void add_presence_commands(CLI::App& app, std::vector<Command>& out) {
  auto* presence = app.add_subcommand("presence", "the presence tracker: owners, track, untrack, update, list, get");
  presence->require_subcommand(1);
  add_owner_commands(*presence, out);
  add_change_commands(*presence, out);
  add_read_commands(*presence, out);
}

}  // namespace plexus::tools
