// LocalTenants' public methods (local.hpp): find the actor, register the
// caller (answered exactly once: by the tenant, or by the shared timer at its
// deadline), post the command to the actor's strand.
#include "plexus/tenants/local.hpp"

#include <asio/post.hpp>

#include "plexus/tenants/local_host.hpp"

namespace plexus::tenants {

struct LocalTenants::State : local_detail::Host {
  using Host::Host;
};

using local_detail::Actor;
using local_detail::Host;
using local_detail::Waiting;

namespace local_detail {

Result<void> Host::wait_for(const std::shared_ptr<Actor>& actor, Waiting& waiting) {
  const Time deadline = waiting.deadline;
  {
    std::lock_guard lock(lock_of(actor.get()));
    if (actor->waiting.size() >= options.pending_max) {
      return make_error(errc::mailbox_full, std::to_string(actor->waiting.size()) +
                                                " callers waiting for tenant '" + actor->id +
                                                "' (LocalOptions::pending_max)");
    }
    actor->waiting.push_back(std::move(waiting));
  }
  wake(actor, deadline);
  return {};
}

void Host::fail(Waiting& waiting, Error error) {
  if (waiting.call_done) {
    calls.fetch_add(1, std::memory_order_relaxed);
    if (is(error, errc::timeout)) calls_timed_out.fetch_add(1, std::memory_order_relaxed);
    return waiting.call_done(std::move(error));
  }
  if (waiting.command_done) waiting.command_done(std::move(error));
}

void Host::answer(Actor& actor, std::uint64_t id, const Reply& reply) {
  Waiting found;
  {
    std::lock_guard lock(lock_of(&actor));
    auto& list = actor.waiting;
    auto it = std::find_if(list.begin(), list.end(), [&](const Waiting& w) { return w.id == id; });
    if (it == list.end()) return;  // answered already (timed out by the host)
    found = std::move(*it);
    *it = std::move(list.back());
    list.pop_back();
    if (list.empty()) std::vector<Waiting>().swap(list);  // an idle tenant keeps no capacity
  }
  if (reply.kind == Reply::Kind::error) return fail(found, reply.error);
  if (found.command_done) return found.command_done(reply.kind);
  if (!found.call_done) return;
  calls.fetch_add(1, std::memory_order_relaxed);
  const auto us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock.now() - found.submitted).count());
  latency_sum_us.fetch_add(us, std::memory_order_relaxed);
  std::size_t bucket = 0;
  while (bucket < std::size(call_latency_bounds_us) && us > call_latency_bounds_us[bucket]) ++bucket;
  latency[bucket].fetch_add(1, std::memory_order_relaxed);
  found.call_done(reply.value);
}

void Host::answer_error(Actor& actor, std::uint64_t id, Error error) {
  answer(actor, id, Reply{id, Reply::Kind::error, {}, std::move(error)});
}

void Host::finish_waiting(Actor& actor, std::uint64_t stop_call) {
  std::vector<Waiting> left;
  {
    std::lock_guard lock(lock_of(&actor));
    left.swap(actor.waiting);
  }
  for (auto& waiting : left) {
    if (waiting.id == stop_call && waiting.command_done) {
      waiting.command_done(Reply::Kind::ok);
    } else {
      fail(waiting, make_error(errc::stopped, "tenant '" + actor.id + "' left this node"));
    }
  }
}

void Host::emit(const LocalEvent& event) {
  EventSink copy;
  {
    std::lock_guard lock(sink_mutex);
    copy = sink;
  }
  if (copy) copy(event);
}

void Host::remove(const std::shared_ptr<Actor>& actor) {
  std::unique_lock lock(map_mutex);
  auto it = actors.find(actor->id);
  if (it != actors.end() && it->second == actor) actors.erase(it);
}

}  // namespace local_detail

