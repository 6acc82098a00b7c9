// PeerService public API: thin forwarding to the Impl shell (links.cpp,
// gossip.cpp, messaging.cpp) plus start-up and the local-state report.
#include "plexus/peer/peer_service.hpp"

#include <asio/post.hpp>
#include <nlohmann/json.hpp>

#include <random>
#include <spdlog/spdlog.h>

#include "plexus/core/errors.hpp"
#include "plexus/core/fault.hpp"
#include "plexus/peer/member_entries.hpp"
#include "plexus/peer/service_impl.hpp"

namespace plexus::peer {
namespace {

using Strand = asio::strand<asio::thread_pool::executor_type>;

NodeSpec initial_spec(const Config& config) {
  NodeSpec spec;
  spec.name = config.name;
  spec.listen_addrs = config.listen;
  spec.channels = config.channels;
  spec.channels.emplace(std::string(default_channel), ChannelSpec{});
  spec.instance_id = config.instance_id;
  if (spec.instance_id == 0) {
    std::random_device random;
    spec.instance_id = (std::uint64_t(random()) << 32) | random();
  }
  return spec;
}

delivery::AckTable::Options ack_options(const Config& config) {
  delivery::AckTable::Options options;
  options.max_entries = config.ack_table_max;
  options.retransmit_interval = config.retransmit_interval;
  options.exponential_backoff = config.retransmit_backoff;
  options.retransmit_interval_max = std::max(config.retransmit_interval_max, config.retransmit_interval);
  options.max_age = config.ack_timeout;
  return options;
}

delivery::CausalRegistryOptions causal_options(const Config& config) {
  delivery::CausalRegistryOptions options;
  options.max_labels = config.causal_labels_max;
  options.label.max_buffered = config.causal_buffer_max;
  options.label.max_processes = config.causal_processes_max;
  options.label.max_retired = config.causal_retired_max;
  return options;
}

}  // namespace

PeerService::Impl::Impl(asio::any_io_executor executor_in, Config config_in, NodeSpec self_in)
    : executor(std::move(executor_in)),
      config(std::move(config_in)),
      self(std::move(self_in)),
      members(self, membership::Options{config.max_members}),
      workers(std::max<std::size_t>(1, config.worker_threads)),
      message_strand(std::make_shared<Strand>(asio::make_strand(workers.get_executor()))),
      tick_timer(executor),
      rng(self.instance_id),
      liveness(liveness::Options{config.heartbeat_interval, config.peer_timeout, config.redial_min,
                                 config.redial_max, config.heartbeat_interval / 2}),
      acks(ack_options(config)),
      causal(process_key(self.name, self.instance_id),
             causal_options(config)) {
  identity.key = config.key;
  identity.node_name = self.name;
  identity.instance_id = self.instance_id;
  identity.insecure = config.insecure;
}

Result<std::shared_ptr<PeerService>> PeerService::start(asio::any_io_executor executor, Config config,
                                                        TestHooks test_hooks) {
  if (test_hooks.disable_dedupe && !fault::compiled_in) {
    return make_error(errc::invalid_field, "test hooks: this build has none (built without fault points)");
  }
  if (auto ok = validate_node_name(config.name, "name"); !ok) return ok.error();
  for (const auto& [name, channel] : config.channels) {
    if (name == control_channel) return make_error(errc::invalid_field, "channels: _control is reserved");
  }
  if (config.listen.empty()) return make_error(errc::invalid_field, "listen: at least one address");
  if (config.transport.source_address.empty()) {
    config.transport.source_address = transport::default_source_address(config.listen.front().ip);
  }
  NodeSpec spec = initial_spec(config);
  if (auto valid = validate(spec); !valid) return valid.error();
  if (config.peer_timeout < 2 * config.heartbeat_interval) {
    return make_error(errc::invalid_field, "peer_timeout: must be at least twice heartbeat_interval");
  }
  if (config.tick_interval.count() <= 0 || config.idle_tick_interval < config.tick_interval) {
    return make_error(errc::invalid_field, "idle_tick_interval: must be at least tick_interval (> 0)");
  }
  if (config.sweep_interval < config.tick_interval) {
    return make_error(errc::invalid_field, "sweep_interval: must be at least tick_interval");
  }
  if (config.data_link_dead_timeout < 2 * config.data_link_heartbeat) {
    return make_error(errc::invalid_field, "data_link_dead_timeout: must be at least twice data_link_heartbeat");
  }
  if (config.retransmits_per_tick_max == 0) {
    return make_error(errc::invalid_field, "retransmits_per_tick_max: must be at least 1");
  }
  for (const auto& name : config.bulk_channels) {
    if (!spec.channels.count(name)) {
      return make_error(errc::invalid_field, "bulk_channels: " + name + " is not a channel of this node");
    }
  }
  auto impl = std::make_shared<Impl>(executor, std::move(config), spec);
  impl->test_hooks = test_hooks;
  if (!impl->config.bulk_channels.empty()) {
    impl->bulk = std::make_shared<BulkIo>(impl->config.bulk_io_nice, impl->config.bulk_io_idle);
  }
  if (auto opened = impl->open_listeners(); !opened) return opened.error();
  // The listening ports are known now: this is the spec the cluster sees.
  impl->members = membership::Membership(impl->self, membership::Options{impl->config.max_members});
  if (auto loaded = impl->load_data_dir(); !loaded) {
    for (auto& l : impl->listeners) l->stop();
    return loaded.error();
  }
  impl->persist();
  impl->arm_tick();
  return std::shared_ptr<PeerService>(new PeerService(std::move(impl)));
}

PeerService::PeerService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerService::~PeerService() {
  impl_->fail_completions(make_error(errc::shutting_down, "peer service destroyed"));
  impl_->stopping = true;
  impl_->tick_timer.cancel();
  for (auto& l : impl_->listeners) l->stop();
  for (auto& [name, peer] : impl_->peers) {
    for (auto& [channel, slots] : peer.channels) {
      for (auto& slot : slots) if (slot.connection) slot.connection->abort(make_error(errc::shutting_down));
    }
  }
  for (const auto& [c, since] : std::map(impl_->unattached)) c->abort(make_error(errc::shutting_down));
  if (impl_->bulk) impl_->bulk->stop();  // runs the aborts posted to it, then ends
  impl_->workers.join();
}

const NodeSpec& PeerService::spec() const noexcept { return impl_->self; }

Result<void> PeerService::join(const NodeSpec& spec) {
  if (impl_->left) return make_error(errc::shutting_down, "this node left the cluster");
  if (spec.name == impl_->self.name) return make_error(errc::invalid_field, "cannot join itself");
  if (auto valid = validate(spec); !valid) return valid.error();
  auto added = impl_->members.add(spec);
  if (!added) return added.error();
  if (*added) impl_->apply_changes({membership::Change{membership::ChangeKind::added, spec, std::nullopt}});
  return {};
}

void PeerService::join_address(const ListenAddr& address, Completion done) {
  impl_->nudge(address, std::move(done));
}

void PeerService::sync_join(const NodeSpec& spec, Millis timeout, Completion done) {
  if (auto joined = join(spec); !joined) {
    if (done) done(joined);
    return;
  }
  impl_->sync_joins.push_back({spec.name, SteadyClock::now() + timeout, std::move(done)});
  impl_->check_sync_joins(SteadyClock::now());
}

void PeerService::leave(Completion done) {
  auto& s = *impl_;
  if (s.left) {
    if (done) done({});
    return;
  }
  (void)s.members.remove(s.self.name);
  const std::string me = s.self.name;
  const auto entries = to_wire(s.members.entries_for(std::span(&me, 1)));
  for (auto& [name, peer] : s.peers) {
    s.send_control(peer, wire::Envelope{wire::Gossip{entries}});
    s.send_control(peer, wire::Envelope{wire::Leave{me, s.self.instance_id, "leaving"}});
  }
  s.persist();
  s.leaving_by_choice = true;
  s.removed_self();  // closes every link gracefully: the frames above go out first
  if (done) done({});
}

Result<void> PeerService::leave(const std::string& node) {
  auto& s = *impl_;
  if (node == s.self.name) {
    leave();
    return {};
  }
  PeerLinks* peer = s.find_peer(node);
  if (!peer) return make_error(errc::unknown_node, node + " is not a member");
  const NodeSpec spec = peer->spec;
  auto removed = s.members.remove(node);
  if (!removed) return removed.error();
  // Tell the removed node first, then everyone (apply_changes drops its links).
  const auto entries = to_wire(s.members.entries_for(std::span(&node, 1)));
  s.send_control(*peer, wire::Envelope{wire::Gossip{entries}});
  s.send_control(*peer, wire::Envelope{wire::Leave{node, spec.instance_id, "removed by " + s.self.name}});
  s.apply_changes({membership::Change{membership::ChangeKind::removed, spec, std::nullopt}});
  return {};
}

std::vector<std::string> PeerService::members() const {
  std::vector<std::string> names;
  for (const auto& spec : impl_->members.members()) names.push_back(spec.name);
  return names;
}

std::vector<NodeSpec> PeerService::members_for_orchestration() const { return impl_->members.members(); }

std::vector<MemberStatus> PeerService::member_status() const {
  std::vector<MemberStatus> out;
  for (const auto& spec : impl_->members.members()) {
    MemberStatus status{spec, spec.name == impl_->self.name, spec.name == impl_->self.name, {}};
    if (auto it = impl_->peers.find(spec.name); it != impl_->peers.end()) {
      status.up = it->second.up;
      for (const auto& [channel, up] : it->second.channel_up) status.channels_up[channel] = up;
    }
    out.push_back(std::move(status));
  }
  return out;
}

Result<void> PeerService::update_members(const std::vector<NodeSpec>& specs) {
  std::set<std::string> wanted{impl_->self.name};
  for (const auto& spec : specs) {
    wanted.insert(spec.name);
    if (spec.name == impl_->self.name) continue;
    if (auto joined = join(spec); !joined) return joined;
  }
  for (const auto& name : members()) {
    if (!wanted.count(name)) {
      if (auto gone = leave(name); !gone) return gone;
    }
  }
  return {};
}

Result<std::vector<NodeSpec>> PeerService::connect(const NodeSpec& spec, bool prune) {
  std::vector<NodeSpec> stale;
  if (const auto* entry = impl_->members.find(spec.name); entry && !entry->removed && entry->spec != spec) {
    stale.push_back(entry->spec);
  }
  auto added = impl_->members.add(spec);
  if (!added) return added.error();
  if (*added) {
    const auto kind = stale.empty() ? membership::ChangeKind::added : membership::ChangeKind::updated;
    std::optional<NodeSpec> previous;
    if (!stale.empty()) previous = stale.front();
    impl_->apply_changes({membership::Change{kind, spec, previous}});
  }
  return prune ? stale : std::vector<NodeSpec>{};
}

Result<void> PeerService::reserve(const std::string& tag) {
  auto reserved = impl_->members.reserve(tag);
  if (!reserved) return reserved.error();
  return {};
}

bool PeerService::supports_capability(std::string_view name) const {
  static const std::set<std::string_view> capabilities = {
      "ack", "causal", "transitive", "partition_key", "monotonic_channels", "one_way_partitions",
      "sync_join", "tombstone_gc"};
  if (name == "encryption") return !impl_->config.insecure;
  return capabilities.count(name) > 0;
}

nlohmann::json PeerService::get_local_state() const {
  const auto& s = *impl_;
  nlohmann::json links = nlohmann::json::object();
  for (const auto& [name, peer] : s.peers) {
    nlohmann::json channels = nlohmann::json::object();
    for (const auto& [channel, slots] : peer.channels) {
      std::size_t attached = 0;
      for (const auto& slot : slots) attached += slot.attached ? 1 : 0;
      channels[channel] = {{"connections", attached}, {"parallelism", slots.size()}};
    }
    links[name] = {{"up", peer.up}, {"channels", channels}};
  }
  nlohmann::json partitions = nlohmann::json::array();
  for (const auto& [ref, p] : s.partition_table) {
    partitions.push_back({{"ref", ref}, {"node", p.node},
                          {"direction", p.direction == Direction::both ? "both"
                                        : p.direction == Direction::inbound ? "inbound" : "outbound"}});
  }
  return {{"node", s.self.name},
          {"spec", to_json(s.self)},
          {"left", s.left},
          {"membership", s.members.local_state()},
          {"links", links},
          {"partitions", partitions},
          {"ack_table", {{"entries", s.acks.size()}, {"bytes", s.acks.bytes()}}},
          {"servers", [&] {
             nlohmann::json names = nlohmann::json::array();
             for (const auto& [name, server] : s.servers) names.push_back(name);
             return names;
           }()}};
}

std::uint64_t PeerService::on_up(const std::string& node, EventFn fn, const std::string& channel) {
  const auto id = impl_->next_watch++;
  impl_->watches[id] = Watch{true, node, channel, std::move(fn)};
  return id;
}

std::uint64_t PeerService::on_down(const std::string& node, EventFn fn, const std::string& channel) {
  const auto id = impl_->next_watch++;
  impl_->watches[id] = Watch{false, node, channel, std::move(fn)};
  return id;
}

void PeerService::remove_watch(std::uint64_t id) { impl_->watches.erase(id); }

Result<void> PeerService::register_server(const std::string& name, Handler handler, ServerOptions options) {
  if (name.empty()) return make_error(errc::invalid_field, "server name: empty");
  if (!handler) return make_error(errc::invalid_field, "server " + name + ": no handler");
  if (impl_->servers.count(name)) return make_error(errc::invalid_field, "server " + name + ": already registered");
  using Placement = ServerOptions::Placement;
  auto strand = options.placement == Placement::service_executor
                    ? nullptr
                    : std::make_shared<Strand>(asio::make_strand(impl_->workers.get_executor()));
  auto placement = options.placement == Placement::adaptive
                       ? std::make_shared<HandlerPlacement>(PlacementOptions{.budget = options.inline_budget})
                       : nullptr;
  impl_->servers[name] = Server{std::move(handler), std::move(strand), std::move(placement)};
  return {};
}

void PeerService::unregister_server(const std::string& name) { impl_->servers.erase(name); }

Result<void> PeerService::forward_message(const std::string& node, const std::string& server,
                                          std::span<const std::uint8_t> payload, const ForwardOptions& options,
                                          Completion done) {
  if (server.empty()) return make_error(errc::unknown_server, "server name: empty");
  return impl_->forward(node, server, payload, options, false, std::move(done));
}

Result<void> PeerService::cast_message(const std::string& node, const std::string& server,
                                       std::span<const std::uint8_t> payload, const ForwardOptions& options,
                                       Completion done) {
  if (server.empty()) return make_error(errc::unknown_server, "server name: empty");
  return impl_->forward(node, server, payload, options, true, std::move(done));
}

Result<void> PeerService::send_message(const std::string& node, std::span<const std::uint8_t> payload) {
  ForwardOptions options;
  options.channel = std::string(control_channel);
  return impl_->forward(node, "", payload, options, false, {});
}

void PeerService::set_message_handler(Handler handler) { impl_->message_handler = std::move(handler); }

std::uint64_t PeerService::inject_partition(const std::string& node, std::optional<Millis> ttl, Direction direction) {
  const auto ref = impl_->next_partition++;
  Partition p{ref, node, direction, std::nullopt};
  if (ttl) p.expires = SteadyClock::now() + *ttl;
  impl_->partition_table[ref] = p;
  if (p.expires) impl_->sweep_by(*p.expires);  // the sweep resolves it
  spdlog::info("partition {} injected: {} ({})", ref, node,
               direction == Direction::both ? "both ways" : direction == Direction::inbound ? "inbound" : "outbound");
  return ref;
}

Result<void> PeerService::resolve_partition(std::uint64_t ref) {
  if (!impl_->partition_table.erase(ref)) {
    return make_error(errc::invalid_field, "partition " + std::to_string(ref) + ": no such partition");
  }
  spdlog::info("partition {} resolved", ref);
  return {};
}

std::vector<Partition> PeerService::partitions() const {
  std::vector<Partition> out;
  for (const auto& [ref, p] : impl_->partition_table) out.push_back(p);
  return out;
}

void PeerService::stop(std::function<void()> done) {
  auto& s = *impl_;
  s.stopping = true;
  s.tick_timer.cancel();
  s.fail_completions(make_error(errc::shutting_down, "peer service stopping"));
  s.broadcast_dirty();
  s.flush_acks();
  for (auto& l : s.listeners) l->stop();
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& [name, peer] : s.peers) {
    for (auto& [channel, slots] : peer.channels) {
      for (auto& slot : slots) {
        if (slot.connection) slot.connection->close();
      }
    }
  }
  for (const auto& [c, since] : std::map(s.unattached)) c->close();
  // Connections report their close through on_connection_closed; poll the
  // count on a timer bounded by the transport close timeout.
  auto timer = std::make_shared<asio::steady_timer>(s.executor);
  auto deadline = SteadyClock::now() + s.config.transport.close_timeout + Millis(100);
  std::weak_ptr<Impl> weak = impl_;
  auto check = std::make_shared<std::function<void(std::error_code)>>();
  *check = [weak, timer, deadline, finish, check](std::error_code) {
    auto self = weak.lock();
    bool busy = false;
    if (self) {
      for (auto& [name, peer] : self->peers)
        for (auto& [channel, slots] : peer.channels)
          for (auto& slot : slots) busy = busy || slot.connection != nullptr;
      busy = busy || !self->unattached.empty();
    }
    if (busy && SteadyClock::now() < deadline) {
      timer->expires_after(Millis(5));
      timer->async_wait(*check);
      return;
    }
    if (*finish) (*finish)();
    *check = nullptr;
  };
  asio::post(s.executor, [check] { (*check)({}); });
}

