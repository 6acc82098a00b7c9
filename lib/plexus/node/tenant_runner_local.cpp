// The node's TenantRunner over LocalTenants (plexus/tenants/local.hpp): the
// tenants this node owns run as actors on the runtime's worker pool, with
// their key space, lease and snapshots in the tenant datastore. A start
// resumes from the last snapshot when the key space holds one (failover,
// handoff: the datastore is shared) and installs otherwise. Lifecycle events
// are appended to the node's durable event log (tenants/event_log.hpp) on the
// pool and acknowledged to the host only once committed; a failed append
// leaves the event unacknowledged, so the host re-emits it with backoff.
#include <spdlog/spdlog.h>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <mutex>

#include "plexus/node/node.hpp"
#include "plexus/node/runtime.hpp"
#include "plexus/node/tenant_runner.hpp"
#include "plexus/node/tenants_modules.hpp"
#include "plexus/store/datastore.hpp"
#include "plexus/tenants/errors.hpp"
#include "plexus/tenants/local.hpp"

namespace plexus::node {
namespace {

namespace te = tenants;

Time time_of(TenantRunner::Deadline deadline) { return std::chrono::duration_cast<Time>(deadline.time_since_epoch()); }

LifecycleOutcome outcome_of(const Result<te::Reply::Kind>& r) {
  if (!r) return {LifecycleOutcome::Kind::error, r.error()};
  return {*r == te::Reply::Kind::async ? LifecycleOutcome::Kind::async : LifecycleOutcome::Kind::ok, {}};
}

class LocalRunner final : public TenantRunner, public std::enable_shared_from_this<LocalRunner> {
 public:
  LocalRunner(asio::any_io_executor pool, std::shared_ptr<te::ModuleRegistry> modules,
              std::unique_ptr<te::LocalTenants> local, std::shared_ptr<te::EventLog> events)
      : pool_(std::move(pool)), modules_(std::move(modules)), local_(std::move(local)), events_(std::move(events)),
        running_(std::make_shared<Running>()) {
    local_->subscribe([pool = pool_, running = running_, local = local_.get(), log = events_](const te::LocalEvent& event) {
      if (event.kind == te::LocalEvent::Kind::stopped) {
        if (event.reason != "no snapshot") running->erase(event.tenant);  // a failed resume: install follows
        return;
      }
      if (event.kind != te::LocalEvent::Kind::lifecycle) return;
      // The sink must not block: the append (a store commit) runs as its own pool job.
      asio::post(pool, [local, log, tenant = event.tenant, e = event.event] {
        auto logged = log->append(e);
        if (!logged) return spdlog::warn("tenant {}: event {} not logged (re-emitted later): {}", tenant, e.key, logged.error().message());
        local->ack_event(tenant, e.seq);
      });
    });
  }

  std::set<std::string, std::less<>> modules() const override {
    const auto names = modules_->names();
    return {names.begin(), names.end()};
  }

  void start(const te::Registered& tenant, Deadline deadline, Done done) override {
    running_->insert(tenant.id);
    te::Tenant t{tenant.id, tenant.record.module, tenant.record.config, tenant.generation};
    local_->start(t, te::StartMode::resume, time_of(deadline),
                  [weak = weak_from_this(), t, deadline, done = std::move(done)](Result<te::Reply::Kind> resumed) {
                    auto self = weak.lock();
                    if (!self) return done({LifecycleOutcome::Kind::error, te::make_error(te::errc::unavailable, "shutting down")});
                    if (!resumed && !te::is(resumed.error(), te::errc::tenant_not_found)) self->running_->erase(t.id);
                    if (resumed || !te::is(resumed.error(), te::errc::tenant_not_found)) return done(outcome_of(resumed));
                    self->install(t, deadline, done);  // no snapshot: it never ran (or the datastore is not shared)
                  });
  }

  // The failed resume is still being cleaned up (its lease released) for a
  // moment: already_exists is tried again every install_retry until the deadline.
  void install(const te::Tenant& t, Deadline deadline, Done done) {
    local_->start(t, te::StartMode::install, time_of(deadline),
                  [weak = weak_from_this(), t, deadline, done = std::move(done)](Result<te::Reply::Kind> installed) {
                    auto self = weak.lock();
                    if (!self) return done({LifecycleOutcome::Kind::error, te::make_error(te::errc::unavailable, "shutting down")});
                    if (!installed && te::is(installed.error(), te::errc::already_exists) &&
                        Clock::now() + install_retry < deadline) {
                      auto timer = std::make_shared<asio::steady_timer>(self->pool_, install_retry);
                      timer->async_wait([weak, timer, t, deadline, done](const std::error_code&) {
                        if (auto again = weak.lock()) again->install(t, deadline, done);
                      });
                      return;
                    }
                    if (installed) self->running_->insert(t.id);
                    else self->running_->erase(t.id);
                    done(outcome_of(installed));
                  });
  }

