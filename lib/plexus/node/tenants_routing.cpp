// TenantsHost's wire: calls, casts and lifecycle-outcome waits routed to a
// tenant's owner over the peer service (server `tenants.call` on the
// `_tenants` channel), and the reads that describe tenants.
//
// A message is one JSON header line, '\n', then the raw body (request or
// reply bytes, which modules encode as they like):
//   {"k":"call","c":CORR,"t":TENANT,"d":MS_LEFT}\n<request>
//   {"k":"cast","t":TENANT}\n<request>
//   {"k":"reply","c":CORR[,"e":CODE,"m":DETAIL]}\n<reply>
//   {"k":"await","c":CORR,"t":TENANT,"g":GENERATION,"d":MS_LEFT}
//   {"k":"outcome","c":CORR,"o":"ok"|"async"|"error"[,"e":CODE,"m":DETAIL]}
// A caller whose owner answers `unavailable` (the tenant is not running
// there: not started yet, or being handed off) or cannot be reached tries
// again, on the owner of its current view, until the call's deadline.
#include <spdlog/spdlog.h>

#include <asio/post.hpp>

#include <functional>

#include "plexus/core/errors.hpp"
#include "plexus/node/tenants_host.hpp"
#include "plexus/tenants/errors.hpp"

namespace plexus::node {

namespace te = tenants;
using nlohmann::json;

struct TenantsHost::Routing {
  struct Pending {
    std::function<void(const json& header, std::string body)> on_reply;
    std::shared_ptr<asio::steady_timer> timer;
  };
  struct Waiter {
    std::uint64_t generation = 0;
    std::function<void(LifecycleOutcome)> fn;
    std::shared_ptr<asio::steady_timer> timer;
  };
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, Pending> pending;           ///< caller side: waiting for a reply or outcome
  std::multimap<std::string, Waiter> waiters;         ///< owner side: outcome waits by tenant
};

namespace {

constexpr std::string_view server = "tenants.call";
constexpr auto retry_delay = std::chrono::milliseconds(10);

std::vector<std::uint8_t> frame(const json& header, std::string_view body = {}) {
  const auto text = header.dump();
  std::vector<std::uint8_t> out(text.begin(), text.end());
  out.push_back('\n');
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// unavailable: not running there (not yet, or handed off); stopped: its
// intake closed for a handoff (LocalTenants::stop), so the call never ran.
bool retryable(const Error& error) {
  return te::is(error, te::errc::unavailable) || te::is(error, te::errc::stopped) || error.code == make_error_code(errc::not_connected) ||
         error.code == make_error_code(errc::partitioned);
}

json error_fields(const Error& error) {
  const bool ours = error.code.category() == te::tenants_category();
  return {{"e", ours ? std::string(te::errc_name(static_cast<te::errc>(error.code.value()))) : "unavailable"},
          {"m", error.detail.empty() ? error.message() : error.detail}};
}

Error error_from(const json& header) {
  const auto code = header.value("e", std::string("unavailable"));
  for (int c = 1; c <= int(te::errc::conflict); ++c) {
    if (te::errc_name(te::errc(c)) == code) return te::make_error(te::errc(c), header.value("m", std::string()));
  }
  return te::make_error(te::errc::unavailable, header.value("m", std::string()));
}

std::chrono::milliseconds left(TenantsHost::Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    deadline - TenantsHost::Clock::now()));
}

}  // namespace

Result<void> TenantsHost::start_routing() {
  routing_ = std::make_shared<Routing>();
  peer::ServerOptions options;
  options.placement = peer::ServerOptions::Placement::service_executor;
  std::weak_ptr<TenantsHost> weak = weak_from_this();
  return peer_->register_server(std::string(server), [weak](const peer::Received& r) {
    if (auto self = weak.lock()) self->on_wire(r.from, r.payload);
  }, options);
}

void TenantsHost::record_call(Clock::time_point began, const Result<std::string>& result) {
  const auto us = std::uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - began).count());
  ++counters_.calls_total;
  counters_.call_latency_sum_us += us;
  std::uint64_t bound = 0;  // 0: +Inf
  for (const auto b : tenant_call_latency_bounds_us) {
    if (us <= b) {
      bound = b;
      break;
    }
  }
  ++counters_.call_latency_us[bound];
  if (!result) {
    const auto& e = result.error();
    ++counters_.call_errors[e.code.category() == te::tenants_category()
                                ? std::string(te::errc_name(static_cast<te::errc>(e.code.value())))
                                : "other"];
  }
}