void PeerService::Impl::retire_traffic(const PeerLinks& peer) {
  for (const auto& [channel, t] : peer.traffic) retired_traffic.retire(peer.spec.name, channel, t);
}

Metrics PeerService::metrics() const {
  Metrics m = impl_->metrics;
  auto add = [&m](const std::string& key, const Traffic& t) {
    if (t.messages_sent) m.messages_sent[key] += t.messages_sent;
    if (t.bytes_sent) m.bytes_sent[key] += t.bytes_sent;
    if (t.messages_received) m.messages_received[key] += t.messages_received;
    if (t.bytes_received) m.bytes_received[key] += t.bytes_received;
  };
  for (const auto& [key, t] : impl_->retired_traffic.links()) add(key, t);
  m.retired_traffic_links = impl_->retired_traffic.size();
  m.retired_traffic_folded = impl_->retired_traffic.folded();
  for (const auto& [name, peer] : impl_->peers)
    for (const auto& [channel, t] : peer.traffic) add(metric_key(name, channel), t);
  m.ack_table_size = impl_->acks.size();
  m.members = impl_->members.members().size();
  for (const auto& [name, peer] : impl_->peers)
    for (const auto& [channel, slots] : peer.channels)
      for (const auto& slot : slots)
        if (slot.connection) m.outbox_bytes += slot.connection->stats().outbox_bytes;
  return m;
}

const transport::Counters& PeerService::transport_counters() const noexcept { return *impl_->counters; }

bool PeerService::has_left() const noexcept { return impl_->left; }

void PeerService::on_removed(std::function<void()> fn) { impl_->on_removed_fn = std::move(fn); }

}  // namespace plexus::peer
