// Admin routes for observing a node: /metrics (Prometheus text format 0.0.4),
// /v1/status (the one-line summary the CLI and the cluster view show) and
// /v1/health. The peer-service numbers are copied on the io thread; the
// text is rendered on the admin thread.
#include <sstream>

#include "plexus/core/errors.hpp"
#include "plexus/node/admin_gate.hpp"
#include "plexus/node/admin_server.hpp"
#include "plexus/node/join_retry.hpp"
#include "plexus/node/presence_host.hpp"
#include "plexus/node/sink.hpp"
#include "plexus/store/datastore.hpp"

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
  struct Presence {
    presence::TrackerMetrics tracker;
    std::size_t owners = 0;
    std::uint64_t owners_expired = 0;
  };
  std::optional<Presence> presence;  ///< none with --presence-disabled
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
             service.member_status(), {}, {}, {}, service.partitions().size(), std::nullopt, {}};
  const auto& counters = service.transport_counters();
  for (const auto reason : handshake_reasons) s.handshake_rejections.emplace_back(reason, counters.get(reason));
  for (const auto reason : connection_reasons) s.connection_errors.emplace_back(reason, counters.get(reason));
  for (const auto reason : eviction_reasons) s.handshake_evictions.emplace_back(reason, counters.get(reason));
  return s;
}

