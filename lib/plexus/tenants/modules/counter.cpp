// The built-in `counter` module (counter.hpp).
#include "plexus/tenants/modules/counter.hpp"

#include <limits>
#include <map>

#include "plexus/tenants/modules/request.hpp"

namespace plexus::tenants::modules {
namespace {

using Counters = std::map<std::string, std::int64_t>;

constexpr std::int64_t int_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t int_max = std::numeric_limits<std::int64_t>::max();

Result<CounterRequest::Op> op_of(const std::string& op) {
  if (op == "incr") return CounterRequest::Op::incr;
  if (op == "get") return CounterRequest::Op::get;
  if (op == "reset") return CounterRequest::Op::reset;
  if (op == "list") return CounterRequest::Op::list;
  return field_error("op", "unknown operation (counter knows incr, get, reset, list)");
}

Result<Counters> decode_state(std::string_view state) {
  auto parsed = parse_json(state, "counter state");
  if (!parsed) return parsed.error();
  if (!parsed->is_object()) return field_error("counter state", "must be a JSON object of counters");
  Counters counters;
  for (const auto& [name, value] : parsed->items()) {
    if (!value.is_number_integer() || (value.is_number_unsigned() && value.get<std::uint64_t>() > std::uint64_t(int_max))) {
      return field_error("counter state", "counter '" + name + "' is not a 64-bit integer");
    }
    counters.emplace(name, value.get<std::int64_t>());
  }
  return counters;
}

Bytes encode_state(const Counters& counters) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : counters) out[name] = value;
  return to_bytes(out);
}

Bytes value_reply(const std::string& name, std::int64_t value) {
  return to_bytes(nlohmann::json{{"name", name}, {"value", value}});
}

/// Applies a changing request to `counters`; the reply, or invalid_argument.
Result<Bytes> apply_change(const CounterRequest& request, Counters& counters) {
  const auto it = counters.find(request.name);
  const std::int64_t current = it == counters.end() ? 0 : it->second;
  if (request.op == CounterRequest::Op::reset) {
    if (it != counters.end()) counters.erase(it);
    return value_reply(request.name, 0);
  }
  if ((request.by > 0 && current > int_max - request.by) || (request.by < 0 && current < int_min - request.by)) {
    return field_error("by", "counter '" + request.name + "' at " + std::to_string(current) + " would overflow");
  }
  if (it == counters.end() && counters.size() >= counters_max) {
    return field_error("name", "a new counter, over the limit of " + std::to_string(counters_max) + " counters");
  }
  counters[request.name] = current + request.by;
  return value_reply(request.name, current + request.by);
}

}  // namespace

Result<CounterRequest> decode_counter_request(std::string_view bytes) {
  auto request = Request::parse(bytes, counter_request_bytes_max);
  if (!request) return request.error();
  CounterRequest out;
  auto op = op_of(request->op());
  if (!op) return op.error();
  out.op = *op;
  const bool incr = out.op == CounterRequest::Op::incr;
  if (auto ok = out.op == CounterRequest::Op::list ? request->only({})
                : incr                             ? request->only({"name", "by"})
                                                   : request->only({"name"});
      !ok) {
    return ok.error();
  }
  auto name = request->string("name", counter_name_bytes_max);
  if (!name) return name.error();
  if (*name) out.name = std::move(**name);
  auto by = request->integer("by", int_min, int_max);
  if (!by) return by.error();
  if (*by) out.by = **by;
  return out;
}

Outcome CounterModule::install(const Tenant&) { return Outcome::ok(encode_state({})); }

RunOutcome CounterModule::run(const Tenant&, Bytes state) {
  auto counters = decode_state(state);
  if (!counters) return RunOutcome::failure(counters.error().detail, std::move(state));
  return RunOutcome::success(encode_state(*counters));
}

CallOutcome CounterModule::call(const Bytes& bytes, From, const Tenant&, Bytes state) {
  auto request = decode_counter_request(bytes);
  if (!request) return CallOutcome::reply_with(error_reply(request.error()), std::move(state));
  auto counters = decode_state(state);
  // run() accepted this state, so only a bug gets here: crash the tenant (restart from the snapshot).
  if (!counters) return CallOutcome::stop(counters.error().detail, std::move(state));
  if (request->op == CounterRequest::Op::get) {
    const auto it = counters->find(request->name);
    return CallOutcome::reply_with(value_reply(request->name, it == counters->end() ? 0 : it->second), std::move(state));
  }
  if (request->op == CounterRequest::Op::list) {
    nlohmann::json all = nlohmann::json::object();
    for (const auto& [name, value] : *counters) all[name] = value;
    return CallOutcome::reply_with(to_bytes(nlohmann::json{{"counters", std::move(all)}}), std::move(state));
  }
  auto reply = apply_change(*request, *counters);
  if (!reply) return CallOutcome::reply_with(error_reply(reply.error()), std::move(state));
  auto out = CallOutcome::reply_with(std::move(*reply), encode_state(*counters));
  out.snapshot = true;
  return out;
}

}  // namespace plexus::tenants::modules
