// Node: start-up in the order that leaves nothing half-started (admin port
// bound, then the peer service, then servers and joins, then the admin API
// serves), the built-in servers, and stop.
//
// Built-in servers:
//  - `sink` keeps what it receives (sink.hpp); the admin API reads and clears it.
//  - `echo` sends each payload back, unchanged and on the same channel, to
//    the sending node's server named by the payload's "reply_to" when the
//    payload is a JSON object with a string "reply_to", else to its `sink`.
#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "plexus/admin/token.hpp"
#include "plexus/core/errors.hpp"
#include "plexus/node/admin_server.hpp"
#include "plexus/node/join_retry.hpp"
#include "plexus/node/node.hpp"
#include "plexus/node/presence_host.hpp"
#include "plexus/node/sink.hpp"

namespace plexus::node {

struct Node::Impl {
  asio::io_context& io;
  std::shared_ptr<peer::PeerService> service;
  std::shared_ptr<Sink> sink;
  std::shared_ptr<EchoCounters> echo = std::make_shared<EchoCounters>();
  std::unique_ptr<AdminServer> admin;
  std::function<void()> on_finished;
  std::shared_ptr<PresenceHost> presence;
  std::shared_ptr<store::Datastores> datastores;
  std::shared_ptr<Joiner> joiner;
  std::unique_ptr<asio::steady_timer> join_deadline;
  std::optional<std::string> join_failure;
  bool finished = false;