namespace {

Result<void> check(const LocalOptions& o) {
  auto bad = [](std::string what) { return make_error(errc::invalid_argument, "LocalOptions::" + what); };
  if (o.node.empty()) return bad("node is empty");
  if (o.tenants_max == 0) return bad("tenants_max is 0");
  if (o.store_batch_max == 0) return bad("store_batch_max is 0");
  if (o.store_queue_max == 0) return bad("store_queue_max is 0");
  if (o.pending_max == 0) return bad("pending_max is 0");
  if (o.lease_ttl.count() <= 0) return bad("lease_ttl must be positive");
  if (o.lease_renew_interval.count() <= 0 || o.lease_renew_interval >= o.lease_ttl) {
    return bad("lease_renew_interval must be positive and under lease_ttl");
  }
  return {};
}

Error not_here(const std::string& id) { return make_error(errc::tenant_not_found, "tenant '" + id + "' is not on this node"); }

}  // namespace

Result<std::unique_ptr<LocalTenants>> LocalTenants::create(asio::any_io_executor pool,
                                                           std::shared_ptr<store::Database> database,
                                                           const ModuleRegistry& modules, LocalOptions options,
                                                           const Clock& clock) {
  if (auto ok = check(options); !ok) return ok.error();
  if (!database) return make_error(errc::invalid_argument, "LocalTenants: database is null");
  const auto* workers = pool.target<asio::thread_pool::executor_type>();
  if (workers == nullptr) return make_error(errc::invalid_argument, "LocalTenants: pool is not an asio::thread_pool's executor");
  auto state = std::make_shared<State>(*workers, std::move(database), modules, std::move(options), clock);
  state->start_renewals();
  return std::unique_ptr<LocalTenants>(new LocalTenants(std::move(state)));
}

LocalTenants::LocalTenants(std::shared_ptr<State> state) : state_(std::move(state)) {}

LocalTenants::~LocalTenants() {
  state_->closing.store(true);
  {
    std::lock_guard lock(state_->timer_mutex);
    state_->timer.cancel();
    state_->renew_timer.cancel();
  }
  std::unordered_map<std::string_view, std::shared_ptr<Actor>> gone;
  {
    std::unique_lock lock(state_->map_mutex);
    gone.swap(state_->actors);
  }
}

namespace {

std::shared_ptr<Actor> find(const Host& host, const std::string& id) {
  std::shared_lock lock(host.map_mutex);
  auto it = host.actors.find(id);
  return it == host.actors.end() ? nullptr : it->second;
}

/// Registers a caller of `actor` and posts `body(actor, call)` to its strand;
/// the caller hears the error at once when it cannot wait.
template <class Body>
void submit(Host& host, const std::shared_ptr<Actor>& actor, Waiting waiting, Body body) {
  const std::uint64_t call = host.next_id.fetch_add(1, std::memory_order_relaxed);
  waiting.id = call;
  waiting.submitted = host.clock.now();
  auto refuse = [&](Error error) { host.fail(waiting, std::move(error)); };
  if (!actor) return;
  if (auto ok = host.wait_for(actor, waiting); !ok) return refuse(ok.error());
  asio::post(actor->strand, [actor, call, body = std::move(body)]() mutable {
    Host& h = *actor->host;
    if (actor->ended) return h.answer_error(*actor, call, make_error(errc::stopped, "tenant '" + actor->id + "' stopped here"));
    if (!actor->core) return h.answer_error(*actor, call, make_error(errc::unavailable, "tenant '" + actor->id + "' is still starting here"));
    body(*actor->core, call, h.clock.now());
    local_detail::pump(actor);
  });
}

Waiting command(Time deadline, CommandDone done) {
  Waiting waiting;
  waiting.deadline = deadline;
  waiting.command_done = std::move(done);
  return waiting;
}

}  // namespace

