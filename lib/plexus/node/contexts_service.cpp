// The datastore contexts of a node as a Service (docs/store.md, "Datastore
// contexts"): the --datastore-config option, loading and checking the file
// at start (a bad file stops the start, naming the field), starting every
// datastore once the node runs (on a thread of its own: a registration waits
// for the io thread, and a server that is down must not hold up the node),
// registering global-scope names through the registry carried over the peer
// service, the datastore and context admin routes, and /metrics per context.
#include <spdlog/spdlog.h>

#include <asio/post.hpp>

#include <thread>

#include "plexus/context/host_registrar.hpp"
#include "plexus/node/admin_server.hpp"
#include "plexus/node/contexts_host.hpp"
#include "plexus/node/metrics_text.hpp"
#include "plexus/node/node.hpp"
#include "plexus/node/runtime.hpp"
#include "plexus/node/services.hpp"

namespace plexus::node {

void add_context_routes(AdminServer& admin);

namespace {

using K = OptionKind;
using O = NodeOptions;
using RegistryHost = context::HostRegistrar::RegistryHost;

const OptionTable& contexts_options() {
  static const OptionTable table{"contexts", "Datastore contexts (docs/store.md)", {
      option("--datastore-config", &O::datastore_config, K::path,
             "JSON file of datastores with contexts (roles, pools, registry)")
          .details("a JSON file `{\"datastores\": [...]}` declaring datastores with their contexts (docs/store.md, \"Datastore contexts\"); checked at start, where an error names the field (`datastores[1].contexts[0].kind: ...`) and stops the node. Its datastores start once the node runs; one whose server is down is reported (`some_started`, its contexts `not_ready` and retried until the server comes up) and the node keeps running. Credentials are named by source (file or environment variable) only. With it, the node serves the channel `_contexts` of the global context registry"),
      integer_option("--context-registry-timeout-ms", &O::context_registry_timeout_ms, 100, 60'000,
                     "longest wait of a context registry call for the io thread", "ms")
          .details("longest wait of a context registration or `whereis` for the node's io thread, ms (then `unavailable`)"),
  }};
  return table;
}

class ContextsServiceImpl final : public Service {
 public:
  explicit ContextsServiceImpl(const Settings& settings)
      : config_(settings.datastore_config), channel_(settings.context_channel),
        timeout_(settings.context_registry_timeout), node_name_(settings.peer.name) {}

  ~ContextsServiceImpl() override {
    if (starter_.joinable()) starter_.join();
    if (stopper_.joinable()) stopper_.join();
  }

  std::string_view name() const override { return "contexts"; }

  Result<void> start(Runtime& runtime) override {
    if (config_.empty()) return {};
    auto loaded = context::load_datastore_config(config_);
    if (!loaded) return Error{loaded.error().code, "--datastore-config " + loaded.error().detail};
    auto* peer = runtime.find<PeerNodeService>();
    if (peer == nullptr) return make_error(errc::invalid_field, "--datastore-config: the node has no peer service");
    std::vector<std::unique_ptr<context::Registry>> cores;
    cores.push_back(std::make_unique<context::Registry>(node_name_, RegistryHost::now()));
    auto host = RegistryHost::start(runtime.io().get_executor(), peer->service(),
                                    replica::HostOptions{channel_, {"contexts.0"}, "contexts"}, std::move(cores),
                                    [](std::uint32_t, context::Registry::Output& out) {
                                      for (const auto& lost : out.lost) {
                                        spdlog::warn("context registry: {} lost name {} to {}/{}/{}", lost.ours.context,
                                                     lost.name, lost.winner.node, lost.winner.datastore,
                                                     lost.winner.context);
                                      }
                                    });
    if (!host) return Error{host.error().code, "context registry: " + host.error().detail};
    registry_ = *host;
    io_ = &runtime.io();
    auto registrar = std::make_shared<context::HostRegistrar>(runtime.io(), registry_, timeout_);
    contexts_ = std::make_shared<ContextsHost>(std::make_unique<context::Contexts>(std::move(*loaded), registrar));
    return {};
  }

  // The datastores start off the io thread: a registration waits for it.
  void started(Runtime&) override {
    if (!contexts_) return;
    starter_ = std::thread([contexts = contexts_] {
      const auto outcomes = contexts->with([](context::Contexts& c) { return c.start_all(); });
      for (const auto& [datastore, outcome] : outcomes.items()) {
        if (outcome.contains("error")) {
          spdlog::error("datastore {}: {}: {}", datastore, outcome["code"].get<std::string>(),
                        outcome["error"].get<std::string>());
          continue;
        }
        std::string states;
        for (const auto& c : outcome["contexts"]) {
          states += (states.empty() ? "" : ", ") + c["name"].get<std::string>() + " " + c["state"].get<std::string>();
          if (!c["reason"].get<std::string>().empty()) states += " (" + c["reason"].get<std::string>() + ")";
        }
        const auto level = outcome["outcome"] == "all_started" ? spdlog::level::info : spdlog::level::warn;
        spdlog::log(level, "datastore {}: {}: {}", datastore, outcome["outcome"].get<std::string>(), states);
      }
    });
  }

  // Stops every running datastore (unregistering its names, which needs the
  // io thread) on a thread of its own, then reports stopped on the io thread.
  void stop(std::function<void()> done) override {
    if (!contexts_) return done();
    stopper_ = std::thread([this, &io = *io_, done = std::move(done)]() mutable {
      if (starter_.joinable()) starter_.join();
      contexts_->with([](context::Contexts& c) {
        for (const auto& datastore : c.status_json()) {
          if (datastore["running"].get<bool>()) (void)c.stop(datastore["name"].get<std::string>());
        }
        return 0;
      });
      asio::post(io, [this, done = std::move(done)] {
        registry_->stop();
        done();
      });
    });
  }

  void add_routes(AdminServer& admin) override {
    admin.provide(contexts_);
    add_context_routes(admin);
  }

  void write_metrics(MetricsText& out) override {
    if (contexts_) out.raw(contexts_->metrics_text());
  }

 private:
  std::string config_;
  std::string channel_;
  std::chrono::milliseconds timeout_;
  std::string node_name_;
  asio::io_context* io_ = nullptr;
  std::shared_ptr<RegistryHost> registry_;
  std::shared_ptr<ContextsHost> contexts_;
  std::thread starter_;
  std::thread stopper_;
};

}  // namespace

const ServiceKind& contexts_service_kind() {
  static const ServiceKind kind{&contexts_options,
                                [](const Settings& settings) -> std::unique_ptr<Service> {
                                  return std::make_unique<ContextsServiceImpl>(settings);
                                }};
  return kind;
}

}  // namespace plexus::node
