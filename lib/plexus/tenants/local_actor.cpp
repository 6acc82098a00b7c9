// The strand side of a LocalTenants actor: drives the tenant's Lifecycle —
// runs the callback it asks for (catching everything a module throws), posts
// async work to the pool, writes snapshots under the fence before the
// replies of the same output go out, and ends the tenant (release or clear).
#include <asio/post.hpp>

#include "plexus/tenants/local_host.hpp"

namespace plexus::tenants::local_detail {
namespace {

/// Callbacks one pump runs before it yields the strand to other work.
constexpr int pump_steps_max = 64;

/// Built field by field (GCC 12 -O3 warns, wrongly, on the aggregate form).
LocalEvent host_event(LocalEvent::Kind kind, const std::string& tenant) {
  LocalEvent event;
  event.kind = kind;
  event.tenant = tenant;
  return event;
}

void execute(Actor& a, const Invoke& what) {
  Lifecycle& core = *a.core;
  const Tenant& tenant = core.tenant();
  Module& module = *a.module;
  const Clock& clock = a.host->clock;
  try {
    switch (what.callback) {
      case Callback::install: return core.on_outcome(module.install(tenant), clock.now());
      case Callback::run: return core.on_run(module.run(tenant, what.state), clock.now());
      case Callback::update: return core.on_outcome(module.update(what.next.value(), tenant, what.state), clock.now());
      case Callback::uninstall: return core.on_outcome(module.uninstall(tenant, what.state), clock.now());
      case Callback::call: return core.on_call(module.call(what.arg, what.from, tenant, what.state), clock.now());
      case Callback::cast: return core.on_message(module.cast(what.arg, tenant, what.state), clock.now());
      case Callback::info:
        return core.on_message(module.info(Info{what.timeout, what.arg}, tenant, what.state), clock.now());
      case Callback::on_continue: return core.on_message(module.on_continue(what.arg, tenant, what.state), clock.now());
      case Callback::terminate:
        module.terminate(what.reason, tenant, what.state);
        return core.on_terminated(clock.now());
    }
  } catch (const std::exception& error) {
    core.on_threw(error.what(), clock.now());
  } catch (...) {
    core.on_threw("a non-standard exception", clock.now());
  }
}

void start_async(const std::shared_ptr<Actor>& a, StartAsync start) {
  asio::post(a->host->pool, [a, id = start.id, work = std::move(start.work)] {
    AsyncResult result;
    try {
      result = work();
    } catch (const std::exception& error) {
      result = AsyncResult::failure(std::string("async work threw: ") + error.what());
    } catch (...) {
      result = AsyncResult::failure("async work threw a non-standard exception");
    }
    asio::post(a->strand, [a, id, result = std::move(result)]() mutable {
      if (!a->core || a->ended) return;
      a->core->on_async_done(id, std::move(result), a->host->clock.now());
      pump(a);
    });
  });
}

void deliver(Actor& a, std::vector<Reply>& replies) {
  for (const auto& reply : replies) a.host->answer(a, reply.call, reply);
  replies.clear();
}

void fail_held(Actor& a, std::vector<Reply>& replies, const std::string& why) {
  for (const auto& reply : replies) a.host->answer_error(a, reply.call, make_error(errc::stopped, why));
  replies.clear();
}

void finish_end(const std::shared_ptr<Actor>& a);
void written(const std::shared_ptr<Actor>& a, Result<void> result);

void start_write(const std::shared_ptr<Actor>& a, Bytes state) {
  FencedWrite write;
  write.kind = WriteKind::snapshot;
  write.prefix = a->prefix;
  write.lease = lease_of(*a);
  write.state = std::move(state);
  write.done = [a](Result<void> result) {
    asio::post(a->strand, [a, result = std::move(result)]() mutable { written(a, std::move(result)); });
  };
  a->host->enqueue(std::move(write));
}

void written(const std::shared_ptr<Actor>& a, Result<void> result) {
  if (!result) return fail_stop(a, (is(result.error(), errc::fenced) ? "fenced: " : "store: ") + result.error().message());
  a->host->snapshots_written.fetch_add(1, std::memory_order_relaxed);
  if (a->refused || !a->persist) return;  // a write that was in flight when another one was refused
  Persist& p = *a->persist;
  deliver(*a, p.held_now);
  if (p.queued) {
    p.held_now = std::move(p.held_next);
    p.held_next.clear();
    Bytes next = std::move(*p.queued);
    p.queued.reset();
    return start_write(a, std::move(next));
  }
  a->persist.reset();
  if (a->ended) finish_end(a);
}

/// Snapshots first, then the replies of the same output (and of any later one).
void persist_output(const std::shared_ptr<Actor>& a, LifecycleOutput& out) {
  if (a->refused) {
    // Nothing more is written after a refused write: replies that needed it fail.
    if (!out.snapshots.empty()) return fail_held(*a, out.replies, "tenant stopped: " + reason_of(*a));
    return deliver(*a, out.replies);
  }
  if (!out.snapshots.empty()) {
    if (!a->persist) a->persist = std::make_unique<Persist>();
    Persist& p = *a->persist;
    auto& held = p.writing ? p.held_next : p.held_now;
    held.insert(held.end(), std::make_move_iterator(out.replies.begin()), std::make_move_iterator(out.replies.end()));
    if (p.writing) {
      p.queued = std::move(out.snapshots.back());
      return;
    }
    p.writing = true;
    return start_write(a, std::move(out.snapshots.back()));
  }
  if (a->persist) {
    auto& held = a->persist->queued ? a->persist->held_next : a->persist->held_now;
    held.insert(held.end(), std::make_move_iterator(out.replies.begin()), std::make_move_iterator(out.replies.end()));
    return;
  }
  deliver(*a, out.replies);
}

/// Publishes a status change (and emits it) at once: every transition is seen.
void publish_status(const std::shared_ptr<Actor>& a) {
  a->parked.store(a->core->parked(), std::memory_order_relaxed);
  a->generation.store(a->core->tenant().generation, std::memory_order_relaxed);
  const auto now = static_cast<std::uint8_t>(a->core->status());
  if (a->status.exchange(now, std::memory_order_relaxed) == now) return;
  LocalEvent event = host_event(LocalEvent::Kind::status, a->id);
  event.status = a->core->status();
  a->host->emit(event);
}

void publish(const std::shared_ptr<Actor>& a) {
  const Lifecycle& core = *a->core;
  const auto& c = core.counters();
  const bool quiet = core.last_error().empty() && c.restarts == 0 && c.crashes == 0 && c.calls_timed_out == 0 &&
                     c.event_retries == 0;
  if (!quiet || a->published) {
    std::lock_guard lock(a->host->lock_of(a.get()));
    if (!a->published) a->published = std::make_unique<Published>();
    if (a->published->last_error != core.last_error()) a->published->last_error = core.last_error();
    a->published->counters = c;
  }
  publish_status(a);  // last: a status event's reader sees the details too
}

/// Binds the tenant's key space for its module when its capabilities ask
/// for one (after the lease is taken: every run is fenced by it).
Result<void> bind_keyspace(const std::shared_ptr<Actor>& a) {
  Host& host = *a->host;
  auto capability = keyspace_capability(a->tenant->config.capabilities);
  if (!capability) return capability.error();
  if (!*capability || !host.options.keyspaces) return {};
  const KeySpaceCapability& wanted = **capability;
  if (wanted.datastore != host.options.datastore) {
    return make_error(errc::invalid_argument, "capabilities.keyspace.datastore: '" + wanted.datastore +
                                                  "' is not this node's tenant datastore '" + host.options.datastore + "'");
  }
  if (!wanted.context.empty()) {
    return make_error(errc::invalid_argument, "capabilities.keyspace.context: a key space through a named context ('" +
                                                  wanted.context + "') is not supported yet; leave it out");
  }
  std::weak_ptr<Actor> weak = a;
  host.options.keyspaces->bind(a->id, keyspace_runner(host.database, a->id, [weak]() -> std::optional<Lease> {
    if (auto actor = weak.lock()) return lease_of(*actor);
    return Lease{{}, -1, 0};  // the tenant left this host: no write may pass the fence
  }));
  return {};
}

/// The actor ends here: release (or, uninstalled, clear) the key space, then leave the host.
void finish_end(const std::shared_ptr<Actor>& a) {
  if (a->finished) return;
  if (a->host->options.keyspaces) a->host->options.keyspaces->unbind(a->id);
  a->finished = true;
  a->ended = true;
  a->stopping.store(true);
  a->leased.store(false);
  Host& host = *a->host;
  const bool uninstalled = a->core && a->core->status() == Status::uninstalled;
  std::string reason = uninstalled ? "uninstalled" : reason_of(*a);
  auto leave = [a, reason](Result<void> released) {
    a->host->remove(a);
    // A stop() hears ok only when the final snapshot and the release went through.
    Result<void> stop_outcome = released;
    if (stop_outcome && a->refused) stop_outcome = make_error(errc::fenced, "tenant '" + a->id + "': " + reason);
    a->host->finish_waiting(*a, a->stop_call, std::move(stop_outcome));
    LocalEvent event = host_event(LocalEvent::Kind::stopped, a->id);
    event.reason = reason;
    a->host->emit(event);
  };
  if (a->refused || a->prefix.empty()) return leave({});
  FencedWrite write;
  write.kind = uninstalled ? WriteKind::clear : WriteKind::release;
  write.prefix = a->prefix;
  write.lease = lease_of(*a);
  write.done = std::move(leave);
  host.enqueue(std::move(write));
}

void handle(const std::shared_ptr<Actor>& a, LifecycleOutput& out) {
  for (auto& event : out.events) {
    LocalEvent wrapped = host_event(LocalEvent::Kind::lifecycle, a->id);
    wrapped.event = std::move(event);
    a->host->emit(wrapped);
  }
  for (auto& start : out.async) start_async(a, std::move(start));
  persist_output(a, out);
  if (out.stopped) {
    a->ended = true;
    a->stopping.store(true);
    if (!a->persist) finish_end(a);  // else once the final snapshot is written
  }
}

}  // namespace

void pump(const std::shared_ptr<Actor>& a) {
  if (!a->core || a->ended) return;
  for (int step = 0; step < pump_steps_max; ++step) {
    LifecycleOutput out = a->core->take();
    publish(a);
    handle(a, out);
    if (a->ended) return;
    if (!out.invoke) {
      if (const Time next = a->core->next_deadline(); next != Time::max()) a->host->wake(a, next);
      return;
    }
    execute(*a, *out.invoke);
  }
  asio::post(a->strand, [a] { pump(a); });  // a long chain of continues: let others in
}

void on_wake(const std::shared_ptr<Actor>& a, Time now) {
  Host& host = *a->host;
  std::vector<Waiting> overdue;
  Time next = Time::max();
  {
    std::lock_guard lock(host.lock_of(a.get()));
    a->wake_at = Time::max();
    for (std::size_t i = 0; i < a->waiting.size();) {
      if (a->waiting[i].deadline <= now) {
        overdue.push_back(std::move(a->waiting[i]));
        a->waiting[i] = std::move(a->waiting.back());
        a->waiting.pop_back();
      } else {
        next = std::min(next, a->waiting[i].deadline);
        ++i;
      }
    }
    if (a->waiting.empty()) std::vector<Waiting>().swap(a->waiting);
  }
  for (auto& waiting : overdue) {
    // An install, update or uninstall still running goes on: `async`, its outcome an event (as the core does).
    if (waiting.late_async && waiting.command_done) {
      waiting.command_done(Reply::Kind::async);
      continue;
    }
    host.fail(waiting, make_error(errc::timeout, "no answer from tenant '" + a->id + "' by its deadline"));
  }
  if (next != Time::max()) host.wake(a, next);
  asio::post(a->strand, [a] {
    if (!a->core || a->ended) return;
    a->core->on_tick(a->host->clock.now());
    pump(a);
  });
}

void fail_stop(const std::shared_ptr<Actor>& a, const std::string& reason) {
  if (a->refused || a->finished) return;  // e.g. a renewal that raced the release of a stopped tenant
  a->refused = true;
  a->stop_reason = std::make_unique<std::string>(reason);
  a->stopping.store(true);
  if (reason.rfind("fenced", 0) == 0) a->host->fenced.fetch_add(1, std::memory_order_relaxed);
  if (a->persist) {
    fail_held(*a, a->persist->held_now, "tenant stopped: " + reason);
    fail_held(*a, a->persist->held_next, "tenant stopped: " + reason);
    a->persist.reset();
  }
  if (a->ended || !a->core) return finish_end(a);
  a->core->stop(reason, a->host->clock.now());
  pump(a);
}

void begin(const std::shared_ptr<Actor>& a, Result<Opened> opened, StartMode mode, std::uint64_t call, Time deadline) {
  Host& host = *a->host;
  if (!opened) {
    host.answer_error(*a, call, opened.error());
    a->ended = a->finished = true;
    a->stopping.store(true);
    host.remove(a);
    host.finish_waiting(*a, a->stop_call, {});
    // A caller answered `async` at its deadline learns the outcome here.
    LocalEvent event = host_event(LocalEvent::Kind::stopped, a->id);
    event.reason = "start failed: " + opened.error().message();
    host.emit(event);
    return;
  }
  a->prefix = opened->prefix;
  a->epoch.store(opened->lease.epoch);
  if (mode == StartMode::resume && !opened->snapshot) {
    host.answer_error(*a, call, make_error(errc::tenant_not_found, "tenant '" + a->id + "' has no snapshot to resume from"));
    a->stop_reason = std::make_unique<std::string>("no snapshot");
    return finish_end(a);
  }
  if (a->stop_call != 0) {
    host.answer_error(*a, call, make_error(errc::stopped, "tenant '" + a->id + "' was stopped while it started"));
    return finish_end(a);
  }
  if (auto bound = bind_keyspace(a); !bound) {
    host.answer_error(*a, call, bound.error());
    a->stop_reason = std::make_unique<std::string>("keyspace: " + bound.error().message());
    return finish_end(a);
  }
  const std::uint64_t seed = call * 0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(opened->lease.epoch);
  a->core.emplace(std::move(*a->tenant), host.lifecycle, static_cast<std::uint64_t>(opened->lease.epoch), seed);
  a->tenant.reset();
  a->leased.store(true);
  const Time now = host.clock.now();
  if (mode == StartMode::install) {
    a->core->install(call, deadline, now);
  } else {
    a->core->resume(std::move(*opened->snapshot), now);
    host.answer(*a, call, Reply{call, Reply::Kind::ok, {}, {}});
  }
  pump(a);
}

void begin_stop(const std::shared_ptr<Actor>& a, std::uint64_t call, std::string reason) {
  a->stop_call = call;
  a->stop_reason = std::make_unique<std::string>(std::move(reason));
  if (a->finished) return a->host->finish_waiting(*a, call, {});
  if (!a->core || a->ended) return;  // begin() or finish_end() answers it
  a->core->stop(*a->stop_reason, a->host->clock.now());
  pump(a);
}

}  // namespace plexus::tenants::local_detail
