// One libpq connection of the PostgreSQL backend, kept in nonblocking
// pipeline mode: a round trip sends any number of statements and one sync,
// then collects one result per statement, waiting on the socket with poll()
// under a deadline so a silent server never blocks a caller forever. A
// transaction's ROLLBACK is sent detached: the next round trip reads its
// answer along with its own, so ending a snapshot costs no round trip.
// Internal to lib/plexus/store/postgres.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <libpq-fe.h>

#include "plexus/core/result.hpp"

namespace plexus::store::postgres {

using Clock = std::chrono::steady_clock;

/// Everything a connection attempt needs. `password` is a secret: it goes to
/// libpq only, and every error detail passes through mask().
struct ConnectSpec {
  std::string conninfo;
  std::string password;
  std::string application_name;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds statement_timeout{10'000};
  std::chrono::milliseconds lock_timeout{2'000};
  std::chrono::milliseconds idle_in_transaction_timeout{60'000};

  /// `text` with every occurrence of the password replaced by "***".
  [[nodiscard]] std::string mask(std::string text) const;
};

/// One statement of a round trip. Parameters are binary (bytea as raw
/// bytes, int8 as 8 big-endian bytes) and results come back binary.
struct Statement {
  enum class Kind { prepared, text, prepare };
  Kind kind = Kind::text;
  /// The prepared statement's name (prepared, prepare).
  const char* name = nullptr;
  /// SQL text (text, prepare).
  const char* sql = nullptr;
  std::array<std::string_view, 3> params{};
  int param_count = 0;
  /// Parameter type OIDs (prepare only).
  std::array<Oid, 3> param_types{};
};

/// Owns one PGresult.
struct ResultDeleter {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

/// What one round trip brought back.
struct Reply {
  /// One result per statement answered without error, in order.
  std::vector<PgResult> results;
  /// The first failure: the error of a statement, or the connection's loss.
  std::optional<Error> error;
  /// The statement the failure belongs to (results.size() when it was lost
  /// waiting for that statement's answer).
  std::size_t failed_statement = 0;
  /// The connection broke (closed, reset, or no reply in time).
  bool connection_lost = false;
  /// Any byte may have reached the server.
  bool sent = false;
};

class Connection {
 public:
  /// Connects (bounded by spec.connect_timeout), sets the session's timeouts,
  /// enters pipeline mode. Errors: unavailable (with server and reason).
  static Result<std::unique_ptr<Connection>> open(const ConnectSpec& spec);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends `statements` and one sync, collects their results by `deadline`.
  /// A statement after a failed one is skipped by the server (pipeline abort).
  Reply round_trip(std::span<const Statement> statements, Clock::time_point deadline);

  /// False when the connection is known to be unusable: broken earlier, or
  /// closed by the server while idle (checked without blocking).
  bool probe();
  [[nodiscard]] bool broken() const noexcept { return broken_; }
  /// The connection broke because the server did not answer by a deadline.
  [[nodiscard]] bool timed_out() const noexcept { return timed_out_; }
  /// Sends `statements` and one sync without waiting for their answers: the
  /// next round trip reads and drops them (their failures too) before its own
  /// results. For ending a transaction (ROLLBACK) without a round trip of its
  /// own: the server runs it at once. False (and the connection broken) when
  /// it cannot be sent in full now.
  bool send_detached(std::span<const Statement> statements);
  /// True when the server is outside any transaction block, or will be once
  /// the detached statements sent (a ROLLBACK) are run.
  [[nodiscard]] bool idle() const noexcept;
  /// "host=h port=p dbname=d user=u", for error details.
  [[nodiscard]] std::string describe() const;

 private:
  Connection(PGconn* conn, const ConnectSpec* spec) : conn_(conn), spec_(spec) {}
  bool send(const Statement& statement);
  /// Checks the connection, queues every statement and the sync; false (and
  /// `reply` says why) when the connection is unusable.
  bool send_all(std::span<const Statement> statements, Reply& reply);
  /// Flushes output and reads input until a result can be taken without blocking.
  Result<void> await_result(Clock::time_point deadline);
  Error lost(std::string_view what);
  /// Reads and drops the answers of send_detached() by `deadline`.
  Result<void> drain_detached(Clock::time_point deadline);

  PGconn* conn_;
  /// Syncs sent by send_detached() whose answers are not read yet.
  std::size_t detached_syncs_ = 0;
  /// probe() found it usable and nothing was sent since (the pool probes on
  /// acquire; the first round trip then need not probe again).
  bool probed_ = false;
  const ConnectSpec* spec_;
  bool broken_ = false;
  bool timed_out_ = false;
};

/// The store error for a failed statement's result: SQLSTATE 40001 and 40P01
/// (and lock timeouts) are `conflict`, connection classes are `unavailable`,
/// the rest `backend_error`, each with the server's message as detail.
Error classify(const PGresult* result, const ConnectSpec& spec);

/// Big-endian int8, as a binary parameter.
std::string encode_int8(std::int64_t value);

}  // namespace plexus::store::postgres
