// The plexus CLI's subcommands (see commands.hpp and docs/admin-api.md for
// the endpoint each one calls).
#include "tools/cli/commands.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include "plexus/node/payload_text.hpp"
#include "plexus/secure/cluster_key.hpp"
#include "tools/cli/admin_client.hpp"

namespace plexus::tools {
namespace {

using nlohmann::json;
using Millis = std::chrono::milliseconds;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CLI::ValidationError(path + ": cannot read the file");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// A node spec given inline as JSON or as @FILE.
json spec_argument(const std::string& text, const std::string& what) {
  const std::string source = text.starts_with('@') ? read_file(text.substr(1)) : text;
  auto spec = json::parse(source, nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) throw CLI::ValidationError(what + ": expected a node spec JSON object or @FILE");
  return spec;
}

Millis wait_for(int timeout_ms) { return Millis(timeout_ms + 5000); }

void add_local(CLI::App& app, std::vector<Command>& out, GlobalOptions& global) {
  auto key_path = std::make_shared<std::string>();
  auto* keygen = app.add_subcommand("keygen", "write a new random cluster key to FILE (mode 0600; never overwrites)");
  keygen->add_option("FILE", *key_path, "key file to create")->required();
  out.push_back({keygen, nullptr, [key_path] {
                   auto key = secure::write_new_cluster_key(*key_path);
                   if (!key) {
                     std::cerr << "plexus keygen: " << key.error().message() << "\n";
                     return 1;
                   }
                   std::cout << json{{"key_file", *key_path}}.dump() << "\n";
                   return 0;
                 }});
  auto* token = app.add_subcommand("token", "print the admin API token (derived from --secret-file) as plain hex");
  out.push_back({token, nullptr, [&global] {
                   if (global.secret_file.empty()) {
                     std::cerr << "plexus token: needs --secret-file (the cluster key file)\n";
                     return 2;
                   }
                   auto derived = admin_token_from(global.secret_file, "");
                   if (!derived) {
                     std::cerr << "plexus token: " << derived.error().message() << "\n";
                     return 2;
                   }
                   std::cout << *derived << "\n";
                   return 0;
                 }});
}

void add_reads(CLI::App& app, std::vector<Command>& out) {
  const std::vector<std::tuple<const char*, const char*, const char*>> reads{
      {"spec", "this node's spec", "/v1/spec"},
      {"members", "every member with up/down per node and per channel", "/v1/members"},
      {"status", "one-object summary: members, up and down peers, message totals", "/v1/status"},
      {"health", "ok, or left (exit 1) once the node left the cluster", "/v1/health"},
      {"state", "the peer service's whole local state (debugging)", "/v1/state"},
      {"partitions", "same as: partition list", "/v1/partitions"}};
  for (const auto& [name, help, path] : reads) {
    auto* sub = app.add_subcommand(name, help);
    out.push_back({sub, [p = std::string(path)] { return Call{"GET", p, nullptr}; }, nullptr});
  }
  auto* metrics = app.add_subcommand("metrics", "Prometheus metrics (text format, printed as is)");
  out.push_back({metrics, [] { return Call{"GET", "/metrics", nullptr, Millis(10'000), true}; }, nullptr});
  auto name = std::make_shared<std::string>();
  auto* capability = app.add_subcommand("capability", "whether the node supports a capability (e.g. causal)");
  capability->add_option("NAME", *name, "capability name")->required();
  out.push_back({capability, [name] { return Call{"GET", "/v1/capabilities/" + *name, nullptr}; }, nullptr});
}

void add_membership(CLI::App& app, std::vector<Command>& out) {
  struct Join {
    std::string target;
    bool sync = false;
    int timeout_ms = 5000;
  };
  auto join = std::make_shared<Join>();
  auto* sub = app.add_subcommand("join", "join a member given by IP:PORT, node spec JSON or @SPEC_FILE");
  sub->add_option("TARGET", join->target, "IP:PORT, '{...spec...}' or @FILE")->required();
  sub->add_flag("--sync", join->sync, "wait until connected to every member on every channel");
  sub->add_option("--timeout-ms", join->timeout_ms, "how long to wait")->capture_default_str()->check(CLI::Range(1, 600000));
  out.push_back({sub, [join] {
                   json body{{"timeout_ms", join->timeout_ms}, {"sync", join->sync}};
                   if (join->target.starts_with('{') || join->target.starts_with('@')) {
                     body["spec"] = spec_argument(join->target, "TARGET");
                   } else {
                     body["address"] = join->target;
                   }
                   return Call{"POST", "/v1/join", body, wait_for(join->timeout_ms)};
                 }, nullptr});

  auto node = std::make_shared<std::string>();
  auto* leave = app.add_subcommand("leave", "this node leaves the cluster (and stops), or removes NODE");
  leave->add_option("NODE", *node, "another node to remove");
  out.push_back({leave, [node] { return Call{"POST", "/v1/leave", node->empty() ? json::object() : json{{"node", *node}}}; },
                 nullptr});

  auto* update = app.add_subcommand("update-members", "make the membership exactly these specs (plus this node)");
  // The specs are taken as extra arguments: a CLI11 positional would split a "[...]" argument at its commas.
  update->allow_extras();
  update->footer("Arguments: SPEC... each a node spec JSON object, a JSON array of specs, or @FILE holding either.\n"
                 "No SPEC at all leaves this node alone in its cluster.");
  out.push_back({update, [update] {
                   json list = json::array();
                   for (const auto& text : update->remaining()) {
                     const std::string source = text.starts_with('@') ? read_file(text.substr(1)) : text;
                     auto value = json::parse(source, nullptr, false);
                     if (value.is_array()) {
                       for (auto& spec : value) list.push_back(spec);
                     } else if (value.is_object()) {
                       list.push_back(value);
                     } else {
                       throw CLI::ValidationError("SPEC: expected a node spec JSON object, an array of them, or @FILE");
                     }
                   }
                   return Call{"POST", "/v1/update-members", {{"specs", list}}};
                 }, nullptr});

  struct Connect {
    std::string spec;
    bool prune = false;
  };
  auto connect = std::make_shared<Connect>();
  auto* con = app.add_subcommand("connect", "take SPEC as its node's current spec (orchestration)");
  con->add_option("SPEC", connect->spec, "node spec JSON or @FILE")->required();
  con->add_flag("--prune", connect->prune, "return the specs it made stale");
  out.push_back({con, [connect] {
                   return Call{"POST", "/v1/connect", {{"spec", spec_argument(connect->spec, "SPEC")}, {"prune", connect->prune}}};
                 }, nullptr});

  auto tag = std::make_shared<std::string>();
  auto* reserve = app.add_subcommand("reserve", "reserve a membership slot for TAG (with a member limit)");
  reserve->add_option("TAG", *tag, "slot tag")->required();
  out.push_back({reserve, [tag] { return Call{"POST", "/v1/reserve", {{"tag", *tag}}}; }, nullptr});
}

void add_partition(CLI::App& app, std::vector<Command>& out) {
  auto* partition = app.add_subcommand("partition", "inject, resolve or list partitions (fault injection)");
  partition->require_subcommand(1);
  struct Inject {
    std::string node;
    int ttl_ms = 0;
    std::string direction = "both";
  };
  auto inject = std::make_shared<Inject>();
  auto* in = partition->add_subcommand("inject", "cut traffic with NODE (until resolved, or for --ttl-ms)");
  in->add_option("NODE", inject->node, "the other side")->required();
  in->add_option("--ttl-ms", inject->ttl_ms, "resolve by itself after this long")->check(CLI::Range(1, 86400000));
  in->add_option("--direction", inject->direction, "both|inbound|outbound")
      ->capture_default_str()
      ->check(CLI::IsMember({"both", "inbound", "outbound"}));
  out.push_back({in, [inject] {
                   json body{{"node", inject->node}, {"direction", inject->direction}};
                   if (inject->ttl_ms > 0) body["ttl_ms"] = inject->ttl_ms;
                   return Call{"POST", "/v1/partitions", body};
                 }, nullptr});
  auto ref = std::make_shared<std::uint64_t>();
  auto* resolve = partition->add_subcommand("resolve", "end partition REF (from inject or list)");
  resolve->add_option("REF", *ref, "partition reference")->required();
  out.push_back({resolve, [ref] { return Call{"DELETE", "/v1/partitions/" + std::to_string(*ref), nullptr}; }, nullptr});
  auto* list = partition->add_subcommand("list", "partitions in force");
  out.push_back({list, [] { return Call{"GET", "/v1/partitions", nullptr}; }, nullptr});
}

void add_sink(CLI::App& app, std::vector<Command>& out) {
  auto* sink = app.add_subcommand("sink", "read or clear the built-in sink server's messages");
  sink->require_subcommand(1);
  struct Read {
    std::uint64_t after = 0;
    int limit = 100;
    bool base64 = false;
  };
  auto read = std::make_shared<Read>();
  auto* r = sink->add_subcommand("read", "messages held, oldest first, with counters");
  r->add_option("--after", read->after, "only messages with seq above this")->capture_default_str();
  r->add_option("--limit", read->limit, "at most this many")->capture_default_str()->check(CLI::Range(1, 10000));
  r->add_flag("--base64", read->base64, "payloads always as payload_base64");
  out.push_back({r, [read] {
                   return Call{"GET", "/v1/sink?after=" + std::to_string(read->after) + "&limit=" +
                                          std::to_string(read->limit) + (read->base64 ? "&encoding=base64" : ""),
                               nullptr};
                 }, nullptr});
  auto* clear = sink->add_subcommand("clear", "drop every held message and zero the counters");
  out.push_back({clear, [] { return Call{"DELETE", "/v1/sink", nullptr}; }, nullptr});
}

void add_send(CLI::App& app, std::vector<Command>& out) {
  struct Send {
    std::string node, server, payload, payload_base64, payload_file, channel = "default", causal_label;
    std::uint64_t partition_key = 0;
    bool cast = false, ack = false, transitive = false;
    int timeout_ms = 5000;
  };
  auto send = std::make_shared<Send>();
  auto* sub = app.add_subcommand("send", "send a message to server SERVER on node NODE");
  sub->add_option("NODE", send->node, "destination node")->required();
  sub->add_option("SERVER", send->server, "destination server (built in: sink, echo)")->required();
  auto* text = sub->add_option("PAYLOAD", send->payload, "payload as UTF-8 text");
  auto* b64 = sub->add_option("--base64", send->payload_base64, "payload as base64");
  auto* file = sub->add_option("--payload-file", send->payload_file, "payload: the bytes of this file");
  text->excludes(b64)->excludes(file);
  b64->excludes(file);
  sub->add_flag("--cast", send->cast, "cast instead of forward (the receiver sees cast: true)");
  sub->add_option("--channel", send->channel, "channel")->capture_default_str();
  auto* key = sub->add_option("--partition-key", send->partition_key, "per-key FIFO order on a parallel channel");
  sub->add_flag("--ack", send->ack, "wait for the acknowledgement (exactly once), up to --timeout-ms");
  sub->add_option("--timeout-ms", send->timeout_ms, "with --ack: how long to wait")->capture_default_str()->check(CLI::Range(1, 600000));
  sub->add_option("--causal-label", send->causal_label, "causal order with other messages of this label");
  sub->add_flag("--transitive", send->transitive, "may be relayed when there is no direct path");
  out.push_back({sub, [send, key] {
                   json body{{"node", send->node}, {"server", send->server}, {"mode", send->cast ? "cast" : "forward"},
                             {"channel", send->channel}, {"ack", send->ack}, {"timeout_ms", send->timeout_ms},
                             {"transitive", send->transitive}};
                   if (!send->causal_label.empty()) body["causal_label"] = send->causal_label;
                   if (key->count() > 0) body["partition_key"] = send->partition_key;
                   if (!send->payload_base64.empty()) {
                     body["payload_base64"] = send->payload_base64;
                   } else if (!send->payload_file.empty()) {
                     const std::string bytes = read_file(send->payload_file);
                     body["payload_base64"] = node::to_base64(
                         std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
                   } else {
                     body["payload"] = send->payload;
                   }
                   return Call{"POST", "/v1/send", body, wait_for(send->timeout_ms)};
                 }, nullptr});
}

}  // namespace

std::vector<Command> add_commands(CLI::App& app, GlobalOptions& global) {
  std::vector<Command> out;
  add_local(app, out, global);
  add_reads(app, out);
  add_membership(app, out);
  add_partition(app, out);
  add_send(app, out);
  add_sink(app, out);
  add_presence_commands(app, out);
  add_store_commands(app, out);
  add_context_commands(app, out);
  add_tenant_commands(app, out, global);
  add_tuple_commands(app, out, global);
  return out;
}

}  // namespace plexus::tools
