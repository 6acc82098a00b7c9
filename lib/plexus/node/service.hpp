// Service: one component of a node (the peer service, presence, the store;
// next the datastore contexts and the tenant manager). A node is a Runtime
// with services registered on it: each declares its options (an
// OptionTable, options.hpp), starts and stops, and gives the admin API its
// routes and its metrics. Adding a service touches none of the others: it is
// one more entry in standard_service_kinds() (node.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/node/options.hpp"

namespace plexus::node {

class AdminServer;
class MetricsText;
class Runtime;
struct Settings;

class Service {
 public:
  virtual ~Service() = default;
  /// Short name, as in logs and errors: "peer", "presence", "store".
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Start, on the thread that starts the node, before its io loop runs.
  /// Services start in the order they were added; one may look up an
  /// earlier one with Runtime::find. An error stops the node's start.
  virtual Result<void> start(Runtime& runtime) = 0;
  /// Once every service started: begin what the others must see happen
  /// (joining the cluster, for the peer service).
  virtual void started(Runtime& /*runtime*/) {}
  /// Stop gracefully on the io thread; `done` runs (on the io thread, maybe
  /// at once) when stopped. Services stop in the reverse order of start.
  virtual void stop(std::function<void()> done) { done(); }
  /// Register the admin routes (before the admin API serves). Routes run on
  /// admin threads; AdminServer::on_io brings work to the io thread.
  virtual void add_routes(AdminServer& /*admin*/) {}
  /// Write this service's metric families; runs on the io thread.
  virtual void write_metrics(MetricsText& /*out*/) {}
};

/// A kind of service: its option table (known before anything starts, for
/// flags, config keys and docs) and how to make one from checked settings.
struct ServiceKind {
  const OptionTable& (*options)();
  std::unique_ptr<Service> (*make)(const Settings& settings);
};

}  // namespace plexus::node