// One routed call: an attempt on the owner of the current view; on a
// retryable error the next attempt after retry_delay, until the deadline.
// Timers and reply handlers hold it; it holds nothing of its own (no cycle).
struct TenantsHost::CallAttempt : std::enable_shared_from_this<CallAttempt> {
  std::weak_ptr<TenantsHost> host;
  std::string id;
  std::string request;
  Clock::time_point deadline;
  Clock::time_point began;
  CallDone done;
  bool finished = false;

  void finish(Result<std::string> result) {
    if (finished) return;
    finished = true;
    if (auto self = host.lock()) self->record_call(began, result);
    done(std::move(result));
  }
  void retry(TenantsHost& self, Error error) {
    if (Clock::now() + retry_delay >= deadline) {
      if (te::is(error, te::errc::unavailable)) {
        error = te::make_error(te::errc::timeout, "no owner answered before the deadline (last: " + error.detail + ")");
      }
      return finish(std::move(error));
    }
    ++self.counters_.call_retries;
    auto timer = std::make_shared<asio::steady_timer>(self.io_, retry_delay);
    timer->async_wait([timer, me = shared_from_this()](const std::error_code&) { me->run(); });
  }
  void answered(Result<std::string> result) {
    auto self = host.lock();
    if (self && !result && retryable(result.error())) return retry(*self, result.error());
    finish(std::move(result));
  }
  void run();
  void send(TenantsHost& self, const std::string& owner);
};

void TenantsHost::CallAttempt::run() {
  auto self = host.lock();
  if (!self || self->stopped_) return finish(te::make_error(te::errc::unavailable, "the node is stopping"));
  const auto tenant = self->find(id);
  if (!tenant || tenant->record.desired != te::Desired::running) {
    return finish(te::make_error(te::errc::tenant_not_found, "no tenant '" + id + "' is installed"));
  }
  const auto owner = self->owner_of(id);
  if (!owner) return retry(*self, te::make_error(te::errc::unavailable, "no up node hosts module " + tenant->record.module));
  if (*owner != self->peer_->spec().name) return send(*self, *owner);
  ++self->counters_.calls_local;
  if (!self->runner_ || !self->runner_->running().contains(id)) {
    return retry(*self, te::make_error(te::errc::unavailable, "not running on its owner " + *owner + " yet"));
  }
  self->runner_->call(id, request, deadline, [me = shared_from_this(), io = &self->io_](Result<std::string> r) {
    asio::post(*io, [me, r = std::move(r)]() mutable { me->answered(std::move(r)); });
  });
}

void TenantsHost::CallAttempt::send(TenantsHost& self, const std::string& owner) {
  ++self.counters_.calls_remote;
  if (self.routing_->pending.size() >= self.settings_.calls_pending_max) {
    return finish(te::make_error(te::errc::unavailable, "--tenant-calls-pending-max calls already wait for a reply"));
  }
  const auto corr = self.routing_->next_id++;
  auto timer = std::make_shared<asio::steady_timer>(self.io_, deadline);
  self.routing_->pending[corr] = Routing::Pending{[me = shared_from_this()](const json& header, std::string body) {
    me->answered(header.contains("e") ? Result<std::string>(error_from(header)) : Result<std::string>(std::move(body)));
  }, timer};
  timer->async_wait([weak = host, corr, me = shared_from_this()](const std::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->routing_->pending.erase(corr) == 0) return;
    me->finish(te::make_error(te::errc::timeout, "no reply before the deadline"));
  });
  peer::ForwardOptions options;
  options.channel = self.settings_.channel;
  options.partition_key = 1 + std::hash<std::string>{}(id) % 3;
  const json header{{"k", "call"}, {"c", corr}, {"t", id}, {"d", left(deadline).count()}};
  if (auto sent = self.peer_->forward_message(owner, std::string(server), frame(header, request), options); !sent) {
    self.routing_->pending.erase(corr);
    timer->cancel();
    retry(self, te::make_error(te::errc::unavailable, "owner " + owner + ": " + sent.error().message()));
  }
}

void TenantsHost::call(const std::string& id, std::string request, Clock::time_point deadline, CallDone done) {
  auto attempt = std::make_shared<CallAttempt>();
  attempt->host = weak_from_this();
  attempt->id = id;
  attempt->request = std::move(request);
  attempt->deadline = deadline;
  attempt->began = Clock::now();
  attempt->done = std::move(done);
  attempt->run();
}

