// Mesh: the transport-level node of this first plexusd. It accepts peers,
// keeps one authenticated connection to each address it was told to join
// (redialing with capped, jittered backoff), and logs each connection going
// up and down. The peer service (membership, channels, messaging) replaces
// it.
#pragma once

#include <asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <set>

#include "plexus/core/node_spec.hpp"
#include "plexus/transport/endpoint.hpp"

namespace plexus::node {

struct MeshConfig {
  std::string name;
  std::uint64_t instance_id = 0;
  secure::ClusterKey key;
  bool insecure = false;
  transport::Options options;
};

class Mesh : public std::enable_shared_from_this<Mesh> {
 public:
  static Result<std::shared_ptr<Mesh>> start(asio::any_io_executor executor, MeshConfig config,
                                             ListenAddr listen);
  /// Keep a connection to `peer` from now on.
  void add_peer(ListenAddr peer);
  [[nodiscard]] const NodeSpec& spec() const noexcept { return spec_; }
  /// Close every connection gracefully, then call `done` (at most close_timeout later).
  void stop(std::function<void()> done);

 private:
  Mesh(asio::any_io_executor executor, MeshConfig config);
  void adopt(transport::ConnectionPtr connection, const std::string& how);
  static asio::awaitable<void> keep_dialing(std::shared_ptr<Mesh> self, ListenAddr peer);
  void maybe_done();

  asio::any_io_executor executor_;
  MeshConfig config_;
  secure::HandshakeConfig identity_;
  NodeSpec spec_;
  std::shared_ptr<transport::Counters> counters_ = std::make_shared<transport::Counters>();
  std::shared_ptr<transport::Listener> listener_;
  std::set<transport::ConnectionPtr> connections_;
  bool stopping_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace plexus::node
