// plexus: the command-line tool. This version carries `keygen`; the admin
// commands arrive with the admin API.
#include <CLI/CLI.hpp>

#include <iostream>

#include "plexus/secure/cluster_key.hpp"

int main(int argc, char** argv) {
  CLI::App app{"plexus: manage Plexus clusters"};
  app.require_subcommand(1);
  std::string key_path;
  auto* keygen = app.add_subcommand("keygen", "write a new random cluster key to FILE (mode 0600; never overwrites)");
  keygen->add_option("FILE", key_path, "key file to create")->required();
  CLI11_PARSE(app, argc, argv);
  if (*keygen) {
    auto key = plexus::secure::write_new_cluster_key(key_path);
    if (!key) {
      std::cerr << "plexus keygen: " << key.error().message() << "\n";
      return 1;
    }
    std::cout << "{\"key_file\":\"" << key_path << "\"}\n";
  }
  return 0;
}
