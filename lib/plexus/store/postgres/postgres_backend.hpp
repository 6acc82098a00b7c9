// The PostgreSQL datastore backend: one datastore is one table
// (`key bytea PRIMARY KEY, value bytea NOT NULL`) on a PostgreSQL 15 server
// reached through libpq, so several machines can share one datastore.
// Read-write transactions run at SERIALIZABLE, snapshots at REPEATABLE READ
// READ ONLY; writes are buffered and reach the server in one pipelined round
// trip with the next read or the commit. Connections come from a bounded pool;
// every wait (connect, pool, server reply) has a deadline. docs/store.md,
// "PostgreSQL backend", has the schema, the limits and a cluster setup.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "plexus/core/result.hpp"
#include "plexus/store/backend.hpp"

namespace plexus::store {

/// Keys up to this many bytes on PostgreSQL (the backend's native limit). A
/// btree index entry holds at most 2,704 bytes on 8 KiB pages (BTMaxItemSize)
/// including its headers, and a bytea key is stored uncompressed when
/// incompressible; 2,048 leaves room to spare.
inline constexpr std::size_t postgres_key_bytes_max = 2'048;

/// Where the datastore lives and how the backend waits. Every duration and
/// count is bounded; open_postgres() refuses values out of range (invalid_option).
struct PostgresOptions {
  /// libpq connection string ("host=db1 port=5432 dbname=plexus user=plexus")
  /// or URI; empty means libpq's PG* environment variables and defaults. Must
  /// not hold a password: use password_file or password_env.
  std::string conninfo;
  /// A file whose first line is the password (mode 0600 advised). Never logged.
  std::string password_file;
  /// The name of an environment variable holding the password. Never logged.
  /// Without either, libpq's own PGPASSWORD / ~/.pgpass still apply.
  std::string password_env;
  /// Schema and table of this datastore: [a-z_][a-z0-9_]*, at most 63 bytes.
  std::string schema = "public";
  std::string table = "plexus_kv";
  /// Shown in pg_stat_activity.application_name.
  std::string application_name = "plexus";

  /// Connections open at once (1..256), idle ones included.
  std::size_t pool_size_max = 8;
  /// Threads waiting at once for a connection (0..4096); one more gets `unavailable`.
  std::size_t pool_waiters_max = 64;
  /// Longest wait for a pooled connection in begin() before `unavailable`.
  std::chrono::milliseconds pool_wait_timeout{2'000};
  /// Longest wait for one connection attempt (TCP, TLS, authentication).
  std::chrono::milliseconds connect_timeout{5'000};
  /// After a failed connection attempt, no new attempt for this long, doubled
  /// (with jitter) after each further failure up to reconnect_backoff_max.
  std::chrono::milliseconds reconnect_backoff_initial{50};
  std::chrono::milliseconds reconnect_backoff_max{5'000};
  /// The server's statement_timeout for every statement.
  std::chrono::milliseconds statement_timeout{10'000};
  /// The server's lock_timeout: a write waiting this long for a row lock held
  /// by a concurrent transaction fails with `conflict`.
  std::chrono::milliseconds lock_timeout{2'000};
  /// The server ends a session idle inside a transaction for this long
  /// (a client that died holding locks).
  std::chrono::milliseconds idle_in_transaction_timeout{60'000};
  /// Longest wait for the server's answer to one round trip; past it the
  /// connection counts as lost. Should exceed statement_timeout.
  std::chrono::milliseconds reply_timeout{15'000};
};

/// Opens the datastore: checks the options, connects once (so a wrong
/// address or password fails here, as `unavailable`), creates the schema and
/// table if missing. Errors: invalid_option, unavailable, backend_error.
/// Error details name the server and the reason, never the password.
Result<std::unique_ptr<Backend>> open_postgres(const PostgresOptions& options);

/// The health of a PostgreSQL backend's connection pool (its main pool), for
/// supervisors and /metrics. `last_failure` never holds the password.
struct PostgresHealth {
  std::size_t open = 0;                ///< connections open now
  std::size_t idle = 0;                ///< of those, idle
  std::uint64_t connects = 0;          ///< connections opened since open_postgres()
  std::uint64_t connect_failures = 0;  ///< failed connection attempts
  std::uint64_t dropped = 0;           ///< connections found broken and closed
  std::string last_failure;            ///< the last failed attempt's reason
};

/// The pool's health; nullopt when `backend` is another kind.
std::optional<PostgresHealth> postgres_health(const Backend& backend);

}  // namespace plexus::store
