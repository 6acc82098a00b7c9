// Contexts as the admin API and /metrics show them (contexts.hpp). Nothing
// here touches a credential: the options' credential sources are not shown
// either, and a PostgreSQL backend is described by host, port and dbname only.
#include <sstream>

#include "plexus/context/contexts.hpp"
#include "plexus/core/metric_label.hpp"
#include "plexus/store/datastore.hpp"

namespace plexus::context {
namespace {

using nlohmann::json;

std::string describe_backend(const DatastoreOptions& options) {
  store::DatastoreSpec spec;
  spec.name = options.name;
  spec.kind = options.backend == BackendKind::lmdb ? store::BackendKind::lmdb : store::BackendKind::postgres;
  spec.location = options.location;
  return store::describe(spec);
}

struct Family {
  const char* name;
  const char* type;
  const char* help;
};

constexpr Family families[] = {
    {"plexus_context_state", "gauge", "1 for the context's current state (not_started, started, not_ready, ready, parked)."},
    {"plexus_context_pool_size", "gauge", "Connections the context's pool may open."},
    {"plexus_context_connections_open", "gauge", "Connections open now (PostgreSQL)."},
    {"plexus_context_connections_in_use", "gauge", "Connections leased to calls now (PostgreSQL)."},
    {"plexus_context_waits_total", "counter", "Calls that waited for the context to be ready."},
    {"plexus_context_wait_failures_total", "counter", "Calls that gave up waiting (unavailable)."},
    {"plexus_context_reconnects_total", "counter", "Connections the server ended and the pool replaced."},
    {"plexus_context_not_ready_total", "counter", "Times the context went not_ready."},
    {"plexus_context_probes_total", "counter", "Health probes run."},
    {"plexus_context_probe_failures_total", "counter", "Health probes that failed."},
};

}  // namespace

json Contexts::entry_json(const Entry& entry) const {
  json contexts = json::array();
  for (const auto& c : entry.options.contexts) {
    json item{{"name", c.name},        {"description", c.description}, {"kind", to_string(c.kind)},
              {"role", c.role},        {"access", to_string(c.access)}, {"pool_size", c.pool_size},
              {"start", c.start},      {"registry", to_string(c.registry)}};
    State state = State::not_started;
    std::string reason;
    if (entry.running) {
      state = entry.running->state(c.name);
      auto context = entry.running->context(c.name);
      if (context) reason = (*context)->reason();
    }
    item["state"] = to_string(state);
    item["reason"] = reason;
    if (const auto it = registration_errors_.find(entry.options.name + "/" + c.name); it != registration_errors_.end()) {
      item["registration_error"] = it->second;
    }
    contexts.push_back(std::move(item));
  }
  return json{{"name", entry.options.name}, {"backend", describe_backend(entry.options)},
              {"running", entry.running != nullptr}, {"contexts", std::move(contexts)}};
}

json Contexts::status_json() const {
  std::lock_guard lock(mutex_);
  json out = json::array();
  for (const auto& entry : entries_) out.push_back(entry_json(entry));
  return out;
}

Result<json> Contexts::contexts_json(std::string_view datastore) const {
  std::lock_guard lock(mutex_);
  auto entry = find(datastore);
  if (!entry) return entry.error();
  return entry_json(**entry)["contexts"];
}

std::string Contexts::metrics_text() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::ostringstream> samples;
  for (const auto& entry : entries_) {
    if (!entry.running) continue;
    for (const auto& c : entry.options.contexts) {
      auto context = entry.running->context(c.name);
      if (!context || c.kind != Kind::login) continue;
      const ContextMetrics m = (*context)->metrics();
      const std::string labels =
          "datastore=\"" + metric_label(entry.options.name) + "\",context=\"" + metric_label(c.name) + "\"";
      for (const State s : {State::not_started, State::started, State::not_ready, State::ready, State::parked}) {
        samples["plexus_context_state"] << "plexus_context_state{" << labels << ",state=\"" << to_string(s) << "\"} "
                                        << (m.state == s ? 1 : 0) << "\n";
      }
      const std::pair<const char*, std::uint64_t> values[] = {
          {"plexus_context_pool_size", m.pool_size},
          {"plexus_context_connections_open", m.connections_open},
          {"plexus_context_connections_in_use", m.connections_open - std::min(m.connections_open, m.connections_idle)},
          {"plexus_context_waits_total", m.waits},
          {"plexus_context_wait_failures_total", m.wait_failures},
          {"plexus_context_reconnects_total", m.supervisor.connections_lost},
          {"plexus_context_not_ready_total", m.supervisor.not_ready},
          {"plexus_context_probes_total", m.supervisor.probes},
          {"plexus_context_probe_failures_total", m.supervisor.probe_failures}};
      for (const auto& [name, value] : values) samples[name] << name << "{" << labels << "} " << value << "\n";
    }
  }
  std::string out;
  for (const auto& family : families) {
    out += std::string("# HELP ") + family.name + " " + family.help + "\n# TYPE " + family.name + " " + family.type + "\n";
    if (const auto it = samples.find(family.name); it != samples.end()) out += it->second.str();
  }
  return out;
}

}  // namespace plexus::context