void LocalTenants::start(Tenant tenant, StartMode mode, Time deadline, CommandDone done) {
  Host& host = *state_;
  if (auto valid = store::validate_tenant_id(tenant.id); !valid) {
    return done(make_error(errc::invalid_argument, "id: " + valid.error().message()));
  }
  auto module = host.modules.find(tenant.module);
  if (!module) return done(module.error());
  auto actor = std::make_shared<Actor>(state_, std::move(tenant), *module);
  {
    std::unique_lock lock(host.map_mutex);
    if (host.actors.size() >= host.options.tenants_max) {
      return done(make_error(errc::unavailable, std::to_string(host.actors.size()) +
                                                    " tenants on this node (LocalOptions::tenants_max)"));
    }
    if (!host.actors.emplace(std::string_view(actor->id), actor).second) {
      return done(make_error(errc::already_exists, "tenant '" + actor->id + "' is already on this node"));
    }
  }
  const std::uint64_t call = host.next_id.fetch_add(1, std::memory_order_relaxed);
  Waiting waiting = command(deadline, std::move(done));
  waiting.id = call;
  waiting.submitted = host.clock.now();
  (void)host.wait_for(actor, waiting);  // a new actor has room
  asio::post(host.pool, [actor, mode, call, deadline] {
    Host& h = *actor->host;
    auto opened = local_detail::open_tenant(h.directory, actor->id, h.options.node, h.options.lease_ttl,
                                            mode == StartMode::resume);
    asio::post(actor->strand, [actor, opened = std::move(opened), mode, call, deadline]() mutable {
      local_detail::begin(actor, std::move(opened), mode, call, deadline);
    });
  });
}

void LocalTenants::update(const std::string& id, Config next, std::uint64_t generation, Time deadline, CommandDone done) {
  auto actor = find(*state_, id);
  if (!actor) return done(not_here(id));
  if (actor->stopping.load()) return done(make_error(errc::unavailable, "tenant '" + id + "' is stopping on this node"));
  submit(*state_, actor, command(deadline, std::move(done)),
         [next = std::move(next), generation, deadline](Lifecycle& core, std::uint64_t call, Time now) mutable {
           core.update(std::move(next), generation, call, deadline, now);
         });
}

void LocalTenants::uninstall(const std::string& id, Time deadline, CommandDone done) {
  auto actor = find(*state_, id);
  if (!actor) return done(not_here(id));
  if (actor->stopping.load()) return done(make_error(errc::unavailable, "tenant '" + id + "' is stopping on this node"));
  submit(*state_, actor, command(deadline, std::move(done)),
         [deadline](Lifecycle& core, std::uint64_t call, Time now) { core.uninstall(call, deadline, now); });
}

void LocalTenants::call(const std::string& id, Bytes request, Time deadline, CallDone done) {
  auto actor = find(*state_, id);
  if (!actor) return done(not_here(id));
  if (actor->stopping.load()) return done(make_error(errc::stopped, "tenant '" + id + "' is stopping on this node"));
  Waiting waiting;
  waiting.deadline = deadline;
  waiting.call_done = std::move(done);
  submit(*state_, actor, std::move(waiting),
         [request = std::move(request), deadline](Lifecycle& core, std::uint64_t call, Time now) mutable {
           core.call(std::move(request), call, deadline, now);
         });
}

namespace {
template <class Body>
void post_to(Host& host, const std::string& id, Body body) {
  auto actor = find(host, id);
  if (!actor) return;
  asio::post(actor->strand, [actor, body = std::move(body)]() mutable {
    if (!actor->core || actor->ended) return;
    body(*actor->core, actor->host->clock.now());
    local_detail::pump(actor);
  });
}
}  // namespace