  void update(const te::Registered& tenant, Deadline deadline, Done done) override {
    local_->update(tenant.id, tenant.record.config, tenant.generation, time_of(deadline),
                   [done = std::move(done)](Result<te::Reply::Kind> r) { done(outcome_of(r)); });
  }

  void uninstall(const std::string& id, Deadline deadline, Done done) override {
    local_->uninstall(id, time_of(deadline), [running = running_, id, done = std::move(done)](Result<te::Reply::Kind> r) {
      if (r) running->erase(id);
      done(outcome_of(r));
    });
  }

  void stop(const std::string& id, const std::string& reason) override {
    running_->erase(id);
    local_->stop(id, reason, time_of(Clock::now() + std::chrono::seconds(5)), [id](Result<te::Reply::Kind> r) {
      if (!r) spdlog::warn("tenant {}: stop: {}", id, r.error().detail);
    });
  }

  void call(const std::string& id, std::string request, Deadline deadline, CallDone done) override {
    local_->call(id, std::move(request), time_of(deadline), std::move(done));
  }

  void cast(const std::string& id, std::string request) override { local_->cast(id, std::move(request)); }

  std::set<std::string, std::less<>> running() const override { return running_->copy(); }

  nlohmann::json status(const std::string& id) const override {
    auto s = local_->status(id);
    if (!s) return nullptr;
    return {{"status", te::status_name(s->status)}, {"parked", s->parked}, {"stopping", s->stopping},
            {"generation", s->generation}, {"epoch", s->epoch}, {"last_error", s->last_error},
            {"restarts", s->counters.restarts}, {"crashes", s->counters.crashes}};
  }

  std::shared_ptr<te::EventLog> events() const override { return events_; }

 private:
  using Clock = std::chrono::steady_clock;
  /// The tenants started here and not stopped, shared with the event sink (pool threads).
  struct Running {
    mutable std::mutex mutex;
    std::set<std::string, std::less<>> ids;
    void insert(const std::string& id) {
      std::lock_guard lock(mutex);
      ids.insert(id);
    }
    void erase(const std::string& id) {
      std::lock_guard lock(mutex);
      ids.erase(id);
    }
    std::set<std::string, std::less<>> copy() const {
      std::lock_guard lock(mutex);
      return ids;
    }
  };
  static constexpr auto install_retry = std::chrono::milliseconds(5);
  asio::any_io_executor pool_;
  std::shared_ptr<te::ModuleRegistry> modules_;
  std::unique_ptr<te::LocalTenants> local_;
  std::shared_ptr<te::EventLog> events_;
  std::shared_ptr<Running> running_;
};

}  // namespace

Result<std::shared_ptr<TenantRunner>> make_tenant_runner(Runtime& runtime, const Settings& settings,
                                                         std::shared_ptr<store::Datastores> datastores) {
  std::shared_ptr<store::Database> database;
  if (datastores) {
    if (auto found = datastores->find(settings.tenants.datastore)) database = (*found)->database;
  }
  if (!database) {
    spdlog::warn("tenants: no datastore '{}': this node runs no tenants (it routes calls only)",
                 settings.tenants.datastore);
    return std::shared_ptr<TenantRunner>();
  }
  auto keyspaces = std::make_shared<te::KeySpaces>();
  auto modules = node_modules(settings.tenants.module_libs, keyspaces);
  if (!modules) return Error{modules.error().code, "--module-lib: " + modules.error().message()};
  te::LocalOptions options;
  options.node = settings.peer.name;
  options.lease_ttl = settings.tenants.lease_ttl;
  options.lease_renew_interval = settings.tenants.lease_ttl / 3;
  options.keyspaces = std::move(keyspaces);
  options.datastore = settings.tenants.datastore;
  auto events = te::EventLog::open(database, settings.peer.name, {.keep_max = settings.tenants.events_keep});
  if (!events) return Error{events.error().code, "tenants: event log: " + events.error().message()};
  auto local = te::LocalTenants::create(runtime.workers()->get_executor(), database, **modules, options);
  if (!local) return Error{local.error().code, "tenants: " + local.error().message()};
  return std::shared_ptr<TenantRunner>(std::make_shared<LocalRunner>(runtime.workers()->get_executor(), std::move(*modules),
                                                                     std::move(*local), std::move(*events)));
}

}  // namespace plexus::node