  void finish() {
    if (finished) return;
    finished = true;
    if (on_finished) on_finished();
  }
};

namespace {

std::string reply_server_of(const std::vector<std::uint8_t>& payload) {
  const auto document = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (document.is_object()) {
    const auto it = document.find("reply_to");
    if (it != document.end() && it->is_string() && !it->get<std::string>().empty()) return it->get<std::string>();
  }
  return "sink";
}

Result<void> register_builtin_servers(Node::Impl& node) {
  auto sink = node.sink;
  if (auto ok = node.service->register_server("sink", [sink](const peer::Received& r) { sink->push(r); }); !ok) return ok;
  std::weak_ptr<peer::PeerService> weak = node.service;
  auto io = node.io.get_executor();
  auto counters = node.echo;
  // Handlers may run on a worker (adaptive placement); the reply is sent from the io thread.
  return node.service->register_server("echo", [weak, io, counters](const peer::Received& r) {
    asio::post(io, [weak, counters, r, reply_to = reply_server_of(r.payload)] {
      auto service = weak.lock();
      if (!service) return;
      peer::ForwardOptions options;
      options.channel = r.channel;
      auto sent = r.cast ? service->cast_message(r.from, reply_to, r.payload, options)
                         : service->forward_message(r.from, reply_to, r.payload, options);
      if (sent) {
        ++counters->replies;
      } else {
        ++counters->failures;
        spdlog::warn("echo: cannot reply to {} on {}: {}", reply_to, r.from, sent.error().message());
      }
    });
  });
}

// --join targets are retried until they join; with a join timeout, a node
// that joined none of them by then gives up (plexusd exits 2).
void join_all(Node::Impl& node, const Settings& settings) {
  for (const auto& target : settings.joins) node.joiner->add(target);
  if (settings.joins.empty() || settings.join_retry.timeout.count() == 0) return;
  node.join_deadline = std::make_unique<asio::steady_timer>(node.io, settings.join_retry.timeout);
  node.join_deadline->async_wait([raw = &node, timeout = settings.join_retry.timeout](std::error_code ec) {
    if (ec || raw->joiner->joined_any() || raw->finished) return;
    std::string last;
    for (const auto& pending : raw->joiner->pending()) {
      last += (last.empty() ? "" : "; ") + pending.target + ": " + pending.last_error;
    }
    raw->join_failure = "--join-timeout-ms: joined none of the --join targets within " +
                        std::to_string(timeout.count()) + " ms (" + last + ")";
    spdlog::error("{}: stopping", *raw->join_failure);
    raw->finish();
  });
}

}  // namespace

Result<std::unique_ptr<Node>> Node::start(asio::io_context& io, const Settings& settings,
                                          std::function<void()> on_finished) {
  for (const auto& target : settings.joins) {
    const auto* spec = std::get_if<NodeSpec>(&target);
    if (spec && spec->name == settings.peer.name) return make_error(errc::invalid_field, "--join: a node cannot join itself");
  }
  if (settings.peer_test_hooks.disable_dedupe) {
    spdlog::warn("TEST ONLY: --test-only-disable-dedupe is set: retransmitted messages are delivered twice");
  }
  auto impl = std::make_unique<Impl>(Impl{io, nullptr, std::make_shared<Sink>(settings.sink_capacity, settings.sink_max_bytes),
                                          std::make_shared<EchoCounters>(), nullptr, std::move(on_finished), nullptr,
                                          nullptr, nullptr, nullptr, std::nullopt});
  auto admin = AdminServer::bind(settings.admin, admin::admin_token(settings.peer.key));
  if (!admin) return admin.error();
  impl->admin = std::move(*admin);
  // Before the peer service: a datastore that cannot open stops the start
  // before this node is seen by any other.
  auto datastores = store::Datastores::open(settings.datastores, settings.datastore_options);
  if (!datastores) return datastores.error();
  impl->datastores = std::move(*datastores);
  auto service = peer::PeerService::start(io.get_executor(), settings.peer, settings.peer_test_hooks);
  if (!service) {
    const auto& e = service.error();
    return make_error(errc::io_error, "cannot start the peer service: " + (e.detail.empty() ? e.message() : e.detail));
  }
  impl->service = *service;
  if (auto ok = register_builtin_servers(*impl); !ok) return ok.error();
  if (settings.presence_enabled) {
    // Before the joins, so the tracker sees every peer come up.
    auto presence = PresenceHost::start(io.get_executor(), impl->service, settings);
    if (!presence) {
      const auto& e = presence.error();
      return make_error(errc::invalid_field, "presence: " + (e.detail.empty() ? e.message() : e.detail));
    }
    impl->presence = std::move(*presence);
  }
  Impl* raw = impl.get();
  // Runs when another node removed this one, and on this node's own leave().
  impl->service->on_removed([raw] {
    spdlog::warn("no longer a member of the cluster: stopping");
    raw->finish();
  });
  impl->joiner = std::make_shared<Joiner>(io.get_executor(), impl->service, settings.join_retry);
  join_all(*impl, settings);
  impl->admin->start(NodeState{io.get_executor(), impl->service, impl->sink, impl->echo,
                               [raw] {
                                 spdlog::info("left the cluster: stopping");
                                 raw->finish();
                               },
                               impl->admin->address(), impl->presence, impl->datastores, impl->joiner},
                     settings.admin_limits);
  spdlog::info("node {} listening on {}, admin API on {}", settings.peer.name,
               to_string(impl->service->spec().listen_addrs.front()), to_string(impl->admin->address()));
  for (const auto& d : impl->datastores->all()) spdlog::info("datastore {}: {}", d->spec.name, store::describe(d->spec));
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() {
  close_admin();
  // Drop our servers (and their strands) while the peer service's worker pool
  // still exists: PeerService::Impl declares its server table before the pool,
  // so a strand released in its destructor would touch the destroyed pool's
  // strand service (seen as a hang at exit).
  if (impl_->presence) impl_->presence->stop();
  if (impl_->service) {
    impl_->service->unregister_server("echo");
    impl_->service->unregister_server("sink");
  }
}

std::string Node::ready_line() const {
  // Written by hand to keep "spec" first, as documented (nlohmann::json sorts keys).
  return "{\"spec\":" + to_json(impl_->service->spec()).dump() + ",\"admin\":" +
         nlohmann::json(to_string(impl_->admin->address())).dump() + "}";
}

peer::PeerService& Node::service() { return *impl_->service; }

void Node::stop(std::function<void()> done) {
  if (impl_->join_deadline) impl_->join_deadline->cancel();
  if (impl_->joiner) impl_->joiner->stop();
  // No permdown: the other nodes see this one go down and keep its presences
  // hidden for the permdown period, in case it comes back (docs/presence.md).
  if (impl_->presence) impl_->presence->stop();
  impl_->service->stop(std::move(done));
}

const std::optional<std::string>& Node::join_failure() const { return impl_->join_failure; }

void Node::close_admin() {
  if (impl_->admin) impl_->admin->stop();
}

}  // namespace plexus::node
