// One context's backend, probes and supervisor thread (context_impl.hpp).
#include "plexus/context/context_impl.hpp"

#include <spdlog/spdlog.h>

#include <random>

#include "plexus/context/conninfo.hpp"
#include "plexus/store/errors.hpp"
#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "plexus/store/postgres/postgres_backend.hpp"

namespace plexus::context {
namespace {

using Clock = std::chrono::steady_clock;

/// The longest the supervisor thread sleeps at once (a parked context has no next probe).
constexpr std::chrono::minutes idle_wait_max{1};

}  // namespace

Context::Impl::Impl(const DatastoreOptions& datastore_options, ContextOptions context)
    : datastore_name(datastore_options.name),
      options(std::move(context)),
      datastore(datastore_options),
      gate(std::make_shared<detail::Gate>(options.name)) {}

Context::Impl::~Impl() { stop(); }

bool Context::Impl::running() const {
  std::lock_guard lock(mutex);
  return thread.joinable();
}

Result<std::shared_ptr<store::Backend>> Context::Impl::open_backend() const {
  if (datastore.backend == BackendKind::lmdb) {
    store::LmdbOptions lmdb;
    lmdb.path = datastore.location;
    auto opened = store::open_lmdb(lmdb);
    if (!opened) return opened.error();
    return std::shared_ptr<store::Backend>(std::move(*opened));
  }
  store::PostgresOptions pg;
  auto conninfo = detail::override_conninfo(datastore.location, {{"dbname", datastore.name}, {"user", options.role}});
  if (!conninfo) return conninfo.error();
  pg.conninfo = *conninfo;
  if (options.credential.from == CredentialSource::From::file) pg.password_file = options.credential.where;
  if (options.credential.from == CredentialSource::From::env) pg.password_env = options.credential.where;
  pg.schema = detail::postgres_schema;
  pg.table = detail::postgres_table;
  pg.application_name = "plexus/" + datastore.name + "/" + options.name;
  pg.pool_size_max = options.pool_size;
  pg.pool_wait_timeout = datastore.supervision.call_wait_max;
  pg.reconnect_backoff_initial = datastore.supervision.backoff_initial;
  pg.reconnect_backoff_max = datastore.supervision.backoff_max;
  auto opened = store::open_postgres(pg);
  if (!opened) return opened.error();
  return std::shared_ptr<store::Backend>(std::move(*opened));
}

namespace {

/// An open that failed this way is retried under supervision (the server is
/// down or refuses the login); any other failure (bad options, an unreadable
/// credential file) fails start() at once.
bool retried(BackendKind kind, const Error& error) {
  return kind == BackendKind::postgres && store::is(error, store::errc::unavailable);
}

}  // namespace

Result<void> Context::Impl::start() {
  auto backend = open_backend();
  if (!backend && !retried(datastore.backend, backend.error())) {
    gate->set(State::not_started, backend.error().message());
    return backend.error();
  }
  std::shared_ptr<store::Backend> inner = backend ? *backend : nullptr;
  const std::optional<store::PostgresHealth> health = inner ? store::postgres_health(*inner) : std::nullopt;
  std::lock_guard lock(mutex);
  dropped_seen = health ? health->dropped : 0;
  if (!database) {
    make_database(inner);
  } else {
    gated->set_inner(inner);
  }
  supervisor = std::make_unique<Supervisor>(datastore.supervision, std::random_device{}(), Clock::now());
  stopping = false;
  suspect = false;
  gate->set(State::started, {});
  if (!inner) {
    // The server was down (or refused the login): not_ready with the reason,
    // and the supervisor thread keeps trying to open the backend with backoff.
    supervisor->on_probe(Probe{false, 0, backend.error().message()}, Clock::now());
    publish();
  }
  thread = std::thread([this] { run(); });
  return {};
}

void Context::Impl::make_database(const std::shared_ptr<store::Backend>& inner) {
  const bool refuse_writes = datastore.backend == BackendKind::lmdb && options.access == Access::read_only;
  // Without a backend yet (its server was down), the kind and limits are PostgreSQL's.
  store::Limits limits;
  limits.key_bytes_max = store::postgres_key_bytes_max;
  auto gated_backend = std::make_unique<detail::GatedBackend>(
      gate, datastore.supervision.call_wait_max, refuse_writes, inner ? inner->kind() : std::string_view("postgres"),
      inner ? inner->native_limits() : limits, inner, [self = weak_from_this()] {
        // The Database may outlive this context's Impl; then there is no one to tell.
        const auto impl = self.lock();
        if (!impl) return;
        {
          std::lock_guard guard(impl->mutex);
          impl->suspect = true;
        }
        impl->wake.notify_all();
      });
  gated = gated_backend.get();
  database = std::make_shared<store::Database>(datastore.name, std::move(gated_backend));
}

void Context::Impl::stop() {
  std::thread running_thread;
  {
    std::lock_guard lock(mutex);
    stopping = true;
    running_thread = std::move(thread);
  }
  wake.notify_all();
  if (running_thread.joinable()) running_thread.join();
  std::lock_guard lock(mutex);
  if (gated != nullptr) gated->set_inner(nullptr);
  if (supervisor) {
    counters = supervisor->counters();
    supervisor.reset();
    gate->set(State::not_started, "stopped");
  }
}

Probe Context::Impl::probe() {
  Probe result;
  auto backend = gated->inner();
  if (!backend) {
    // Not opened yet: the server was down at start. Opening is this probe's first step.
    auto opened = open_backend();
    if (!opened) return Probe{false, 0, opened.error().message()};
    backend = *opened;
    const auto health = store::postgres_health(*backend);
    dropped_seen = health ? health->dropped : 0;
    gated->set_inner(backend);
  }
  const auto before = store::postgres_health(*backend);
  if (before && before->open >= options.pool_size && before->idle == 0) {
    // Every connection is leased to a call: the pool is working, and a probe
    // would only queue behind the calls (and time out under load). Lost
    // connections still show in the counter below.
    result.ok = true;
    result.connections_lost = before->dropped - dropped_seen;
    dropped_seen = before->dropped;
    return result;
  }
  auto transaction = backend->begin(store::Mode::snapshot);
  if (!transaction) {
    result.reason = transaction.error().message();
  } else {
    auto read = (*transaction)->get(std::string_view{});
    (*transaction)->cancel();
    result.ok = read.ok();
    if (!read) result.reason = read.error().message();
  }
  if (const auto health = store::postgres_health(*backend)) {
    result.connections_lost = health->dropped - dropped_seen;
    dropped_seen = health->dropped;
  }
  return result;
}

void Context::Impl::publish() {
  for (auto& t : supervisor->take()) {
    if (t.to == State::ready) {
      spdlog::info("context {}/{}: {} -> ready", datastore_name, options.name, to_string(t.from));
    } else {
      spdlog::warn("context {}/{}: {} -> {}: {}", datastore_name, options.name, to_string(t.from), to_string(t.to),
                   t.reason);
    }
    history.push_back(std::move(t));
    if (history.size() > transitions_kept) history.pop_front();
  }
  counters = supervisor->counters();
  const State state = supervisor->state();
  gate->set(state, state == State::ready ? std::string() : supervisor->reason());
}

void Context::Impl::run() {
  std::unique_lock lock(mutex);
  while (!stopping) {
    const auto now = Clock::now();
    if (suspect) {
      suspect = false;
      supervisor->on_suspect(now);
    }
    if (now < supervisor->next_probe()) {
      const auto until = std::min(supervisor->next_probe(), now + idle_wait_max);
      wake.wait_until(lock, until, [&] { return stopping || suspect; });
      continue;
    }
    lock.unlock();
    Probe result = probe();
    lock.lock();
    supervisor->on_probe(result, Clock::now());
    publish();
  }
}

}  // namespace plexus::context
