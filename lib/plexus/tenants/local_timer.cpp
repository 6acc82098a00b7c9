// LocalTenants' shared machinery: the one timer that wakes every actor (a
// min-heap of (time, actor) entries behind one asio::steady_timer, at most a
// few entries per actor with a deadline and none for an idle one), the lease
// renewal sweep, and the store queue whose fenced writes run in batches on the pool.
#include <asio/post.hpp>

#include "plexus/tenants/local_host.hpp"

namespace plexus::tenants::local_detail {

Actor::Actor(std::shared_ptr<Host> host_, Tenant tenant_, std::shared_ptr<Module> module_)
    : host(std::move(host_)),
      strand(asio::make_strand(host->pool)),
      module(std::move(module_)),
      id(tenant_.id),
      tenant(std::make_unique<Tenant>(std::move(tenant_))) {}

Host::Host(asio::thread_pool::executor_type pool_, std::shared_ptr<store::Database> database_, const ModuleRegistry& modules_,
           LocalOptions options_, const Clock& clock_)
    : pool(std::move(pool_)),
      database(std::move(database_)),
      directory(database),
      modules(modules_),
      options(std::move(options_)),
      lifecycle(std::make_shared<const LifecycleOptions>(options.lifecycle)),
      clock(clock_),
      timer(pool),
      renew_timer(pool) {}

void Host::wake(const std::shared_ptr<Actor>& actor, Time at) {
  {
    std::lock_guard lock(lock_of(actor.get()));
    if (at >= actor->wake_at) return;  // an entry at or before `at` is pending
    actor->wake_at = at;
  }
  std::lock_guard lock(timer_mutex);
  if (closing.load()) return;
  entries.push(Entry{at, actor});
  if (at < armed_at) arm_locked(at);
}

void Host::arm_locked(Time at) {
  armed_at = at;
  const Time in = at - clock.now();
  timer.expires_after(std::max(in, Time{0}));
  timer.async_wait([weak = weak_from_this()](const std::error_code& error) {
    if (error) return;  // replaced by an earlier arm, or closing
    if (auto host = weak.lock()) host->on_timer();
  });
}

void Host::on_timer() {
  std::vector<std::shared_ptr<Actor>> due;
  const Time now = clock.now();
  {
    std::lock_guard lock(timer_mutex);
    if (closing.load()) return;
    while (!entries.empty() && entries.top().at <= now) {
      if (auto actor = entries.top().actor.lock()) due.push_back(std::move(actor));
      entries.pop();
    }
    armed_at = Time::max();
    if (!entries.empty()) arm_locked(entries.top().at);
  }
  for (const auto& actor : due) on_wake(actor, now);
}

void Host::start_renewals() {
  std::lock_guard lock(timer_mutex);
  if (closing.load()) return;
  renew_timer.expires_after(options.lease_renew_interval);
  renew_timer.async_wait([weak = weak_from_this()](const std::error_code& error) {
    if (error) return;
    auto host = weak.lock();
    if (!host) return;
    std::vector<std::shared_ptr<Actor>> held;
    {
      std::shared_lock lock(host->map_mutex);
      held.reserve(host->actors.size());
      for (const auto& [id, actor] : host->actors) {
        if (actor->leased.load()) held.push_back(actor);
      }
    }
    const std::int64_t expires = unix_ms_now() + host->options.lease_ttl.count();
    for (auto& actor : held) {
      // `prefix` and `epoch` are set before `leased` (release/acquire), and never change after.
      FencedWrite write;
      write.kind = WriteKind::renew;
      write.expires_unix_ms = expires;
      write.prefix = actor->prefix;
      write.lease = lease_of(*actor);
      write.done = [actor](Result<void> result) {
        if (result || !is(result.error(), errc::fenced)) return;  // a transient failure: the next sweep retries
        asio::post(actor->strand, [actor, result] { fail_stop(actor, "fenced: " + result.error().message()); });
      };
      host->enqueue(std::move(write));
    }
    host->start_renewals();
  });
}

void Host::enqueue(FencedWrite write) {
  {
    std::lock_guard lock(store_mutex);
    if (store_queue.size() < options.store_queue_max) {
      store_queue.push_back(std::move(write));
      if (store_draining) return;
      store_draining = true;
      asio::post(pool, [host = shared_from_this()] { host->drain_store(); });
      return;
    }
  }
  write.done(make_error(errc::unavailable, "store queue full (" + std::to_string(options.store_queue_max) +
                                               " writes waiting, LocalOptions::store_queue_max)"));
}

void Host::drain_store() {
  std::vector<FencedWrite> batch;
  for (;;) {
    batch.clear();
    {
      std::lock_guard lock(store_mutex);
      if (store_queue.empty()) {
        store_draining = false;
        return;
      }
      const std::size_t take = std::min(store_queue.size(), options.store_batch_max);
      batch.assign(std::make_move_iterator(store_queue.begin()),
                   std::make_move_iterator(store_queue.begin() + static_cast<std::ptrdiff_t>(take)));
      store_queue.erase(store_queue.begin(), store_queue.begin() + static_cast<std::ptrdiff_t>(take));
    }
    run_fenced_batch(*database, batch);
    store_batches.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace plexus::tenants::local_detail
