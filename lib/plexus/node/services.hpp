// The standard services of a node (what plexusd runs and plexus::Node
// embeds): the store (the node's datastores), the peer service (with the
// built-in echo and sink servers and the --join retries), the datastore
// contexts (--datastore-config) and presence.
// Each is declared here by its kind: its option table and its factory.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "plexus/node/service.hpp"

namespace plexus::peer {
class PeerService;
}
namespace plexus::store {
class Datastores;
}

namespace plexus::node {

class Joiner;
class PresenceHost;
class Sink;
struct EchoCounters;

/// The datastores (--datastore): opened at start, before the peer service,
/// so that one that cannot open stops the start before any node sees this one.
const ServiceKind& store_service_kind();
/// The peer service, the built-in servers and the --join retries.
const ServiceKind& peer_service_kind();
/// The datastore contexts (--datastore-config): after the peer service,
/// whose channel carries their global registry.
const ServiceKind& contexts_service_kind();
/// The presence tracker (--presence-*); registered even when disabled, so
/// that its routes say so.
const ServiceKind& presence_service_kind();
/// The tenant manager (--tenants): after the store and the peer service.
const ServiceKind& tenants_service_kind();

/// The peer service as a Service: what the others (presence, the admin API,
/// an embedding program) reach it through.
class PeerNodeService : public Service {
 public:
  [[nodiscard]] virtual const std::shared_ptr<peer::PeerService>& service() const = 0;
  /// Runs once, on the io thread, when this node left or was removed from
  /// the cluster, or gave up joining (join_failure() says why).
  virtual void on_finished(std::function<void()> fn) = 0;
  [[nodiscard]] virtual const std::optional<std::string>& join_failure() const = 0;
};

/// The presence tracker as a Service.
class PresenceService : public Service {
 public:
  /// The host of the tracker and its leased owners; null when disabled. Io thread only.
  [[nodiscard]] virtual const std::shared_ptr<PresenceHost>& host() const = 0;
};

/// The datastores as a Service.
class StoreService : public Service {
 public:
  /// The node's datastores (callable from any thread).
  [[nodiscard]] virtual const std::shared_ptr<store::Datastores>& datastores() const = 0;
};

}  // namespace plexus::node
