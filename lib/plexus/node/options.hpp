// Option tables: every node option declared once, in the table of the
// service it belongs to, with its flag, its JSON config key, its kind, its
// accepted range and its help. The tables drive plexusd's flags, the config
// file's keys (config_file.cpp), the range checks with their error messages
// (check_ranges), and the options table of docs/operations.md
// (plexusd --options-markdown; the node_options test checks the doc).
// The value itself, with its default, lives in NodeOptions (node.hpp).
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plexus/core/result.hpp"

namespace plexus::node {

struct NodeOptions;

/// How a value is written on the command line and in the config file.
enum class OptionKind {
  integer,   ///< a number within [min, max]
  boolean,   ///< a flag without value; true or false in the file
  text,      ///< a string
  path,      ///< a string; in the file, relative to the file's folder
  list,      ///< repeatable; a string or an array of strings in the file
  join_list, ///< as list; the file may give node spec objects too
  channels,  ///< as list; the file may give {"NAME": {"parallelism": N, ...}}
  sizes,     ///< "N,N,..."; the file may give an array of integers
};

/// One option: the NodeOptions member it sets and how.
struct OptionSpec {
  using Member = std::variant<int NodeOptions::*, bool NodeOptions::*, std::string NodeOptions::*,
                              std::vector<std::string> NodeOptions::*>;
  std::string_view flag;  ///< with the dashes: "--heartbeat-ms"
  std::string key;        ///< config file key: the flag's name with '_' for '-', unless the table says otherwise
  Member member;
  OptionKind kind = OptionKind::integer;
  int min = 0;  ///< integers only
  int max = 0;
  std::string_view help;  ///< one line, for --help
  std::string_view unit;  ///< "ms", "us", "MiB", "bytes" or empty: for the docs
  std::string_view doc;   ///< the docs' longer text; help when empty

  /// This row with the docs' longer text.
  [[nodiscard]] OptionSpec details(std::string_view text) const {
    OptionSpec out = *this;
    out.doc = text;
    return out;
  }
};

/// The options of one service, in the order an operator reads them.
struct OptionTable {
  std::string_view service;  ///< "node", "peer", "presence", "store"
  std::string_view title;    ///< what the docs call it
  std::vector<OptionSpec> options;
};

/// Builds a table row; the config key is the flag's name with '_' for '-'
/// unless `key` is given.
OptionSpec option(std::string_view flag, OptionSpec::Member member, OptionKind kind, std::string_view help,
                  int min = 0, int max = 0, std::string_view unit = {}, std::string_view key = {});
/// An integer row.
OptionSpec integer_option(std::string_view flag, int NodeOptions::*member, int min, int max, std::string_view help,
                          std::string_view unit = {});

/// Every table of plexusd: the node's own, then one per standard service.
const std::vector<const OptionTable*>& option_tables();
/// The option with this config key, or null.
const OptionSpec* find_option_by_key(std::string_view key);

/// Every integer option within its range; else "--flag: must be MIN..MAX, got V".
Result<void> check_ranges(const NodeOptions& options);
/// A default value as the docs show it ("500", "false", "127.0.0.1:0", "").
std::string default_text(const OptionSpec& spec);
/// The Markdown tables of docs/operations.md's "All options" section, one per service.
std::string options_markdown();

}  // namespace plexus::node