Result<void> TenantsHost::cast(const std::string& id, std::string request) {
  const auto tenant = find(id);
  if (!tenant || tenant->record.desired != te::Desired::running) {
    return te::make_error(te::errc::tenant_not_found, "no tenant '" + id + "' is installed");
  }
  const auto owner = owner_of(id);
  if (!owner) return te::make_error(te::errc::unavailable, "no up node hosts module " + tenant->record.module);
  if (*owner == peer_->spec().name) {
    if (!runner_ || !runner_->running().contains(id)) return te::make_error(te::errc::unavailable, "not running here yet");
    runner_->cast(id, std::move(request));
    return {};
  }
  peer::ForwardOptions options;
  options.channel = settings_.channel;
  options.partition_key = 1 + std::hash<std::string>{}(id) % 3;
  if (auto sent = peer_->forward_message(*owner, std::string(server), frame({{"k", "cast"}, {"t", id}}, request), options);
      !sent) {
    return te::make_error(te::errc::unavailable, "owner " + *owner + ": " + sent.error().message());
  }
  return {};
}

// Owner side: register a wait for `id`'s outcome at `generation` or later.
static void add_waiter(TenantsHost::Routing& routing, asio::io_context& io, const std::string& id,
                       std::uint64_t generation, TenantsHost::Clock::time_point deadline,
                       std::function<void(LifecycleOutcome)> fn) {
  auto timer = std::make_shared<asio::steady_timer>(io, deadline);
  auto it = routing.waiters.emplace(id, TenantsHost::Routing::Waiter{generation, std::move(fn), timer});
  timer->async_wait([&routing, it, timer](const std::error_code& ec) {
    if (ec) return;
    auto fn = std::move(it->second.fn);
    routing.waiters.erase(it);
    fn(LifecycleOutcome{LifecycleOutcome::Kind::async, {}});
  });
}

void TenantsHost::await_outcome(const std::string& id, std::uint64_t generation, Clock::time_point deadline, Done done) {
  const auto tenant = find(id);
  const auto all = members();
  std::optional<std::string> owner;
  if (tenant) owner = te::placed_owner(id, tenant->record.module, all);
  if (auto ran = running_on(id)) owner = ran;  // an uninstall is carried out where it runs
  if (!owner || *owner == peer_->spec().name) {
    if (auto it = outcomes_.find(id); it != outcomes_.end() && it->second.first >= generation) {
      return done(it->second.second);
    }
    return add_waiter(*routing_, io_, id, generation, deadline, std::move(done));
  }
  const auto corr = routing_->next_id++;
  auto timer = std::make_shared<asio::steady_timer>(io_, deadline);
  routing_->pending[corr] = Routing::Pending{[done](const json& header, std::string) {
    LifecycleOutcome result;
    const auto kind = header.value("o", std::string("async"));
    result.kind = kind == "ok" ? LifecycleOutcome::Kind::ok
                  : kind == "error" ? LifecycleOutcome::Kind::error : LifecycleOutcome::Kind::async;
    if (result.kind == LifecycleOutcome::Kind::error) result.error = error_from(header);
    done(std::move(result));
  }, timer};
  timer->async_wait([weak = weak_from_this(), corr, done](const std::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->routing_->pending.erase(corr) == 0) return;
    done(LifecycleOutcome{LifecycleOutcome::Kind::async, {}});
  });
  peer::ForwardOptions options;
  options.channel = settings_.channel;
  options.partition_key = 0;  // after the registry entries it follows
  const json header{{"k", "await"}, {"c", corr}, {"t", id}, {"g", generation}, {"d", left(deadline).count()}};
  (void)peer_->forward_message(*owner, std::string(server), frame(header), options);
}

void TenantsHost::outcome(const std::string& id, std::uint64_t generation, LifecycleOutcome result) {
  // Runner callbacks may come from any thread.
  asio::post(io_, [weak = weak_from_this(), id, generation, result = std::move(result)] {
    auto self = weak.lock();
    if (!self || !self->routing_) return;
    if (result.kind == LifecycleOutcome::Kind::error) {
      spdlog::warn("tenant {}: generation {}: {}", id, generation, result.error.detail);
    }
    auto& last = self->outcomes_[id];
    if (last.first <= generation) last = {generation, result};
    auto [begin, end] = self->routing_->waiters.equal_range(id);
    std::vector<std::function<void(LifecycleOutcome)>> ready;
    for (auto it = begin; it != end;) {
      if (it->second.generation > generation) {
        ++it;
        continue;
      }
      it->second.timer->cancel();
      ready.push_back(std::move(it->second.fn));
      it = self->routing_->waiters.erase(it);
    }
    for (auto& fn : ready) fn(result);
    self->core().set_running(self->runner_ ? self->runner_->running() : std::set<std::string, std::less<>>{});
    self->drain();
  });
}

