// plexus::context — datastore contexts (MscmpSystDb.DatastoreContext). A
// *datastore* is one security boundary: on PostgreSQL one database, on LMDB
// one environment. A *context* is one database role working in it: the owner
// context (NOLOGIN, owns every object, exactly one per datastore), login
// contexts (each a supervised connection pool logged in as its role, read-
// write or read-only) and rare nonlogin contexts (roles to grant, no pool).
//
// Life cycle: create_datastore() / drop_datastore() provision and remove the
// database, roles and privileges (docs/store.md, "Datastore contexts");
// Datastore::start() starts every login context marked `start`; contexts are
// stopped and started again at run time; a started context is watched by a
// Supervisor (supervisor.hpp) and its calls wait for it to be ready. Tenant
// key spaces are opened through a context (open()), so every read and write
// runs with that context's role and the server enforces its privileges.
//
//   auto options = *parse_datastore_options(json);
//   create_datastore(options);                         // once
//   auto started = *Datastore::start(options);         // all_started / some_started
//   auto api = *started.datastore->context("app_api");
//   auto tenant = *open(*api, "tenant-1");             // store::Tenant under app_api's role
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/context/errors.hpp"
#include "plexus/context/options.hpp"
#include "plexus/context/supervisor.hpp"
#include "plexus/core/result.hpp"
#include "plexus/store/kv.hpp"
#include "plexus/store/tenant.hpp"

namespace plexus::context {

/// Provisions the datastore. PostgreSQL, over a privileged connection to
/// options.location: the NOLOGIN owner role, each login role with its
/// password (sent as a SCRAM verifier computed here, never in clear), each
/// nonlogin role, the database owned by the owner, REVOKE ALL ON DATABASE
/// FROM PUBLIC, CONNECT for each context role, then in the database the schema
/// `plexus` and table `plexus.kv` owned by the owner, USAGE on the schema and
/// SELECT (read_only) or SELECT, INSERT, UPDATE, DELETE (read_write) on the
/// table per context. LMDB: creates the environment. Errors: provision_failed
/// naming the step (a step failing leaves what was done before it; drop undoes it).
Result<void> create_datastore(const DatastoreOptions& options);
/// Reverses create_datastore: drops the database (ending its sessions) and
/// every context role; on LMDB removes the environment's files and directory.
/// Missing pieces are skipped, so it also cleans up after a failed create.
Result<void> drop_datastore(const DatastoreOptions& options);

/// One context's state and the reason for it ("" when there is none).
struct ContextStatus {
  std::string name;
  Kind kind = Kind::login;
  State state = State::not_started;
  std::string reason;
};

/// Metrics of one context (/metrics, per context). No credentials.
struct ContextMetrics {
  State state = State::not_started;
  std::size_t pool_size = 0;          ///< configured connections
  std::size_t connections_open = 0;   ///< open now (PostgreSQL)
  std::size_t connections_idle = 0;   ///< idle now (open minus in use)
  std::uint64_t waits = 0;            ///< calls that waited for the context to be ready
  std::uint64_t wait_failures = 0;    ///< of those, failed `unavailable` at their deadline
  SupervisorCounters supervisor;      ///< probes, failures, lost connections, transitions
};

/// A context of a running Datastore. Thread-safe. Its database() stays the
/// same object across stop and start, so handles opened through it keep working.
class Context {
 public:
  struct Impl;
  explicit Context(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  [[nodiscard]] const ContextOptions& options() const;
  [[nodiscard]] const std::string& name() const { return options().name; }
  [[nodiscard]] const std::string& datastore() const;
  [[nodiscard]] State state() const;
  /// Why the context is not ready, parked or not started ("" otherwise).
  [[nodiscard]] std::string reason() const;
  [[nodiscard]] ContextMetrics metrics() const;
  /// The last state changes (at most transitions_kept), oldest first.
  [[nodiscard]] std::vector<Transition> transitions() const;
  /// Waits until the context is ready; store::errc::unavailable at `timeout`
  /// (or at once when it is stopped or parked), naming the state and reason.
  Result<void> wait_ready(std::chrono::milliseconds timeout) const;
  /// The datastore as this context's role sees it. Every transaction begun on
  /// it first waits (call_wait_max) for the context to be ready.
  [[nodiscard]] std::shared_ptr<store::Database> database() const;

 private:
  friend class Datastore;
  std::shared_ptr<Impl> impl_;
};

/// How many transitions a Context keeps.
inline constexpr std::size_t transitions_kept = 64;

/// Opens an existing tenant key space through `context` (tenant_not_found if
/// missing), after waiting for the context to be ready.
Result<store::Tenant> open(const Context& context, std::string_view tenant_id);
/// The same, creating the tenant when missing (needs a read_write context).
Result<store::Tenant> open_or_create(const Context& context, std::string_view tenant_id);

enum class StartOutcome { all_started, some_started };
std::string_view to_string(StartOutcome outcome);

/// A datastore's running contexts.
class Datastore {
 public:
  struct Started;
  /// start_datastore: starts every login context with `start` set. Each is
  /// opened (one connection made) and probed once. A PostgreSQL context whose
  /// server is down or refuses the login still starts, not_ready with the
  /// reason, and its supervisor keeps retrying (with backoff, parking after
  /// the crash-loop budget). all_started when every one started and is not
  /// not_ready/parked, else some_started with each context's state and reason;
  /// none_started (naming each reason) when none could start at all (bad
  /// options, an unreadable credential file). Other contexts report not_started.
  static Result<Started> start(DatastoreOptions options);
  ~Datastore();
  Datastore(const Datastore&) = delete;
  Datastore& operator=(const Datastore&) = delete;

  /// Starts a stopped (or parked) login context. Errors: context_not_found,
  /// not_login, already_started, or the store's error opening it.
  Result<void> start_context(std::string_view name);
  /// Stops a started context: its calls fail `unavailable`, its pool closes
  /// as its open transactions end. Errors: context_not_found, not_started.
  Result<void> stop_context(std::string_view name);
  /// The context (started or not); context_not_found.
  [[nodiscard]] Result<std::shared_ptr<Context>> context(std::string_view name) const;
  /// State of `name`: not_found when the datastore has no such context.
  [[nodiscard]] State state(std::string_view name) const;
  [[nodiscard]] std::vector<ContextStatus> status() const;
  [[nodiscard]] const DatastoreOptions& options() const { return options_; }
  /// Stops every context (the destructor does too).
  void stop();

 private:
  explicit Datastore(DatastoreOptions options);

  DatastoreOptions options_;
  std::vector<std::shared_ptr<Context>> contexts_;
};

struct Datastore::Started {
  std::shared_ptr<Datastore> datastore;
  StartOutcome outcome = StartOutcome::all_started;
  std::vector<ContextStatus> contexts;
};

}  // namespace plexus::context
