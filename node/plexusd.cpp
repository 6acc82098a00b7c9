// plexusd: one Plexus node process. It runs the peer service with the
// built-in `echo` and `sink` servers and the admin HTTP API, prints one JSON
// line when ready ({"spec": {...}, "admin": "127.0.0.1:PORT"}), and stops
// gracefully on SIGINT/SIGTERM (a second signal stops at once).
//
// Configuration: flags, or a JSON file (--config) with the same keys ('_' for
// '-'); a flag given on the command line wins over the file. Both come from
// the services' option tables (plexus/node/options.hpp); --options-markdown
// prints them as docs/operations.md shows them. A bad setting is
// one line on stderr naming it, and exit code 2, before anything starts.
#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "plexus/node/node.hpp"
#include "plexus/node/options.hpp"

namespace {

using plexus::node::NodeOptions;

constexpr int exit_bad_config = 2;

[[noreturn]] void fail(const plexus::Error& error) {
  std::cerr << "plexusd: " << (error.detail.empty() ? error.message() : error.detail) << "\n";
  std::exit(exit_bad_config);
}

/// Flags bound to a NodeOptions; after parsing, copy_given() applies only the
/// flags that were on the command line, over what the config file set.
class Flags {
 public:
  explicit Flags(CLI::App& app) : app_(app) {}

  /// One flag per option table row (options.hpp).
  void add(const plexus::node::OptionSpec& spec) {
    std::visit([&](auto member) { bind(spec, member); }, spec.member);
  }
  void copy_given(NodeOptions& to) const {
    for (const auto& copy : copies_) copy(given_, to);
  }

 private:
  template <class T>
  void bind(const plexus::node::OptionSpec& spec, T NodeOptions::*member) {
    const std::string name(spec.flag);
    const std::string help(spec.help);
    CLI::Option* added = nullptr;
    if constexpr (std::is_same_v<T, bool>) {
      added = app_.add_flag(name, given_.*member, help);
    } else {
      added = app_.add_option(name, given_.*member, help);
      // Show defaults, but not empty ones ("--join TEXT=[]" says nothing).
      if constexpr (requires(const T& value) { value.empty(); }) {
        if (!(given_.*member).empty()) added->capture_default_str();
      } else {
        added->capture_default_str();
      }
    }
    copies_.push_back([added, member](const NodeOptions& from, NodeOptions& to) {
      if (added->count() > 0) to.*member = from.*member;
    });
  }

  CLI::App& app_;
  NodeOptions given_;
  std::vector<std::function<void(const NodeOptions&, NodeOptions&)>> copies_;
};

void add_flags(Flags& f) {
  for (const auto* table : plexus::node::option_tables()) {
    for (const auto& spec : table->options) f.add(spec);
  }
}

plexus::node::Settings parse_settings(int argc, char** argv) {
  CLI::App app{"plexusd: a Plexus cluster node (docs/operations.md)"};
  app.get_formatter()->column_width(40);
  std::string config_file;
  app.add_option("--config", config_file, "JSON config file; flags given here override its keys");
  bool options_markdown = false;
  app.add_flag("--options-markdown", options_markdown,
               "print every option as the Markdown tables of docs/operations.md, then exit");
  Flags flags(app);
  add_flags(flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) std::exit(app.exit(e));
    std::cerr << "plexusd: " << e.what() << " (see plexusd --help)\n";
    std::exit(exit_bad_config);
  }
  if (options_markdown) {
    std::cout << plexus::node::options_markdown();
    std::exit(0);
  }
  NodeOptions options;
  if (!config_file.empty()) {
    if (auto loaded = plexus::node::load_config_file(config_file, options); !loaded) fail(loaded.error());
  }
  flags.copy_given(options);
  auto settings = plexus::node::resolve(options);
  if (!settings) fail(settings.error());
  return std::move(*settings);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const auto settings = parse_settings(argc, argv);
  plexus::node::setup_logging(settings);

  // Stop within a bounded time: every service stops (the peer service closes
  // its connections, bounded by the transport close timeout), then the loop ends.
  bool stopping = false;
  std::unique_ptr<plexus::node::Node> node;
  auto stop = [&] {
    if (stopping) return;
    stopping = true;
    node->stop([&] { node->io().stop(); });
  };
  auto started = plexus::node::Node::start(settings, [&] { stop(); });
  if (!started) fail(started.error());
  node = std::move(*started);
  std::cout << node->ready_line() << std::endl;

  asio::signal_set signals(node->io(), SIGINT, SIGTERM);
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int number) {
    if (ec) return;
    if (stopping) {
      spdlog::warn("second signal ({}): stopping at once", number);
      std::_Exit(1);
    }
    spdlog::info("signal {}: stopping", number);
    stop();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  node->run();
  node->close_admin();
  spdlog::info("stopped");
  if (const auto& failure = node->join_failure()) {
    std::cerr << "plexusd: " << *failure << "\n";
    return exit_bad_config;
  }
  return 0;
}