void TenantsHost::on_wire(const std::string& from, const std::vector<std::uint8_t>& payload) {
  if (stopped_) return;
  const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  const auto newline = text.find('\n');
  json header;
  try {
    header = json::parse(text.substr(0, newline));
    std::string body(newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1));
    const auto kind = header.at("k").get<std::string>();
    peer::ForwardOptions options;
    options.channel = settings_.channel;
    if (kind == "reply" || kind == "outcome") {
      auto it = routing_->pending.find(header.at("c").get<std::uint64_t>());
      if (it == routing_->pending.end()) return;  // answered after its deadline
      auto pending = std::move(it->second);
      routing_->pending.erase(it);
      pending.timer->cancel();
      return pending.on_reply(header, std::move(body));
    }
    const auto id = header.at("t").get<std::string>();
    options.partition_key = 1 + std::hash<std::string>{}(id) % 3;
    if (kind == "cast") {
      if (runner_ && runner_->running().contains(id)) runner_->cast(id, std::move(body));
      return;
    }
    const auto corr = header.at("c").get<std::uint64_t>();
    const auto deadline = Clock::now() + std::chrono::milliseconds(header.at("d").get<std::int64_t>());
    auto answer = [weak = weak_from_this(), from, options](json reply, std::string reply_body) {
      auto self = weak.lock();
      if (!self) return;
      (void)self->peer_->forward_message(from, std::string(server), frame(reply, reply_body), options);
    };
    if (kind == "await") {
      const auto generation = header.at("g").get<std::uint64_t>();
      auto reply = [answer, corr](LifecycleOutcome result) {
        json out{{"k", "outcome"}, {"c", corr}, {"o", outcome_name(result.kind)}};
        if (result.kind == LifecycleOutcome::Kind::error) out.update(error_fields(result.error));
        answer(std::move(out), {});
      };
      if (auto it = outcomes_.find(id); it != outcomes_.end() && it->second.first >= generation) {
        return reply(it->second.second);
      }
      return add_waiter(*routing_, io_, id, generation, deadline, std::move(reply));
    }
    if (kind != "call") throw std::invalid_argument("unknown kind '" + kind + "'");
    ++counters_.calls_served;
    if (!runner_ || !runner_->running().contains(id)) {
      return answer(json{{"k", "reply"}, {"c", corr}, {"e", "unavailable"}, {"m", "not running on " + peer_->spec().name}}, {});
    }
    runner_->call(id, std::move(body), deadline, [io = &io_, answer, corr](Result<std::string> r) {
      asio::post(*io, [answer, corr, r = std::move(r)]() mutable {
        json out{{"k", "reply"}, {"c", corr}};
        if (!r) out.update(error_fields(r.error()));
        answer(std::move(out), r ? std::move(*r) : std::string());
      });
    });
  } catch (const std::exception& error) {
    spdlog::error("tenants: bad message from {}: {}", from, error.what());
  }
}

json TenantsHost::describe(const te::Registered& tenant) const {
  json out{{"id", tenant.id},
           {"module", tenant.record.module},
           {"config", tenant.record.config.config},
           {"capabilities", tenant.record.config.capabilities},
           {"desired", tenant.record.desired == te::Desired::running ? "running" : "uninstalled"},
           {"generation", tenant.generation}};
  const auto owner = owner_of(tenant.id);
  out["owner"] = owner ? json(*owner) : json(nullptr);
  const auto ran = running_on(tenant.id);
  out["running_on"] = ran ? json(*ran) : json(nullptr);
  if (runner_ && ran && *ran == peer_->spec().name) out["local"] = runner_->status(tenant.id);
  return out;
}

json TenantsHost::nodes_json() const {
  json out = json::array();
  for (const auto& member : members()) {
    json running = json::array();
    if (member.name == peer_->spec().name) {
      for (const auto& id : core().self().running) running.push_back(id);
    } else if (auto it = core().announced().find(member.name); it != core().announced().end()) {
      for (const auto& id : it->second.running) running.push_back(id);
    }
    out.push_back({{"name", member.name}, {"up", member.up}, {"modules", member.modules}, {"running", running}});
  }
  return out;
}

}  // namespace plexus::node

namespace plexus::node {

// Timers' handlers then run aborted and touch nothing.
void TenantsHost::cancel_routing() {
  for (auto& [corr, pending] : routing_->pending) pending.timer->cancel();
  for (auto& [id, waiter] : routing_->waiters) waiter.timer->cancel();
}

}  // namespace plexus::node