std::string label(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

/// Writes metric families: HELP and TYPE once, then samples.
class Exposition {
 public:
  Exposition& family(std::string_view name, std::string_view type, std::string_view help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    return *this;
  }
  Exposition& sample(std::string_view name, const std::vector<std::pair<std::string_view, std::string>>& labels,
                     std::uint64_t value) {
    out_ << name;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      out_ << (i == 0 ? "{" : ",") << labels[i].first << "=\"" << label(labels[i].second) << '"';
    }
    out_ << (labels.empty() ? "" : "}") << ' ' << value << '\n';
    return *this;
  }
  // "peer/channel" keyed counters of peer::Metrics.
  Exposition& by_link(std::string_view name, std::string_view help, const std::map<std::string, std::uint64_t>& values) {
    family(name, "counter", help);
    for (const auto& [key, value] : values) {
      const auto slash = key.find('/');
      sample(name, {{"peer", key.substr(0, slash)}, {"channel", slash == std::string::npos ? "" : key.substr(slash + 1)}},
             value);
    }
    return *this;
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

void render_members(Exposition& e, const Snapshot& s) {
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

void render_traffic(Exposition& e, const Snapshot& s) {
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

void render_local(Exposition& e, AdminServer& admin) {
  const auto sink = admin.state().sink->counters();
  e.family("plexus_sink_messages_total", "counter", "Messages the built-in sink received.")
      .sample("plexus_sink_messages_total", {}, sink.lifetime_received);
  e.family("plexus_sink_bytes_total", "counter", "Payload bytes the built-in sink received.")
      .sample("plexus_sink_bytes_total", {}, sink.lifetime_bytes);
  e.family("plexus_sink_held", "gauge", "Messages the sink holds now.").sample("plexus_sink_held", {}, sink.held);
  const auto& echo = *admin.state().echo;
  e.family("plexus_echo_replies_total", "counter", "Replies the built-in echo server sent.")
      .sample("plexus_echo_replies_total", {}, echo.replies.load());
  e.family("plexus_echo_failures_total", "counter", "Replies the echo server could not send.")
      .sample("plexus_echo_failures_total", {}, echo.failures.load());
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

// Per datastore: transactions by outcome, conflicts, retries, bytes, commit latency.
void render_store(Exposition& e, const store::Datastores& stores) {
  const auto all = stores.all();
  const auto per_store = [&](const char* name, const char* type, const char* help, auto value_of) {
    e.family(name, type, help);
    for (const auto& d : all) e.sample(name, {{"datastore", d->spec.name}}, value_of(d->database->stats()));
  };
  e.family("plexus_store_transactions_total", "counter", "Transactions by outcome: committed, conflict, failed.");
  for (const auto& d : all) {
    const auto& s = d->database->stats();
    e.sample("plexus_store_transactions_total", {{"datastore", d->spec.name}, {"outcome", "committed"}},
             s.transactions_committed.load());
    e.sample("plexus_store_transactions_total", {{"datastore", d->spec.name}, {"outcome", "conflict"}}, s.conflicts.load());
    e.sample("plexus_store_transactions_total", {{"datastore", d->spec.name}, {"outcome", "failed"}},
             s.transactions_failed.load());
  }
  per_store("plexus_store_transactions_started_total", "counter", "Transactions begun.",
            [](const store::Stats& s) { return s.transactions_started.load(); });
  per_store("plexus_store_retries_total", "counter", "Transactions re-run by run() after a conflict.",
            [](const store::Stats& s) { return s.retries.load(); });
  per_store("plexus_store_read_bytes_total", "counter", "Key and value bytes read.",
            [](const store::Stats& s) { return s.bytes_read.load(); });
  per_store("plexus_store_written_bytes_total", "counter", "Key and value bytes written by committed transactions.",
            [](const store::Stats& s) { return s.bytes_written.load(); });
  const char* h = "plexus_store_commit_latency_microseconds";
  e.family(h, "histogram", "Commit latency of read-write transactions, microseconds.");
  for (const auto& d : all) {
    const auto& s = d->database->stats();
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < s.commit_latency_buckets.size(); ++i) {
      cumulative += s.commit_latency_buckets[i].load();
      const auto le = i < s.commit_latency_bounds_us.size() ? std::to_string(s.commit_latency_bounds_us[i]) : "+Inf";
      e.sample(std::string(h) + "_bucket", {{"datastore", d->spec.name}, {"le", le}}, cumulative);
    }
    e.sample(std::string(h) + "_sum", {{"datastore", d->spec.name}}, s.commit_latency_us_sum.load());
    e.sample(std::string(h) + "_count", {{"datastore", d->spec.name}}, s.commit_latency_count.load());
  }
}

void render_presence(Exposition& e, const Snapshot::Presence& p) {
  const auto gauge = [&e](const char* name, const char* help, std::uint64_t value) {
    e.family(name, "gauge", help).sample(name, {}, value);
  };
  const auto counter = [&e](const char* name, const char* help, std::uint64_t value) {
    e.family(name, "counter", help).sample(name, {}, value);
  };
  const auto& t = p.tracker;
  gauge("plexus_presence_presences", "Presences this node holds, all replicas, hidden ones included.", t.presences);
  gauge("plexus_presence_local_presences", "Presences tracked on this node.", t.local_presences);
  gauge("plexus_presence_owners", "Owners open through the admin API.", p.owners);
  counter("plexus_presence_owners_expired_total", "Admin owners closed because their lease ran out.", p.owners_expired);
  counter("plexus_presence_deltas_sent_total", "Delta messages sent to other nodes.", t.deltas_sent);
  counter("plexus_presence_deltas_merged_total", "Deltas from other nodes merged.", t.deltas_merged);
  counter("plexus_presence_gaps_total", "Deltas refused because they start after what we know (a transfer follows).", t.gaps);
  counter("plexus_presence_transfer_requests_total", "State transfers asked of other nodes.", t.transfer_requests_sent);
  e.family("plexus_presence_transfers_sent_total", "counter", "State transfers sent, by kind.")
      .sample("plexus_presence_transfers_sent_total", {{"kind", "delta"}}, t.transfers_sent_delta)
      .sample("plexus_presence_transfers_sent_total", {{"kind", "full"}}, t.transfers_sent_full);
  counter("plexus_presence_heartbeats_sent_total", "Tracker heartbeats sent.", t.heartbeats_sent);
  counter("plexus_presence_bad_messages_total", "Tracker messages that could not be decoded.", t.bad_messages);
  counter("plexus_presence_pool_size_mismatches_total", "Messages from a node running another pool size.",
          t.pool_size_mismatches);
  counter("plexus_presence_send_failures_total", "Tracker messages the peer service refused to send.", t.send_failures);
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
          {"admin", to_string(admin.state().admin)},
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
          {"sink_received", admin.state().sink->counters().lifetime_received},
          {"joins_pending", joins}};
}

// Runs take_snapshot on the io thread, then `render` here.
Reply with_snapshot(AdminServer& admin, const std::function<Reply(const Snapshot&)>& render) {
  auto snapshot = std::make_shared<std::optional<Snapshot>>();
  std::weak_ptr<PresenceHost> presence = admin.state().presence;
  std::weak_ptr<Joiner> joiner = admin.state().joiner;
  Reply reply = admin.on_io_now([snapshot, presence, joiner](PeerService& service) {
    *snapshot = take_snapshot(service);
    if (auto retrying = joiner.lock()) (*snapshot)->joins_pending = retrying->pending();
    if (auto host = presence.lock()) {
      (*snapshot)->presence = Snapshot::Presence{host->tracker().metrics(), host->leases().size(), host->expired_total()};
    }
    return Reply{};
  });
  // Only a 200 means the io thread ran (and is done with) the snapshot.
  return reply.status == 200 && *snapshot ? render(**snapshot) : reply;
}

}  // namespace

void add_metrics_routes(AdminServer& admin) {
  admin.get("/metrics", [&admin](const httplib::Request& request) {
    (void)Fields::query(request, {});
    return with_snapshot(admin, [&admin](const Snapshot& s) {
      Exposition e;
      render_members(e, s);
      render_traffic(e, s);
      render_local(e, admin);
      if (s.presence) render_presence(e, *s.presence);
      if (admin.state().datastores) render_store(e, *admin.state().datastores);
      return Reply{200, e.text(), "text/plain; version=0.0.4; charset=utf-8"};
    });
  });
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
