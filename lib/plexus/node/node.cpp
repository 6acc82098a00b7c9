// Node: start-up in the order that leaves nothing half-started (admin port
// bound, then the runtime starts the services in order: store, peer service,
// datastore contexts, presence; then the joins; then the admin API serves), and stop.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "plexus/admin/token.hpp"
#include "plexus/node/admin_server.hpp"
#include "plexus/node/node.hpp"
#include "plexus/node/runtime.hpp"
#include "plexus/node/services.hpp"

namespace plexus::node {

const std::vector<ServiceKind>& standard_service_kinds() {
  static const std::vector<ServiceKind> kinds{store_service_kind(), peer_service_kind(), contexts_service_kind(),
                                                presence_service_kind(), tenants_service_kind()};
  return kinds;
}

struct Node::Impl {
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<AdminServer> admin;
  PeerNodeService* peer = nullptr;
  PresenceService* presence = nullptr;
  StoreService* store = nullptr;
};

Result<std::unique_ptr<Node>> Node::start(const Settings& settings, std::function<void()> on_finished) {
  auto impl = std::make_unique<Impl>();
  impl->runtime = std::make_unique<Runtime>(settings.peer.worker_threads, settings.busy_poll);
  auto admin = AdminServer::bind(settings.admin, admin::admin_token(settings.peer.key));
  if (!admin) return admin.error();
  impl->admin = std::move(*admin);
  auto& runtime = *impl->runtime;
  for (const auto& kind : standard_service_kinds()) runtime.add(kind.make(settings));
  impl->peer = runtime.find<PeerNodeService>();
  impl->presence = runtime.find<PresenceService>();
  impl->store = runtime.find<StoreService>();
  impl->peer->on_finished(std::move(on_finished));
  if (auto started = runtime.start(); !started) return started.error();
  std::vector<Service*> services;
  for (const auto& service : runtime.services()) services.push_back(service.get());
  impl->admin->start(runtime.io().get_executor(), impl->peer->service(), services, settings.admin_limits);
  spdlog::info("node {} listening on {}, admin API on {}", settings.peer.name,
               to_string(impl->peer->service()->spec().listen_addrs.front()), to_string(impl->admin->address()));
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() {
  close_admin();
  impl_->admin.reset();
  impl_->runtime.reset();
}

Runtime& Node::runtime() { return *impl_->runtime; }
asio::io_context& Node::io() { return impl_->runtime->io(); }

std::string Node::ready_line() const {
  // Written by hand to keep "spec" first, as documented (nlohmann::json sorts keys).
  return "{\"spec\":" + to_json(impl_->peer->service()->spec()).dump() + ",\"admin\":" +
         nlohmann::json(to_string(impl_->admin->address())).dump() + "}";
}

const ListenAddr& Node::admin_address() const { return impl_->admin->address(); }
peer::PeerService& Node::service() { return *impl_->peer->service(); }
PeerNodeService& Node::peer() { return *impl_->peer; }
PresenceService& Node::presence() { return *impl_->presence; }
StoreService& Node::store() { return *impl_->store; }

void Node::stop(std::function<void()> done) { impl_->runtime->stop(std::move(done)); }

void Node::run() { impl_->runtime->run(); }

const std::optional<std::string>& Node::join_failure() const { return impl_->peer->join_failure(); }

void Node::close_admin() {
  if (impl_->admin) impl_->admin->stop();
}

}  // namespace plexus::node