void LocalTenants::cast(const std::string& id, Bytes request) {
  post_to(*state_, id, [r = std::move(request)](Lifecycle& core, Time now) mutable { core.cast(std::move(r), now); });
}
void LocalTenants::info(const std::string& id, Bytes message) {
  post_to(*state_, id, [m = std::move(message)](Lifecycle& core, Time now) mutable { core.info(std::move(m), now); });
}
void LocalTenants::answer(const std::string& id, From to, Bytes reply) {
  post_to(*state_, id, [to, r = std::move(reply)](Lifecycle& core, Time now) mutable { core.answer(to, std::move(r), now); });
}
void LocalTenants::ack_event(const std::string& id, std::uint64_t seq) {
  post_to(*state_, id, [seq](Lifecycle& core, Time now) { core.on_event_acked(seq, now); });
}

void LocalTenants::stop(const std::string& id, std::string reason, Time deadline, CommandDone done) {
  Host& host = *state_;
  auto actor = find(host, id);
  if (!actor) return done(not_here(id));
  if (actor->stopping.exchange(true)) return done(make_error(errc::unavailable, "tenant '" + id + "' is already stopping"));
  const std::uint64_t call = host.next_id.fetch_add(1, std::memory_order_relaxed);
  Waiting waiting = command(deadline, std::move(done));
  waiting.id = call;
  waiting.submitted = host.clock.now();
  if (auto ok = host.wait_for(actor, waiting); !ok) return host.fail(waiting, ok.error());
  asio::post(actor->strand, [actor, call, reason = std::move(reason)]() mutable {
    local_detail::begin_stop(actor, call, std::move(reason));
  });
}

void LocalTenants::subscribe(EventSink sink) {
  std::lock_guard lock(state_->sink_mutex);
  state_->sink = std::move(sink);
}

namespace {
LocalStatus status_of(Host& host, const Actor& actor) {
  LocalStatus out;
  out.id = actor.id;
  out.module = actor.module->name();
  out.status = static_cast<Status>(actor.status.load(std::memory_order_relaxed));
  out.parked = actor.parked.load(std::memory_order_relaxed);
  out.stopping = actor.stopping.load(std::memory_order_relaxed);
  out.generation = actor.generation.load(std::memory_order_relaxed);
  out.epoch = actor.epoch.load(std::memory_order_relaxed);
  std::lock_guard lock(host.lock_of(&actor));
  if (actor.published) {
    out.last_error = actor.published->last_error;
    out.counters = actor.published->counters;
  }
  return out;
}
}  // namespace

Result<LocalStatus> LocalTenants::status(const std::string& id) const {
  auto actor = find(*state_, id);
  if (!actor) return not_here(id);
  return status_of(*state_, *actor);
}

std::vector<LocalStatus> LocalTenants::list() const {
  std::vector<std::shared_ptr<Actor>> all;
  {
    std::shared_lock lock(state_->map_mutex);
    all.reserve(state_->actors.size());
    for (const auto& [id, actor] : state_->actors) all.push_back(actor);
  }
  std::vector<LocalStatus> out;
  out.reserve(all.size());
  for (const auto& actor : all) out.push_back(status_of(*state_, *actor));
  return out;
}

LocalCounters LocalTenants::counters() const {
  LocalCounters out;
  for (const auto& s : list()) {
    ++out.by_module_status[s.module][std::string(status_name(s.status))];
    out.restarts += s.counters.restarts;
    out.crashes += s.counters.crashes;
  }
  const Host& host = *state_;
  out.calls = host.calls.load();
  out.calls_timed_out = host.calls_timed_out.load();
  out.fenced = host.fenced.load();
  out.snapshots_written = host.snapshots_written.load();
  out.store_batches = host.store_batches.load();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < std::size(call_latency_bounds_us); ++i) {
    cumulative += host.latency[i].load();
    out.call_latency_le_us.emplace_back(call_latency_bounds_us[i], cumulative);
  }
  out.call_latency_sum_us = host.latency_sum_us.load();
  return out;
}

std::size_t LocalTenants::size() const {
  std::shared_lock lock(state_->map_mutex);
  return state_->actors.size();
}

const LocalOptions& LocalTenants::options() const { return state_->options; }

}  // namespace plexus::tenants
