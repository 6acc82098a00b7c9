// Strict scenario parsing: every object is read through a Reader that knows
// its path, takes each known key once and refuses whatever is left over.
#include "tools/harness/scenario.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <set>

#include <asio/ip/address_v4.hpp>
#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/core/json_path.hpp"

namespace plexus::harness {
namespace {

using nlohmann::json;
namespace jp = plexus::json_path;

template <class E>
struct Named { const char* name; E value; };

constexpr std::array<Named<WorkloadKind>, 5> workload_kinds{{
    {"acked", WorkloadKind::acked}, {"causal", WorkloadKind::causal},
    {"unacked", WorkloadKind::unacked}, {"churn", WorkloadKind::churn}, {"presence", WorkloadKind::presence}}};
constexpr std::array<Named<FaultKind>, 5> fault_kinds{{
    {"partition", FaultKind::partition}, {"kill", FaultKind::kill}, {"pause", FaultKind::pause},
    {"flap", FaultKind::flap}, {"swizzle", FaultKind::swizzle}}};
constexpr std::array<Named<FaultMode>, 2> fault_modes{{{"api", FaultMode::api}, {"net", FaultMode::net}}};
constexpr std::array<Named<NetFlavour>, 2> net_flavours{{{"drop", NetFlavour::drop}, {"reject", NetFlavour::reject}}};
constexpr auto shapes = [] {
  std::array<Named<Shape>, core::partition_shape_names.size()> table{};
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = {core::partition_shape_names[i].data(), Shape(i)};
  return table;
}();

// The plexusd settings a scenario may change, with the harness's defaults
// (fast failure detection, so a short run sees faults and recoveries).
const std::map<std::string, json>& node_defaults() {
  static const std::map<std::string, json> defaults{
      {"heartbeat_ms", 100}, {"peer_timeout_ms", 600}, {"gossip_interval_ms", 300},
      {"retransmit_interval_ms", 100}, {"ack_timeout_ms", 30000}, {"transport_heartbeat_ms", 100},
      {"dead_peer_timeout_ms", 500}, {"worker_threads", 1}, {"log_level", "info"},
      {"test_only_disable_dedupe", false}};
  return defaults;
}

template <class E, std::size_t N>
std::string name_of(const std::array<Named<E>, N>& table, E value) {
  for (const auto& n : table) if (n.value == value) return n.name;
  return "?";
}

template <class E, std::size_t N>
std::vector<std::string> names_of(const std::array<Named<E>, N>& table) {
  std::vector<std::string> out;
  for (const auto& n : table) out.emplace_back(n.name);
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

/// Reads one JSON object at `path`; finish() refuses the keys nobody took.
class Reader {
 public:
  Reader(const json& object, std::string path) : object_(object), path_(std::move(path)) {}

  Result<void> check_object() const {
    if (!object_.is_object()) return jp::field_error(path_, "must be an object");
    return {};
  }
  const json* take(const std::string& key) {
    taken_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  std::string path(const std::string& key) const { return jp::join(path_ == jp::root ? "" : path_, key); }

  Result<void> number(const std::string& key, double& out, double min, double max) {
    const json* v = take(key);
    if (!v) return {};
    if (!v->is_number()) return jp::field_error(path(key), "must be a number");
    const double d = v->get<double>();
    if (d < min || d > max) return range_error(key, min, max);
    out = d;
    return {};
  }
  Result<void> integer(const std::string& key, int& out, int min, int max) {
    const json* v = take(key);
    if (!v) return {};
    if (!v->is_number_integer()) return jp::field_error(path(key), "must be an integer");
    const auto i = v->get<std::int64_t>();
    if (i < min || i > max) return range_error(key, min, max);
    out = int(i);
    return {};
  }
  Result<void> text(const std::string& key, std::string& out, bool required = false) {
    const json* v = take(key);
    if (!v) return required ? jp::field_error(path(key), "required") : Result<void>{};
    if (!v->is_string()) return jp::field_error(path(key), "must be a string");
    out = v->get<std::string>();
    return {};
  }
  Result<void> boolean(const std::string& key, bool& out) {
    const json* v = take(key);
    if (!v) return {};
    if (!v->is_boolean()) return jp::field_error(path(key), "must be true or false");
    out = v->get<bool>();
    return {};
  }
  template <class E, std::size_t N>
  Result<void> choice(const std::string& key, E& out, const std::array<Named<E>, N>& table, bool required) {
    const json* v = take(key);
    if (!v) return required ? jp::field_error(path(key), "required (one of " + joined(names_of(table)) + ")")
                            : Result<void>{};
    if (v->is_string()) {
      for (const auto& n : table) {
        if (v->get<std::string>() == n.name) { out = n.value; return {}; }
      }
    }
    return jp::field_error(path(key), "must be one of " + joined(names_of(table)));
  }
  Result<void> finish() const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (!taken_.count(it.key())) {
        std::vector<std::string> known(taken_.begin(), taken_.end());
        return jp::field_error(path(it.key()), "unknown field (known: " + joined(known) + ")");
      }
    }
    return {};
  }

 private:
  template <class T>
  Error range_error(const std::string& key, T min, T max) const {
    auto show = [](T x) { auto s = json(x).dump(); return s; };
    return jp::field_error(path(key), "must be " + show(min) + ".." + show(max));
  }
  const json& object_;
  std::string path_;
  std::set<std::string> taken_;
};

#define PLEXUS_TRY(expr) \
  if (auto ok_ = (expr); !ok_) return ok_.error()

Result<Workload> parse_workload(const json& object, const std::string& path) {
  Reader r(object, path);
  PLEXUS_TRY(r.check_object());
  Workload w;
  PLEXUS_TRY(r.choice("type", w.kind, workload_kinds, true));
  PLEXUS_TRY(r.number("rate_per_s", w.rate_per_s, 0.01, 1000));
  PLEXUS_TRY(r.integer("concurrency", w.concurrency, 1, 64));
  if (w.kind == WorkloadKind::churn) {
    PLEXUS_TRY(r.integer("rejoin_after_ms", w.rejoin_after_ms, 100, 600'000));
  } else if (w.kind == WorkloadKind::presence) {
    PLEXUS_TRY(r.integer("topics", w.topics, 1, 100));
    PLEXUS_TRY(r.integer("keys", w.keys, 1, 1000));
    PLEXUS_TRY(r.number("update_share", w.update_share, 0, 1));
    PLEXUS_TRY(r.integer("lease_ms", w.lease_ms, 400, 3'600'000));
    PLEXUS_TRY(r.integer("read_interval_ms", w.read_interval_ms, 20, 60'000));
  } else {
    PLEXUS_TRY(r.boolean("transitive", w.transitive));
  }
  if (w.kind == WorkloadKind::acked) PLEXUS_TRY(r.integer("timeout_ms", w.timeout_ms, 1, 600'000));
  if (w.kind == WorkloadKind::causal) {
    PLEXUS_TRY(r.text("label", w.label));
    if (w.label.empty()) return jp::field_error(r.path("label"), "must not be empty");
  }
  PLEXUS_TRY(r.finish());
  return w;
}

Result<Fault> parse_fault(const json& object, const std::string& path) {
  Reader r(object, path);
  PLEXUS_TRY(r.check_object());
  Fault f;
  PLEXUS_TRY(r.choice("type", f.kind, fault_kinds, true));
  if (f.kind == FaultKind::partition || f.kind == FaultKind::flap) PLEXUS_TRY(r.choice("shape", f.shape, shapes, true));
  if (f.kind == FaultKind::flap) PLEXUS_TRY(r.integer("period_ms", f.flap_period_ms, 50, 60'000));
  if (f.kind == FaultKind::swizzle) PLEXUS_TRY(r.integer("step_ms", f.swizzle_step_ms, 10, 60'000));
  if (f.kind == FaultKind::partition || f.kind == FaultKind::flap || f.kind == FaultKind::swizzle) {
    PLEXUS_TRY(r.choice("mode", f.mode, fault_modes, false));
    if (f.mode == FaultMode::net) PLEXUS_TRY(r.choice("flavour", f.flavour, net_flavours, false));
  }
  PLEXUS_TRY(r.finish());
  return f;
}

Result<Nemesis> parse_nemesis(const json& object, const std::string& path) {
  Reader r(object, path);
  PLEXUS_TRY(r.check_object());
  Nemesis n;
  PLEXUS_TRY(r.number("start_s", n.start_s, 0, 86'400));
  PLEXUS_TRY(r.number("interval_s", n.interval_s, 0.1, 86'400));
  PLEXUS_TRY(r.number("fault_duration_s", n.fault_duration_s, 0.05, 86'400));
  if (n.fault_duration_s > n.interval_s) {
    return jp::field_error(r.path("fault_duration_s"), "must be at most interval_s (faults do not overlap)");
  }
  const json* faults = r.take("faults");
  if (!faults) return jp::field_error(r.path("faults"), "required (a list of faults)");
  if (!faults->is_array()) return jp::field_error(r.path("faults"), "must be a list");
  for (std::size_t i = 0; i < faults->size(); ++i) {
    auto fault = parse_fault((*faults)[i], jp::index(r.path("faults"), i));
    if (!fault) return fault.error();
    n.faults.push_back(*fault);
  }
  PLEXUS_TRY(r.finish());
  return n;
}

Result<void> parse_node_settings(const json& object, const std::string& path, Scenario& s) {
  Reader r(object, path);
  PLEXUS_TRY(r.check_object());
  for (const auto& [key, fallback] : node_defaults()) {
    const json* v = r.take(key);
    if (!v) continue;
    if (fallback.is_boolean() && !v->is_boolean()) return jp::field_error(r.path(key), "must be true or false");
    if (fallback.is_string() && !v->is_string()) return jp::field_error(r.path(key), "must be a string");
    if (fallback.is_number() && !(v->is_number_integer() && v->get<std::int64_t>() > 0 &&
                                  v->get<std::int64_t>() <= 86'400'000)) {
      return jp::field_error(r.path(key), "must be a positive integer");
    }
    s.node_settings[key] = *v;
  }
  return r.finish();
}

Result<void> parse_top(Reader& r, Scenario& s) {
  PLEXUS_TRY(r.text("name", s.name, true));
  if (s.name.empty()) return jp::field_error(r.path("name"), "must not be empty");
  PLEXUS_TRY(r.text("description", s.description));
  PLEXUS_TRY(r.integer("nodes", s.nodes, 1, 32));
  PLEXUS_TRY(r.number("duration_s", s.duration_s, 0.5, 86'400));
  PLEXUS_TRY(r.number("liveness_bound_s", s.liveness_bound_s, 0.5, 3600));
  if (const json* seed = r.take("seed")) {
    if (!seed->is_number_unsigned()) return jp::field_error(r.path("seed"), "must be a non-negative integer");
    s.seed = seed->get<std::uint64_t>();
  }
  PLEXUS_TRY(r.text("first_address", s.first_address));
  if (auto addresses = node_addresses(s, s.nodes); !addresses) return addresses.error();
  return {};
}

}  // namespace

Result<Scenario> parse_scenario(const json& document) {
  Reader r(document, std::string(jp::root));
  PLEXUS_TRY(r.check_object());
  Scenario s;
  PLEXUS_TRY(parse_top(r, s));
  if (const json* workloads = r.take("workloads")) {
    if (!workloads->is_array()) return jp::field_error(r.path("workloads"), "must be a list");
    for (std::size_t i = 0; i < workloads->size(); ++i) {
      auto w = parse_workload((*workloads)[i], jp::index("workloads", i));
      if (!w) return w.error();
      const bool second_presence = w->kind == WorkloadKind::presence &&
          std::any_of(s.workloads.begin(), s.workloads.end(), [](const Workload& o) { return o.kind == WorkloadKind::presence; });
      if (second_presence) return jp::field_error(jp::join(jp::index("workloads", i), "type"), "at most one presence workload");
      s.workloads.push_back(*w);
    }
  }
  if (const json* nemesis = r.take("nemesis")) {
    auto n = parse_nemesis(*nemesis, "nemesis");
    if (!n) return n.error();
    s.nemesis = *n;
  }
  if (const json* settings = r.take("node_settings")) PLEXUS_TRY(parse_node_settings(*settings, "node_settings", s));
  PLEXUS_TRY(r.finish());
  return s;
}

Result<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(errc::io_error, path + ": cannot read the scenario file");
  json document = json::parse(in, nullptr, false);
  if (document.is_discarded()) return make_error(errc::invalid_field, path + ": not valid JSON");
  auto scenario = parse_scenario(document);
  if (!scenario) return make_error(errc::invalid_field, path + ": " + scenario.error().detail);
  return scenario;
}

std::vector<std::string> node_flags(const Scenario& scenario) {
  std::vector<std::string> flags;
  for (const auto& [key, fallback] : node_defaults()) {
    auto it = scenario.node_settings.find(key);
    const json& value = it == scenario.node_settings.end() ? fallback : it->second;
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (value.is_boolean()) {
      if (value.get<bool>()) flags.push_back(flag);
    } else {
      flags.push_back(flag);
      flags.push_back(value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  return flags;
}

json to_json(const Scenario& s) {
  json workloads = json::array();
  for (const auto& w : s.workloads) {
    json o{{"type", to_string(w.kind)}, {"rate_per_s", w.rate_per_s}, {"concurrency", w.concurrency}};
    if (w.kind == WorkloadKind::churn) {
      o["rejoin_after_ms"] = w.rejoin_after_ms;
    } else if (w.kind == WorkloadKind::presence) {
      o.update({{"topics", w.topics}, {"keys", w.keys}, {"update_share", w.update_share}, {"lease_ms", w.lease_ms},
                {"read_interval_ms", w.read_interval_ms}});
    } else {
      o["transitive"] = w.transitive;
    }
    if (w.kind == WorkloadKind::acked) o["timeout_ms"] = w.timeout_ms;
    if (w.kind == WorkloadKind::causal) o["label"] = w.label;
    workloads.push_back(o);
  }
  json faults = json::array();
  for (const auto& f : s.nemesis.faults) {
    json o{{"type", to_string(f.kind)}};
    if (f.kind == FaultKind::partition || f.kind == FaultKind::flap) o["shape"] = to_string(f.shape);
    if (f.kind == FaultKind::flap) o["period_ms"] = f.flap_period_ms;
    if (f.kind == FaultKind::swizzle) o["step_ms"] = f.swizzle_step_ms;
    if (f.kind == FaultKind::partition || f.kind == FaultKind::flap || f.kind == FaultKind::swizzle) {
      o["mode"] = name_of(fault_modes, f.mode);
      if (f.mode == FaultMode::net) o["flavour"] = name_of(net_flavours, f.flavour);
    }
    faults.push_back(o);
  }
  json settings = json::object();
  for (const auto& [key, fallback] : node_defaults()) {
    auto it = s.node_settings.find(key);
    settings[key] = it == s.node_settings.end() ? fallback : it->second;
  }
  json out{{"name", s.name}, {"description", s.description}, {"nodes", s.nodes},
           {"duration_s", s.duration_s}, {"liveness_bound_s", s.liveness_bound_s},
           {"workloads", workloads},
           {"nemesis", {{"start_s", s.nemesis.start_s}, {"interval_s", s.nemesis.interval_s},
                        {"fault_duration_s", s.nemesis.fault_duration_s}, {"faults", faults}}},
           {"node_settings", settings}};
  if (s.seed) out["seed"] = *s.seed;
  out["first_address"] = s.first_address;
  return out;
}

Result<std::vector<std::string>> node_addresses(const Scenario& scenario, int nodes) {
  std::error_code ec;
  const auto first = asio::ip::make_address_v4(scenario.first_address, ec);
  if (ec) return jp::field_error("first_address", "must be an IPv4 address (\"127.0.0.2\")");
  const std::uint64_t base = first.to_uint(), last = base + std::uint64_t(std::max(nodes, 1)) - 1;
  const std::uint64_t harness = asio::ip::address_v4::loopback().to_uint();
  if ((base >> 24) != 127 || (last >> 24) != 127 || (base <= harness && harness <= last)) {
    return jp::field_error("first_address", "the " + std::to_string(nodes) + " node addresses from " + scenario.first_address +
                                                " must lie inside 127.0.0.0/8 and leave out 127.0.0.1 (the harness's own): "
                                                "nodes run on loopback only, and net faults match nothing else");
  }
  std::vector<std::string> out;
  for (std::uint64_t a = base; a <= last; ++a) out.push_back(asio::ip::address_v4(std::uint32_t(a)).to_string());
  return out;
}

std::optional<std::string> first_net_fault(const Scenario& scenario) {
  for (std::size_t i = 0; i < scenario.nemesis.faults.size(); ++i) {
    if (scenario.nemesis.faults[i].mode == FaultMode::net) return jp::join(jp::index("nemesis.faults", i), "mode");
  }
  return std::nullopt;
}

std::string mode_label(FaultMode mode, NetFlavour flavour) {
  if (mode == FaultMode::api) return "api";
  return "net " + name_of(net_flavours, flavour);
}

std::string to_string(WorkloadKind kind) { return name_of(workload_kinds, kind); }
std::string to_string(FaultKind kind) { return name_of(fault_kinds, kind); }
std::string to_string(Shape shape) { return name_of(shapes, shape); }
std::vector<std::string> shape_names() { return names_of(shapes); }
std::vector<std::string> fault_names() { return names_of(fault_kinds); }
std::vector<std::string> workload_names() { return names_of(workload_kinds); }

}  // namespace plexus::harness
