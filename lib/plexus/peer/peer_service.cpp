// PeerService public API: thin forwarding to the Impl shell (links.cpp,
// core_driver.cpp, messaging.cpp) plus start-up and the local-state report.
#include "plexus/peer/peer_service.hpp"

#include <asio/post.hpp>
#include <nlohmann/json.hpp>

#include <random>
#include <spdlog/spdlog.h>

#include "plexus/core/errors.hpp"
#include "plexus/core/fault.hpp"
#include "plexus/peer/core/member_entries.hpp"
#include "plexus/peer/service_impl.hpp"

namespace plexus::peer {
namespace {


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

core::CoreConfig core_config(const Config& config, const TestHooks& hooks) {
  core::CoreConfig c;
  c.liveness = liveness::Options{config.heartbeat_interval, config.peer_timeout, config.redial_min,
                                 config.redial_max, config.heartbeat_interval / 2};
  c.acks = ack_options(config);
  c.causal = causal_options(config);
  c.membership = membership::Options{config.max_members};
  c.gossip_interval = config.gossip_interval;
  c.tick_interval = config.tick_interval;
  c.nudge_delay = config.nudge_delay;
  c.handshake_timeout = config.transport.handshake_timeout;
  c.gossip_fanout = config.gossip_fanout;
  c.retransmits_per_tick_max = config.retransmits_per_tick_max;
  c.relay_hops_max = config.relay_hops_max;
  c.dispatch_queue_max = config.dispatch_queue_max;
  if (fault::compiled_in && hooks.disable_dedupe) c.bug = core::Bug::skip_dedupe;  // TEST ONLY
  return c;
}

}  // namespace

PeerService::Impl::Impl(asio::any_io_executor executor_in, Config config_in, NodeSpec self_in,
                        std::shared_ptr<asio::thread_pool> workers_in, TestHooks hooks)
    : executor(std::move(executor_in)),
      config(std::move(config_in)),
      test_hooks(hooks),
      self(std::move(self_in)),
      core(self, core_config(config, hooks), self.instance_id, ticks(SteadyClock::now())),
      workers(std::move(workers_in)),
      dispatcher(*workers, [this](const char* reason) { count_drop(reason); }),
      tick_timer(executor),
      rng(core.rng()),
      liveness(core.liveness()),
      members(core.members()) {
  identity.key = config.key;
  identity.node_name = self.name;
  identity.instance_id = self.instance_id;
  identity.insecure = config.insecure;
}

Result<std::shared_ptr<PeerService>> PeerService::start(asio::any_io_executor executor, Config config,
                                                        TestHooks test_hooks,
                                                        std::shared_ptr<asio::thread_pool> workers) {
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
  if (config.dispatch_queue_max == 0 || config.unattached_incoming_max == 0) {
    return make_error(errc::invalid_field, config.dispatch_queue_max == 0 ? "dispatch_queue_max: must be at least 1"
                                                                          : "unattached_incoming_max: must be at least 1");
  }
  for (const auto& name : config.bulk_channels) {
    if (!spec.channels.count(name)) {
      return make_error(errc::invalid_field, "bulk_channels: " + name + " is not a channel of this node");
    }
  }
  const bool owns_workers = workers == nullptr;
  if (owns_workers) workers = std::make_shared<asio::thread_pool>(std::max<std::size_t>(1, config.worker_threads));
  auto impl = std::make_shared<Impl>(executor, std::move(config), spec, std::move(workers), test_hooks);
  impl->owns_workers = owns_workers;
  if (!impl->config.bulk_channels.empty()) {
    impl->bulk = std::make_shared<BulkIo>(impl->config.bulk_io_nice, impl->config.bulk_io_idle);
  }
  if (auto opened = impl->open_listeners(); !opened) return opened.error();
  // The listening ports are known now: this is the spec the cluster sees
  // (the core's membership, through the reference).
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
  // A shared pool is joined by its owner, after every service stopped.
  if (impl_->owns_workers) impl_->workers->join();
}

const NodeSpec& PeerService::spec() const noexcept { return impl_->self; }

Result<void> PeerService::join(const NodeSpec& spec) {
  if (impl_->left) return make_error(errc::shutting_down, "this node left the cluster");
  if (spec.name == impl_->self.name) return make_error(errc::invalid_field, "cannot join itself");
  if (auto valid = validate(spec); !valid) return valid.error();
  auto added = impl_->core.admit(spec, ticks(SteadyClock::now()));
  impl_->drain();
  impl_->wake();
  if (!added) return added.error();
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
          {"ack_table", {{"entries", s.core.acks().size()}, {"bytes", s.core.acks().bytes()}}},
          {"servers", [&] {
             nlohmann::json names = nlohmann::json::array();
             for (const auto& name : s.dispatcher.server_names()) names.push_back(name);
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
  if (auto added = impl_->dispatcher.add_server(name, std::move(handler), options); !added) return added;
  impl_->core.serve(name);
  return {};
}

void PeerService::unregister_server(const std::string& name) {
  impl_->dispatcher.remove_server(name);
  impl_->core.unserve(name);
}

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

void PeerService::set_message_handler(Handler handler) { impl_->dispatcher.set_message_handler(std::move(handler)); }

std::uint64_t PeerService::inject_partition(const std::string& node, std::optional<Millis> ttl, Direction direction) {
  const auto ref = impl_->next_partition++;
  Partition p{ref, node, direction, std::nullopt};
  if (ttl) p.expires = SteadyClock::now() + *ttl;
  impl_->partition_table[ref] = p;
  impl_->sync_cut();
  if (p.expires) impl_->sweep_by(*p.expires);  // the sweep resolves it
  spdlog::info("partition {} injected: {} ({})", ref, node,
               direction == Direction::both ? "both ways" : direction == Direction::inbound ? "inbound" : "outbound");
  return ref;
}

Result<void> PeerService::resolve_partition(std::uint64_t ref) {
  if (!impl_->partition_table.erase(ref)) {
    return make_error(errc::invalid_field, "partition " + std::to_string(ref) + ": no such partition");
  }
  impl_->sync_cut();
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
  s.core.flush(ticks(SteadyClock::now()));  // gossip and acks still batched
  s.drain();
  for (auto& l : s.listeners) l->stop();
  for (auto& [name, peer] : s.peers) {
    for (auto& [channel, slots] : peer.channels) {
      for (auto& slot : slots) {
        if (slot.connection) slot.connection->close();
      }
    }
  }
  for (const auto& [c, since] : std::map(s.unattached)) c->close();
  // Each connection reports its close through on_connection_closed, which
  // calls check_stopped(); the transport's close timeout bounds how long
  // that takes, and this timer is the backstop for one that never reports.
  auto timer = std::make_shared<asio::steady_timer>(s.executor, s.config.transport.close_timeout + Millis(100));
  s.on_stopped = [timer, done = std::move(done)] {
    timer->cancel();
    if (done) done();
  };
  std::weak_ptr<Impl> weak = impl_;
  timer->async_wait([weak, timer](std::error_code) {
    if (auto self = weak.lock(); self && self->on_stopped) std::exchange(self->on_stopped, nullptr)();
  });
  // Asynchronously even with no connection: `done` never runs inside stop().
  asio::post(s.executor, [weak] {
    if (auto self = weak.lock()) self->check_stopped();
  });
}

void PeerService::Impl::check_stopped() {
  if (!stopping || !on_stopped || !unattached.empty()) return;
  for (auto& [name, peer] : peers)
    for (auto& [channel, slots] : peer.channels)
      for (auto& slot : slots)
        if (slot.connection) return;
  std::exchange(on_stopped, nullptr)();
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
  m.ack_table_size = impl_->core.acks().size();
  m.dispatch_queued = impl_->dispatcher.backlog();
  m.unattached_incoming = impl_->unattached_incoming;
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
