// `plexus tuple pack|unpack`: FoundationDB tuple-layer keys (docs/store.md,
// "Tuples" and "Tuples as JSON") from the command line. Offline: no node, no
// key. Errors are one line on stderr and exit code 2, like other local usage errors.
#include <iostream>

#include "plexus/store/tuple.hpp"
#include "tools/cli/commands.hpp"

namespace plexus::tools {
namespace {

constexpr int exit_usage = 2;

int fail(const char* command, const std::string& what) {
  std::cerr << "plexus tuple " << command << ": " << what << "\n";
  return exit_usage;
}

}  // namespace

void add_tuple_commands(CLI::App& app, std::vector<Command>& out, GlobalOptions& global) {
  auto* tuple = app.add_subcommand("tuple", "pack a tuple (JSON) into key bytes (hex), or unpack them (offline)");
  tuple->require_subcommand(1);

  struct Pack {
    std::string json;
    bool versionstamp = false;
  };
  auto pack = std::make_shared<Pack>();
  auto* pack_cmd = tuple->add_subcommand("pack", "print the packed tuple as lowercase hex");
  pack_cmd->add_option("JSON", pack->json, R"(the tuple as a JSON array, e.g. '["users", 42, {"bytes": "00ff"}]')")
      ->required();
  pack_cmd->add_flag("--versionstamp", pack->versionstamp,
                     "the tuple holds one incomplete versionstamp ({\"versionstamp\": null}): append its offset "
                     "(4 bytes little-endian), for a versionstamped key");
  out.push_back({pack_cmd, nullptr, [pack] {
                   auto tuple = store::tuple_from_json_text(pack->json);
                   if (!tuple) return fail("pack", "JSON: " + tuple.error().detail);
                   auto packed = pack->versionstamp ? store::pack_with_versionstamp(*tuple) : store::pack(*tuple);
                   if (!packed) return fail("pack", packed.error().message());
                   std::cout << store::to_hex(*packed) << "\n";
                   return 0;
                 }});

  auto hex = std::make_shared<std::string>();
  auto* unpack_cmd = tuple->add_subcommand("unpack", "print the tuple packed in HEX as a JSON array");
  unpack_cmd->add_option("HEX", *hex, "packed tuple bytes as hex (either case)")->required();
  out.push_back({unpack_cmd, nullptr, [hex, &global] {
                   auto bytes = store::from_hex(*hex);
                   if (!bytes) return fail("unpack", "HEX: " + bytes.error().detail);
                   auto tuple = store::unpack(*bytes);
                   if (!tuple) return fail("unpack", tuple.error().message());
                   std::cout << store::to_json(*tuple).dump(global.pretty ? 2 : -1) << "\n";
                   return 0;
                 }});
}

}  // namespace plexus::tools
