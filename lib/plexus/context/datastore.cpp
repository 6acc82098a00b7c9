// Datastore (start_datastore, start_context, stop_context), Context's
// accessors, and opening tenants through a context (context.hpp).
#include <algorithm>

#include "plexus/context/context.hpp"
#include "plexus/context/context_impl.hpp"
#include "plexus/store/errors.hpp"
#include "plexus/store/postgres/postgres_backend.hpp"

namespace plexus::context {

// ---- Context ----

const ContextOptions& Context::options() const { return impl_->options; }
const std::string& Context::datastore() const { return impl_->datastore_name; }
State Context::state() const { return impl_->gate->state(); }
std::string Context::reason() const { return impl_->gate->reason(); }

ContextMetrics Context::metrics() const {
  ContextMetrics m;
  m.state = state();
  m.pool_size = impl_->options.pool_size;
  m.waits = impl_->gate->waits();
  m.wait_failures = impl_->gate->wait_failures();
  std::shared_ptr<store::Backend> backend;
  {
    std::lock_guard lock(impl_->mutex);
    m.supervisor = impl_->counters;
    if (impl_->gated != nullptr) backend = impl_->gated->inner();
  }
  if (backend) {
    if (const auto health = store::postgres_health(*backend)) {
      m.connections_open = health->open;
      m.connections_idle = health->idle;
    }
  }
  return m;
}

std::vector<Transition> Context::transitions() const {
  std::lock_guard lock(impl_->mutex);
  return {impl_->history.begin(), impl_->history.end()};
}

Result<void> Context::wait_ready(std::chrono::milliseconds timeout) const { return impl_->gate->wait_ready(timeout); }

std::shared_ptr<store::Database> Context::database() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->database;
}

namespace {

/// The context's database, or `unavailable` for a context that never started.
Result<std::shared_ptr<store::Database>> database_of(const Context& context) {
  auto database = context.database();
  if (!database) {
    return store::make_error(store::errc::unavailable, "context " + context.name() + " has never been started");
  }
  return database;
}

}  // namespace

// Each transaction waits for the context to be ready itself (GatedBackend).
Result<store::Tenant> open(const Context& context, std::string_view tenant_id) {
  auto database = database_of(context);
  if (!database) return database.error();
  return store::Tenants(*database).open(tenant_id);
}

Result<store::Tenant> open_or_create(const Context& context, std::string_view tenant_id) {
  auto database = database_of(context);
  if (!database) return database.error();
  return store::Tenants(*database).open_or_create(tenant_id);
}

std::string_view to_string(StartOutcome outcome) {
  return outcome == StartOutcome::all_started ? "all_started" : "some_started";
}

// ---- Datastore ----

Datastore::Datastore(DatastoreOptions options) : options_(std::move(options)) {
  for (const auto& c : options_.contexts) {
    contexts_.push_back(std::make_shared<Context>(std::make_shared<Context::Impl>(options_, c)));
  }
}

Datastore::~Datastore() { stop(); }

void Datastore::stop() {
  for (auto& context : contexts_) context->impl_->stop();
}

Result<Datastore::Started> Datastore::start(DatastoreOptions options) {
  if (auto ok = validate(options); !ok) return ok.error();
  Started started;
  started.datastore = std::shared_ptr<Datastore>(new Datastore(std::move(options)));
  Datastore& datastore = *started.datastore;
  std::size_t wanted = 0, running = 0, healthy = 0;
  std::string reasons;
  for (const auto& context : datastore.contexts_) {
    const ContextOptions& c = context->options();
    if (c.kind != Kind::login || !c.start) continue;
    ++wanted;
    if (auto ok = datastore.start_context(c.name); ok) {
      ++running;
      // A context whose server is down runs, supervised, but is not_ready (or parked).
      const State state = context->state();
      if (state != State::not_ready && state != State::parked) ++healthy;
    } else {
      reasons += (reasons.empty() ? "" : "; ") + c.name + ": " + ok.error().message();
    }
  }
  started.contexts = datastore.status();
  if (wanted > 0 && running == 0) {
    return make_error(errc::none_started, "datastore " + datastore.options_.name + ": " + reasons);
  }
  started.outcome = healthy == wanted ? StartOutcome::all_started : StartOutcome::some_started;
  return started;
}

Result<std::shared_ptr<Context>> Datastore::context(std::string_view name) const {
  for (const auto& context : contexts_) {
    if (context->name() == name) return context;
  }
  return make_error(errc::context_not_found, "datastore " + options_.name + " has no context " + std::string(name));
}

Result<void> Datastore::start_context(std::string_view name) {
  auto context = this->context(name);
  if (!context) return context.error();
  Context::Impl& impl = *(*context)->impl_;
  if (impl.options.kind != Kind::login) {
    return make_error(errc::not_login, "context " + impl.options.name + " is " +
                                           std::string(to_string(impl.options.kind)) + ": it cannot log in");
  }
  if (impl.running()) {
    if (impl.gate->state() != State::parked) return make_error(errc::already_started, "context " + impl.options.name);
    impl.stop();  // a parked context is started afresh
  }
  if (auto ok = impl.start(); !ok) return ok;
  // Report the first probe's verdict rather than `started`: wait for it, bounded.
  (void)impl.gate->wait_verdict(options_.supervision.call_wait_max);
  return {};
}

Result<void> Datastore::stop_context(std::string_view name) {
  auto context = this->context(name);
  if (!context) return context.error();
  Context::Impl& impl = *(*context)->impl_;
  if (!impl.running()) return make_error(errc::not_started, "context " + impl.options.name);
  impl.stop();
  return {};
}

State Datastore::state(std::string_view name) const {
  auto context = this->context(name);
  return context ? (*context)->state() : State::not_found;
}

std::vector<ContextStatus> Datastore::status() const {
  std::vector<ContextStatus> out;
  for (const auto& context : contexts_) {
    out.push_back(ContextStatus{context->name(), context->options().kind, context->state(), context->reason()});
  }
  return out;
}

}  // namespace plexus::context
