// A PostgreSQL backend transaction (transaction.hpp): buffered writes, one
// pipelined round trip per read or commit, and the mapping of a lost
// connection to unavailable or commit_unknown_result.
#include "plexus/store/postgres/transaction.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "plexus/store/errors.hpp"

namespace plexus::store::postgres {
namespace {

Statement text(const char* sql) {
  Statement s;
  s.kind = Statement::Kind::text;
  s.sql = sql;
  return s;
}

Statement prepared(const char* name, std::string_view a, std::string_view b = {}, std::string_view c = {},
                   int count = 1) {
  Statement s;
  s.kind = Statement::Kind::prepared;
  s.name = name;
  s.params = {a, b, c};
  s.param_count = count;
  return s;
}

std::string column(const PGresult* result, int row, int field) {
  return std::string(PQgetvalue(result, row, field), static_cast<std::size_t>(PQgetlength(result, row, field)));
}

}  // namespace

PgTransaction::PgTransaction(std::shared_ptr<Shared> shared, std::unique_ptr<Connection> connection, Mode mode)
    : shared_(std::move(shared)), connection_(std::move(connection)), mode_(mode) {}

PgTransaction::~PgTransaction() { finish(); }

Result<void> PgTransaction::start() {
  auto started = exchange(text("SELECT 1"), false);
  if (!started.ok()) return started.error();
  return {};
}

Result<void> PgTransaction::record_read(std::string begin, std::string end, const PGresult* rows,
                                        std::size_t row_count, int key_column, int xmin_column) {
  if (mode_ != Mode::read_write) return {};
  std::vector<RowVersion> seen;
  seen.reserve(row_count);
  for (int i = 0; i < static_cast<int>(row_count); ++i) {
    seen.push_back(RowVersion{
        {PQgetvalue(rows, i, key_column), static_cast<std::size_t>(PQgetlength(rows, i, key_column))},
        {PQgetvalue(rows, i, xmin_column), static_cast<std::size_t>(PQgetlength(rows, i, xmin_column))}});
  }
  return reads_.add(std::move(begin), std::move(end), seen, writes_);
}

Result<void> PgTransaction::validate_reads() {
  auto connection = shared_->validation_pool->acquire();
  if (!connection.ok()) return connection.error();
  auto valid = reads_.validate(**connection, writes_, Clock::now() + shared_->reply_timeout);
  shared_->round_trips.fetch_add(1, std::memory_order_relaxed);
  shared_->validation_pool->release(std::move(*connection));
  return valid;
}

Result<void> PgTransaction::usable() const {
  if (finished_) return make_error(errc::transaction_closed, "the PostgreSQL transaction has ended");
  return {};
}

Result<void> PgTransaction::check_key(std::string_view key) const {
  if (key.size() > shared_->limits.key_bytes_max) {
    return make_error(errc::key_too_large, "key of " + std::to_string(key.size()) +
                                               " bytes; the PostgreSQL backend's limit is " +
                                               std::to_string(shared_->limits.key_bytes_max) +
                                               " (one btree index entry)");
  }
  return {};
}

std::vector<Statement> PgTransaction::pending_statements(bool commits) const {
  std::vector<Statement> statements;
  statements.reserve(pending_.size() + held_.size() + 2);
  if (!begun_) {
    statements.push_back(text(mode_ == Mode::read_write ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                                                        : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  }
  // A transaction that wrote nothing cannot conflict: its held reads need no lock.
  if (commits && writes_.mark() > 0) {
    for (const auto& key : held_) statements.push_back(prepared(statement_name::lock, key));
  }
  for (const Write& w : pending_) {
    switch (w.kind) {
      case Write::Kind::set:
        statements.push_back(prepared(statement_name::upsert, w.key, w.value_or_end, {}, 2));
        break;
      case Write::Kind::clear:
        statements.push_back(prepared(statement_name::remove, w.key));
        break;
      case Write::Kind::clear_range:
        statements.push_back(prepared(statement_name::remove_range, w.key, w.value_or_end, {}, 2));
        break;
    }
  }
  return statements;
}

Result<PgResult> PgTransaction::exchange(std::optional<Statement> last, bool commits) {
  std::vector<Statement> statements = pending_statements(commits);
  const std::size_t last_index = statements.size();
  if (last) statements.push_back(*last);
  shared_->round_trips.fetch_add(1, std::memory_order_relaxed);
  Reply reply = connection_->round_trip(statements, Clock::now() + shared_->reply_timeout);
  // A pooled connection the server closed without our noticing (a restart)
  // fails the first round trip; as nothing of the transaction was seen or
  // committed yet, it runs once more on a fresh connection. A server that
  // did not answer in time is not asked twice.
  if (reply.error && reply.connection_lost && !connection_->timed_out() && !begun_ && !(commits && reply.sent)) {
    shared_->pool->release(std::move(connection_));
    auto fresh = shared_->pool->acquire();
    if (!fresh.ok()) {
      finished_ = true;
      return fresh.error();
    }
    connection_ = std::move(*fresh);
    shared_->round_trips.fetch_add(1, std::memory_order_relaxed);
    reply = connection_->round_trip(statements, Clock::now() + shared_->reply_timeout);
  }
  if (!reply.error) {
    begun_ = true;
    pending_.clear();
    pending_bytes_ = 0;
    if (!last || reply.results.size() != statements.size()) return PgResult{};
    return std::move(reply.results.back());
  }
  Error error = std::move(*reply.error);
  // A statement before COMMIT that failed stopped the pipeline: nothing was
  // committed. A connection lost waiting for COMMIT's own answer leaves the
  // outcome unknown.
  if (commits && reply.sent && reply.connection_lost && reply.failed_statement >= last_index) {
    error = make_error(errc::commit_unknown_result,
                       "connection lost during COMMIT; the transaction may or may not have committed: " +
                           error.detail);
  }
  finish();
  return error;
}

Result<std::optional<std::string>> PgTransaction::get(std::string_view key) { return read_point(key, false); }

Result<std::optional<std::string>> PgTransaction::get_held(std::string_view key) {
  return read_point(key, mode_ == Mode::read_write);
}

Result<std::optional<std::string>> PgTransaction::read_point(std::string_view key, bool held) {
  if (auto ok = usable(); !ok.ok()) return ok.error();
  if (auto ok = check_key(key); !ok.ok()) return ok.error();
  const bool records = mode_ == Mode::read_write;
  auto result = exchange(prepared(records ? statement_name::get : statement_name::get_snapshot, key), false);
  if (!result.ok()) return result.error();
  const PGresult* rows = result->get();
  if (rows == nullptr) return make_error(errc::backend_error, "no result for a point read");
  const int found = PQntuples(rows);
  std::optional<std::string> value;
  if (found > 0) value = column(rows, 0, 0);
  if (mode_ != Mode::read_write) return value;
  // A row read held is validated by its lock at commit (get_held()).
  if (held && found > 0) {
    held_.emplace_back(key);
    return value;
  }
  if (auto ok = record_read(std::string(key), std::string(key) + '\0', rows, static_cast<std::size_t>(found), 2, 1);
      !ok.ok()) {
    return ok.error();
  }
  return value;
}

Result<bool> PgTransaction::get_range(std::string_view begin, std::string_view end, std::size_t limit, bool reverse,
                                      RowSink& sink) {
  if (auto ok = usable(); !ok.ok()) return ok.error();
  if (begin > end) return make_error(errc::invalid_range, "range begin sorts after its end");
  if (limit == 0) return make_error(errc::invalid_range, "range limit 0");
  if (begin == end) return false;
  // One row more than asked tells whether rows were left out.
  const std::size_t fetch = std::min<std::size_t>(limit, std::numeric_limits<std::int32_t>::max()) + 1;
  const std::string fetch_bytes = encode_int8(static_cast<std::int64_t>(fetch));
  auto result = exchange(
      prepared(reverse ? statement_name::range_reverse : statement_name::range, begin, end, fetch_bytes, 3), false);
  if (!result.ok()) return result.error();
  const PGresult* rows = result->get();
  if (rows == nullptr) return make_error(errc::backend_error, "no result for a range read");
  const auto count = static_cast<std::size_t>(PQntuples(rows));
  const bool more = count > limit;
  const std::size_t kept = std::min(count, limit);
  auto field = [rows](std::size_t row, int column) {
    const int r = static_cast<int>(row);
    return std::string_view(PQgetvalue(rows, r, column), static_cast<std::size_t>(PQgetlength(rows, r, column)));
  };
  for (std::size_t i = 0; i < kept; ++i) sink.add(field(i, 0), field(i, 1));
  // The span read: up to the last row returned when the limit cut it short.
  std::string span_begin(begin), span_end(end);
  if (more && reverse) span_begin = field(kept - 1, 0);
  if (more && !reverse) span_end = std::string(field(kept - 1, 0)) + '\0';
  // The extra row fetched to learn `more` lies outside the span: not recorded.
  if (auto ok = record_read(std::move(span_begin), std::move(span_end), rows, kept, 0, 2); !ok.ok()) {
    return ok.error();
  }
  return more;
}

Result<void> PgTransaction::buffer(Write write) {
  if (auto ok = usable(); !ok.ok()) return ok.error();
  if (mode_ != Mode::read_write) return make_error(errc::read_only, "a write in a snapshot transaction");
  if (write.kind == Write::Kind::clear_range) {
    writes_.add_range(write.key, write.value_or_end);
  } else {
    writes_.add_key(write.key);
  }
  pending_bytes_ += write.key.size() + write.value_or_end.size();
  pending_.push_back(std::move(write));
  if (pending_.size() < write_buffer_statements_max && pending_bytes_ < write_buffer_bytes_max) return {};
  auto flushed = exchange(std::nullopt, false);
  if (!flushed.ok()) return flushed.error();
  return {};
}

Result<void> PgTransaction::set(std::string_view key, std::string_view value) {
  if (auto ok = check_key(key); !ok.ok()) return ok.error();
  if (value.size() > shared_->limits.value_bytes_max) {
    return make_error(errc::value_too_large, "value of " + std::to_string(value.size()) + " bytes");
  }
  return buffer(Write{Write::Kind::set, std::string(key), std::string(value)});
}

Result<void> PgTransaction::clear(std::string_view key) {
  if (auto ok = check_key(key); !ok.ok()) return ok.error();
  return buffer(Write{Write::Kind::clear, std::string(key), {}});
}

Result<void> PgTransaction::clear_range(std::string_view begin, std::string_view end) {
  if (begin > end) return make_error(errc::invalid_range, "range begin sorts after its end");
  if (begin == end) return usable();
  return buffer(Write{Write::Kind::clear_range, std::string(begin), std::string(end)});
}

Result<void> PgTransaction::commit() {
  if (auto ok = usable(); !ok.ok()) return ok.error();
  // A snapshot has nothing to make durable, and a read-write transaction that
  // never reached the server has nothing to commit: both just end.
  if (mode_ == Mode::snapshot || (!begun_ && pending_.empty())) {
    finish();
    return {};
  }
  // A transaction that wrote nothing cannot conflict (as in FoundationDB);
  // one that wrote checks what it read first.
  if (writes_.mark() > 0 && !reads_.empty()) {
    if (auto valid = validate_reads(); !valid.ok()) {
      finish();
      return valid.error();
    }
  }
  auto result = exchange(text("COMMIT"), true);
  if (!result.ok()) return result.error();
  const PGresult* done = result->get();
  // COMMIT of a transaction the server had already aborted answers ROLLBACK.
  if (done == nullptr || std::strcmp(PQcmdStatus(const_cast<PGresult*>(done)), "COMMIT") != 0) {
    finish();
    return make_error(errc::backend_error, "COMMIT was answered with a rollback");
  }
  finish();
  return {};
}

void PgTransaction::cancel() noexcept { finish(); }

void PgTransaction::finish() noexcept {
  if (finished_) return;
  finished_ = true;
  pending_.clear();
  if (!connection_) return;
  if (!connection_->broken() && !connection_->idle()) {
    const Statement rollback = text("ROLLBACK");
    // Sent without waiting: the server ends the transaction at once, and the
    // connection's next round trip reads the answer with its own. One that
    // cannot be sent leaves the connection broken; the pool then closes it.
    (void)connection_->send_detached(std::span<const Statement>(&rollback, 1));
  }
  shared_->pool->release(std::move(connection_));
}

}  // namespace plexus::store::postgres
