// One libpq connection in nonblocking pipeline mode (connection.hpp): the
// bounded connect, the round trip, and the SQLSTATE -> store error mapping.
#include "plexus/store/postgres/connection.hpp"

#include <utility>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "plexus/store/errors.hpp"

namespace plexus::store::postgres {
namespace {

/// Poll iterations one wait may take at most; each one either makes progress
/// or sleeps in poll() until the deadline, so this only guards a spinning socket.
constexpr int wait_iterations_max = 1'000'000;

std::string trimmed(const char* text) {
  std::string out = text ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

/// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
bool wait_socket(int fd, short events, Clock::time_point deadline) {
  for (int i = 0; i < wait_iterations_max; ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1'000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let libpq report the socket's error
  }
  return false;
}

std::string session_options(const ConnectSpec& spec) {
  // enable_seqscan=off keeps reads on the primary key index even on small
  // tables, so serializable predicate locks cover key spans, not the table.
  return "-c statement_timeout=" + std::to_string(spec.statement_timeout.count()) +
         " -c lock_timeout=" + std::to_string(spec.lock_timeout.count()) +
         " -c idle_in_transaction_session_timeout=" + std::to_string(spec.idle_in_transaction_timeout.count()) +
         " -c enable_seqscan=off";
}

void ignore_notice(void*, const char*) {}

}  // namespace

std::string ConnectSpec::mask(std::string text) const {
  if (password.empty()) return text;
  for (std::size_t at = text.find(password); at != std::string::npos; at = text.find(password, at + 3)) {
    text.replace(at, password.size(), "***");
  }
  return text;
}

Result<std::unique_ptr<Connection>> Connection::open(const ConnectSpec& spec) {
  const std::string options = session_options(spec);
  std::vector<const char*> keys, values;
  auto add = [&](const char* key, const char* value) {
    keys.push_back(key);
    values.push_back(value);
  };
  // "dbname" first: libpq expands a conninfo given there, and later keywords override it.
  if (!spec.conninfo.empty()) add("dbname", spec.conninfo.c_str());
  if (!spec.password.empty()) add("password", spec.password.c_str());
  add("application_name", spec.application_name.c_str());
  add("options", options.c_str());
  // TCP keepalives notice a peer that vanished without a reset.
  add("keepalives", "1");
  add("keepalives_idle", "10");
  add("keepalives_interval", "5");
  add("keepalives_count", "3");
  add(nullptr, nullptr);

  PGconn* raw = PQconnectStartParams(keys.data(), values.data(), 1);
  if (raw == nullptr) return make_error(errc::backend_error, "libpq could not allocate a connection");
  std::unique_ptr<Connection> connection(new Connection(raw, &spec));
  auto fail = [&](std::string reason) {
    return make_error(errc::unavailable,
                      spec.mask("cannot connect to PostgreSQL (" + connection->describe() + "): " + reason));
  };
  if (PQstatus(raw) == CONNECTION_BAD) return fail(trimmed(PQerrorMessage(raw)));
  const auto deadline = Clock::now() + spec.connect_timeout;
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  for (int step = 0; state != PGRES_POLLING_OK; ++step) {
    if (state == PGRES_POLLING_FAILED) return fail(trimmed(PQerrorMessage(raw)));
    if (step >= wait_iterations_max ||
        !wait_socket(PQsocket(raw), state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
      return fail("no connection within connect_timeout (" + std::to_string(spec.connect_timeout.count()) +
                  " ms)");
    }
    state = PQconnectPoll(raw);
  }
  PQsetNoticeProcessor(raw, ignore_notice, nullptr);
  if (PQsetnonblocking(raw, 1) != 0 || PQenterPipelineMode(raw) != 1) {
    return fail("cannot enter pipeline mode: " + trimmed(PQerrorMessage(raw)));
  }
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

std::string Connection::describe() const {
  auto part = [](const char* key, const char* value) {
    return std::string(key) + "=" + (value && *value ? value : "?");
  };
  return part("host", PQhost(conn_)) + " " + part("port", PQport(conn_)) + " " + part("dbname", PQdb(conn_)) +
         " " + part("user", PQuser(conn_));
}

bool Connection::idle() const noexcept {
  // Only a ROLLBACK is ever detached, and it ends any transaction block.
  return detached_syncs_ > 0 || PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

bool Connection::send_detached(std::span<const Statement> statements) {
  Reply reply;
  if (!send_all(statements, reply)) return false;
  // All of it must leave now: a ROLLBACK left in our buffer would keep the
  // transaction (and its snapshot) open on the server while the connection idles.
  if (PQflush(conn_) != 0) {
    broken_ = true;
    return false;
  }
  ++detached_syncs_;
  return true;
}

Result<void> Connection::drain_detached(Clock::time_point deadline) {
  // Each detached statement yields a result and a null, each sync one result.
  for (int step = 0; detached_syncs_ > 0 && step < wait_iterations_max; ++step) {
    if (auto waited = await_result(deadline); !waited.ok()) return waited.error();
    PgResult result(PQgetResult(conn_));
    if (PQstatus(conn_) != CONNECTION_OK) return lost("reading a detached answer");
    if (result && PQresultStatus(result.get()) == PGRES_PIPELINE_SYNC) --detached_syncs_;
  }
  if (detached_syncs_ > 0) return lost("(detached answers out of step)");
  return {};
}

bool Connection::probe() {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) return !(broken_ = true);
  // An idle connection has nothing to read unless the server closed it (a
  // restart, pg_terminate_backend) or sent a notice; libpq tells the two apart.
  pollfd p{PQsocket(conn_), POLLIN, 0};
  if (::poll(&p, 1, 0) > 0 && (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK)) {
    broken_ = true;
  }
  probed_ = !broken_;
  return !broken_;
}

Error Connection::lost(std::string_view what) {
  broken_ = true;
  return make_error(errc::unavailable, spec_->mask("connection to PostgreSQL (" + describe() + ") lost " +
                                                   std::string(what) + ": " + trimmed(PQerrorMessage(conn_))));
}

bool Connection::send(const Statement& s) {
  const char* values[3];
  int lengths[3];
  const int formats[3] = {1, 1, 1};
  for (int i = 0; i < s.param_count; ++i) {
    values[i] = s.params[static_cast<std::size_t>(i)].data();
    lengths[i] = static_cast<int>(s.params[static_cast<std::size_t>(i)].size());
  }
  switch (s.kind) {
    case Statement::Kind::prepared:
      return PQsendQueryPrepared(conn_, s.name, s.param_count, values, lengths, formats, 1) == 1;
    case Statement::Kind::prepare:
      return PQsendPrepare(conn_, s.name, s.sql, s.param_count, s.param_types.data()) == 1;
    case Statement::Kind::text:
      return PQsendQueryParams(conn_, s.sql, 0, nullptr, nullptr, nullptr, nullptr, 1) == 1;
  }
  return false;
}

Result<void> Connection::await_result(Clock::time_point deadline) {
  for (int i = 0; i < wait_iterations_max; ++i) {
    const int flushed = PQflush(conn_);
    if (flushed < 0) return lost("while sending");
    if (PQisBusy(conn_) == 0) return {};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{PQsocket(conn_), static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0)), 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1'000)));
    if (n < 0 && errno != EINTR) return lost("while waiting");
    if (n > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0 && PQconsumeInput(conn_) == 0) {
      return lost("while reading");
    }
  }
  timed_out_ = true;
  return lost("(no reply within reply_timeout)");
}

bool Connection::send_all(std::span<const Statement> statements, Reply& reply) {
  if (!std::exchange(probed_, false) && !probe()) {
    reply.error = lost("while idle");
    reply.connection_lost = true;
    return false;
  }
  reply.sent = true;
  for (const Statement& s : statements) {
    if (!send(s)) {
      reply.error = lost("while queueing a statement");
      reply.connection_lost = true;
      return false;
    }
  }
  if (PQpipelineSync(conn_) != 1) {
    reply.error = lost("while sending the sync");
    reply.connection_lost = true;
    return false;
  }
  return true;
}

Reply Connection::round_trip(std::span<const Statement> statements, Clock::time_point deadline) {
  Reply reply;
  if (!send_all(statements, reply)) return reply;
  auto fail = [&](Error error) {
    if (!reply.error) reply.error = std::move(error), reply.failed_statement = reply.results.size();
    reply.connection_lost = true;
    return std::move(reply);
  };
  // The answers of detached statements come first (sent before ours).
  if (auto drained = drain_detached(deadline); !drained.ok()) return fail(drained.error());
  // Each statement yields one result and a null; the sync yields its own result.
  const std::size_t steps_max = 2 * statements.size() + 4;
  for (std::size_t step = 0; step < steps_max; ++step) {
    if (auto waited = await_result(deadline); !waited.ok()) return fail(waited.error());
    PgResult result(PQgetResult(conn_));
    if (PQstatus(conn_) != CONNECTION_OK) {
      Error why = lost("during a round trip");
      if (result && PQresultStatus(result.get()) == PGRES_FATAL_ERROR) {
        why.detail += "; " + classify(result.get(), *spec_).detail;
      }
      return fail(std::move(why));
    }
    if (!result) continue;
    const ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_PIPELINE_SYNC) return reply;
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
      // After a failure the server skips the rest (PGRES_PIPELINE_ABORTED); no result is kept then.
      if (!reply.error) reply.results.push_back(std::move(result));
    } else if (status == PGRES_FATAL_ERROR && !reply.error) {
      reply.error = classify(result.get(), *spec_);
      reply.failed_statement = reply.results.size();
    }
  }
  // The server answered more than it was asked: the protocol is out of step.
  return fail(lost("(unexpected results in the pipeline)"));
}

Error classify(const PGresult* result, const ConnectSpec& spec) {
  const char* state_text = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string state = state_text ? state_text : "";
  const std::string detail = spec.mask("SQLSTATE " + (state.empty() ? std::string("?") : state) + ": " +
                                       trimmed(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)));
  // 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available
  // (lock_timeout): a concurrent transaction won; running again may succeed.
  if (state == "40001" || state == "40P01" || state == "55P03") return make_error(errc::conflict, detail);
  // 08 connection exception, 57P01-03 shutdown / crash / not yet accepting,
  // 53 insufficient resources (too many connections), 57014 statement_timeout.
  if (state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03" ||
      state.starts_with("53") || state == "57014") {
    return make_error(errc::unavailable, detail);
  }
  if (state == "25006") return make_error(errc::read_only, detail);
  // 42501 insufficient_privilege: the role lacks the privilege (a read-only context's write).
  if (state == "42501") return make_error(errc::permission_denied, detail);
  return make_error(errc::backend_error, detail);
}

std::string encode_int8(std::int64_t value) {
  std::string out(8, '\0');
  auto bits = static_cast<std::uint64_t>(value);
  for (int i = 7; i >= 0; --i, bits >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(bits & 0xff);
  return out;
}

}  // namespace plexus::store::postgres
