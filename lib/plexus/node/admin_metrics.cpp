// Admin routes for observing a node: /metrics (Prometheus text format 0.0.4:
// every service writes its families on the io thread, the admin API adds its
// own), /v1/status (the one-line summary the CLI and the cluster view show)
// and /v1/health, and the peer service's metric families.
#include <sstream>

#include "plexus/core/errors.hpp"
#include "plexus/node/admin_gate.hpp"
#include "plexus/node/admin_server.hpp"
#include "plexus/node/join_retry.hpp"
#include "plexus/node/metrics_text.hpp"
#include "plexus/node/service.hpp"
#include "plexus/node/sink.hpp"

namespace plexus::node {
namespace {

using nlohmann::json;
using peer::PeerService;

/// What one scrape reads from the peer service, on the io thread.
struct Snapshot {
  std::string node;
  std::uint64_t instance_id = 0;
  bool left = false;
  peer::Metrics metrics;
  std::vector<peer::MemberStatus> members;
  std::vector<std::pair<errc, std::uint64_t>> handshake_rejections;
  std::vector<std::pair<errc, std::uint64_t>> connection_errors;
  std::vector<std::pair<errc, std::uint64_t>> handshake_evictions;
  std::size_t partitions = 0;
  std::vector<Joiner::Pending> joins_pending;
};

constexpr errc handshake_reasons[] = {errc::bad_magic,        errc::version_mismatch, errc::malformed_hello,
                                      errc::insecure_mismatch, errc::no_common_cipher, errc::auth_failed,
                                      errc::handshake_timeout, errc::too_many_handshakes, errc::first_bytes_timeout};
constexpr errc eviction_reasons[] = {errc::evicted_table_full, errc::evicted_source_limit};
constexpr errc connection_reasons[] = {errc::record_tampered, errc::record_replayed, errc::record_out_of_order,
                                       errc::record_too_large, errc::truncated_stream, errc::frame_too_large,
                                       errc::malformed_message, errc::dead_peer,     errc::outbox_full,
                                       errc::dial_failed,      errc::io_error};

Snapshot take_snapshot(const PeerService& service) {
  Snapshot s{service.spec().name, service.spec().instance_id, service.has_left(), service.metrics(),
             service.member_status(), {}, {}, {}, service.partitions().size(), {}};
  const auto& counters = service.transport_counters();
  for (const auto reason : handshake_reasons) s.handshake_rejections.emplace_back(reason, counters.get(reason));
  for (const auto reason : connection_reasons) s.connection_errors.emplace_back(reason, counters.get(reason));
  for (const auto reason : eviction_reasons) s.handshake_evictions.emplace_back(reason, counters.get(reason));
  return s;
}

void render_members(MetricsText& e, const Snapshot& s) {
  std::uint64_t up = 0;
  for (const auto& m : s.members) up += m.up ? 1 : 0;
  e.family("plexus_info", "gauge", "This node: its name and instance id.")
      .sample("plexus_info", {{"node", s.node}, {"instance_id", instance_id_to_hex(s.instance_id)}}, 1);
  e.family("plexus_left", "gauge", "1 once this node left or was removed from the cluster.")
      .sample("plexus_left", {}, s.left ? 1 : 0);
  e.family("plexus_members", "gauge", "Members in this node's view, itself included.")
      .sample("plexus_members", {}, s.metrics.members);
  e.family("plexus_members_up", "gauge", "Members this node sees up, itself included.")
      .sample("plexus_members_up", {}, up);
  e.family("plexus_peer_up", "gauge", "1 when the peer is up (heard within the peer timeout).");
  for (const auto& m : s.members) if (!m.self) e.sample("plexus_peer_up", {{"peer", m.spec.name}}, m.up ? 1 : 0);
  e.family("plexus_peer_channel_up", "gauge", "1 when every connection of the channel to the peer is attached.");
  for (const auto& m : s.members) {
    for (const auto& [channel, channel_up] : m.channels_up) {
      e.sample("plexus_peer_channel_up", {{"peer", m.spec.name}, {"channel", channel}}, channel_up ? 1 : 0);
    }
  }
  e.family("plexus_peer_up_transitions_total", "counter", "Peers going from down to up.")
      .sample("plexus_peer_up_transitions_total", {}, s.metrics.up_transitions);
  e.family("plexus_peer_down_transitions_total", "counter", "Peers going from up to down.")
      .sample("plexus_peer_down_transitions_total", {}, s.metrics.down_transitions);
  e.family("plexus_partitions", "gauge", "Injected partitions in force.").sample("plexus_partitions", {}, s.partitions);
}

void render_traffic(MetricsText& e, const Snapshot& s) {
  e.by_link("plexus_messages_sent_total", "Messages sent, by peer and channel.", s.metrics.messages_sent);
  e.by_link("plexus_messages_received_total", "Messages received, by peer and channel.", s.metrics.messages_received);
  e.by_link("plexus_bytes_sent_total", "Payload bytes sent, by peer and channel.", s.metrics.bytes_sent);
  e.by_link("plexus_bytes_received_total", "Payload bytes received, by peer and channel.", s.metrics.bytes_received);
  e.family("plexus_drops_total", "counter", "Messages dropped, by reason.");
  for (const auto& [reason, value] : s.metrics.drops) e.sample("plexus_drops_total", {{"reason", reason}}, value);
  e.family("plexus_retransmits_total", "counter", "Acknowledged messages sent again.")
      .sample("plexus_retransmits_total", {}, s.metrics.retransmits);
  e.family("plexus_ack_table_entries", "gauge", "Acknowledged messages waiting for their ack.")
      .sample("plexus_ack_table_entries", {}, s.metrics.ack_table_size);
  e.family("plexus_outbox_bytes", "gauge", "Bytes queued in the outboxes of all connections.")
      .sample("plexus_outbox_bytes", {}, s.metrics.outbox_bytes);
  e.family("plexus_retired_traffic_links", "gauge", "Links of removed members whose traffic is kept by peer.")
      .sample("plexus_retired_traffic_links", {}, s.metrics.retired_traffic_links);
  e.family("plexus_retired_traffic_folded_total", "counter",
           "Links of removed members summed under peer _retired because the retired table was full.")
      .sample("plexus_retired_traffic_folded_total", {}, s.metrics.retired_traffic_folded);
  e.family("plexus_dispatch_queued", "gauge", "Received messages waiting for a server handler.")
      .sample("plexus_dispatch_queued", {}, s.metrics.dispatch_queued);
  e.family("plexus_unattached_incoming", "gauge", "Accepted peer connections that have not attached yet.")
      .sample("plexus_unattached_incoming", {}, s.metrics.unattached_incoming);
  e.family("plexus_unattached_refused_total", "counter",
           "Accepted peer connections closed at once because unattached_incoming_max were waiting.")
      .sample("plexus_unattached_refused_total", {}, s.metrics.unattached_refused);
  e.family("plexus_handshake_rejections_total", "counter", "Connections refused during the handshake, by reason.");
  for (const auto& [reason, value] : s.handshake_rejections) {
    e.sample("plexus_handshake_rejections_total", {{"reason", std::string(errc_name(reason))}}, value);
  }
  e.family("plexus_handshake_evictions_total", "counter",
           "Pending handshakes closed to make room for a newer connection, by reason (table_full, source_limit).");
  for (const auto& [reason, value] : s.handshake_evictions) {
    const std::string name(errc_name(reason));
    e.sample("plexus_handshake_evictions_total", {{"reason", name.substr(std::string_view("evicted_").size())}}, value);
  }
  e.family("plexus_connection_errors_total", "counter", "Connections closed or failed after the handshake, by reason.");
  for (const auto& [reason, value] : s.connection_errors) {
    e.sample("plexus_connection_errors_total", {{"reason", std::string(errc_name(reason))}}, value);
  }
}

void render_builtins(MetricsText& e, const Sink& sink_server, const EchoCounters& echo) {
  const auto sink = sink_server.counters();
  e.family("plexus_sink_messages_total", "counter", "Messages the built-in sink received.")
      .sample("plexus_sink_messages_total", {}, sink.lifetime_received);
  e.family("plexus_sink_bytes_total", "counter", "Payload bytes the built-in sink received.")
      .sample("plexus_sink_bytes_total", {}, sink.lifetime_bytes);
  e.family("plexus_sink_held", "gauge", "Messages the sink holds now.").sample("plexus_sink_held", {}, sink.held);
  e.family("plexus_echo_replies_total", "counter", "Replies the built-in echo server sent.")
      .sample("plexus_echo_replies_total", {}, echo.replies.load());
  e.family("plexus_echo_failures_total", "counter", "Replies the echo server could not send.")
      .sample("plexus_echo_failures_total", {}, echo.failures.load());
}

// The admin API's own counters (thread-safe: rendered on the admin thread).
void render_admin(MetricsText& e, AdminServer& admin) {
  e.family("plexus_admin_requests_total", "counter", "Admin API requests answered, by HTTP status.");
  for (const auto& [status, value] : admin.requests_by_status()) {
    e.sample("plexus_admin_requests_total", {{"code", std::to_string(status)}}, value);
  }
  const auto gate = admin.gate_counts();
  e.family("plexus_admin_connections", "gauge", "Admin connections open and still sending their request.")
      .sample("plexus_admin_connections", {}, gate.connections);
  e.family("plexus_admin_queue", "gauge", "Whole admin requests waiting for an admin thread.")
      .sample("plexus_admin_queue", {}, gate.queued);
  e.family("plexus_admin_connections_accepted_total", "counter", "Admin connections accepted.")
      .sample("plexus_admin_connections_accepted_total", {}, gate.accepted);
  e.family("plexus_admin_connections_closed_total", "counter",
           "Admin connections closed before their request was served, by reason.");
  for (const char* reason : {"evicted", "read_timeout", "queue_full", "header_too_large"}) {
    const auto it = gate.closed.find(reason);
    e.sample("plexus_admin_connections_closed_total", {{"reason", reason}}, it == gate.closed.end() ? 0 : it->second);
  }
}

json status_json(const Snapshot& s, AdminServer& admin) {
  json up = json::array(), down = json::array();
  for (const auto& m : s.members) {
    if (!m.self) (m.up ? up : down).push_back(m.spec.name);
  }
  json joins = json::array();
  for (const auto& pending : s.joins_pending) {
    joins.push_back({{"target", pending.target},
                     {"attempts", pending.attempts},
                     {"last_error", pending.last_error},
                     {"next_attempt_in_ms", pending.next_attempt_in_ms}});
  }
  const auto sum = [](const std::map<std::string, std::uint64_t>& values) {
    std::uint64_t total = 0;
    for (const auto& [key, value] : values) total += value;
    return total;
  };
  return {{"node", s.node},
          {"instance_id", instance_id_to_hex(s.instance_id)},
          {"admin", to_string(admin.address())},
          {"left", s.left},
          {"members", s.members.size()},
          {"up", up},
          {"down", down},
          {"partitions", s.partitions},
          {"messages_sent", sum(s.metrics.messages_sent)},
          {"messages_received", sum(s.metrics.messages_received)},
          {"bytes_sent", sum(s.metrics.bytes_sent)},
          {"bytes_received", sum(s.metrics.bytes_received)},
          {"retransmits", s.metrics.retransmits},
          {"ack_table_entries", s.metrics.ack_table_size},
          {"sink_received", admin.context<PeerRoutes>()->sink->counters().lifetime_received},
          {"joins_pending", joins}};
}

// Runs take_snapshot on the io thread, then `render` here.
Reply with_snapshot(AdminServer& admin, const std::function<Reply(const Snapshot&)>& render) {
  auto snapshot = std::make_shared<std::optional<Snapshot>>();
  std::weak_ptr<Joiner> joiner = admin.context<PeerRoutes>()->joiner;
  Reply reply = admin.on_io_now([snapshot, joiner](PeerService& service) {
    *snapshot = take_snapshot(service);
    if (auto retrying = joiner.lock()) (*snapshot)->joins_pending = retrying->pending();
    return Reply{};
  });
  // Only a 200 means the io thread ran (and is done with) the snapshot.
  return reply.status == 200 && *snapshot ? render(**snapshot) : reply;
}

}  // namespace

void write_peer_metrics(MetricsText& out, const PeerService& service, const Sink& sink, const EchoCounters& echo) {
  const auto snapshot = take_snapshot(service);
  render_members(out, snapshot);
  render_traffic(out, snapshot);
  render_builtins(out, sink, echo);
}

void add_metrics_route(AdminServer& admin, std::vector<Service*> services) {
  admin.get("/metrics", [&admin, services = std::move(services)](const httplib::Request& request) {
    (void)Fields::query(request, {});
    auto text = std::make_shared<MetricsText>();
    // Every service writes its families on the io thread, where its state lives.
    Reply reply = admin.on_io_now([text, services](PeerService&) {
      for (auto* service : services) service->write_metrics(*text);
      return Reply{};
    });
    if (reply.status != 200) return reply;
    render_admin(*text, admin);
    return Reply{200, text->text(), "text/plain; version=0.0.4; charset=utf-8"};
  });
}

void add_status_routes(AdminServer& admin) {
  admin.get("/v1/status", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    return with_snapshot(admin, [&admin](const Snapshot& s) { return json_reply(status_json(s, admin)); });
  });
  admin.get("/v1/health", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    return with_snapshot(admin, [](const Snapshot& s) {
      return json_reply({{"status", s.left ? "left" : "ok"}, {"node", s.node}}, s.left ? 503 : 200);
    });
  });
}

}  // namespace plexus::node
