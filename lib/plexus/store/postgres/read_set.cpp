// Read validation of read-write transactions (read_set.hpp).
#include "plexus/store/postgres/read_set.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstdint>

#include "plexus/store/errors.hpp"

namespace plexus::store::postgres {
namespace {

void feed(crypto_generichash_state& state, std::string_view bytes) {
  const auto size = static_cast<std::uint32_t>(bytes.size());
  unsigned char length[4] = {static_cast<unsigned char>(size >> 24), static_cast<unsigned char>(size >> 16),
                             static_cast<unsigned char>(size >> 8), static_cast<unsigned char>(size)};
  crypto_generichash_update(&state, length, sizeof length);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

/// Up to 40 bytes of a key, printable bytes as they are and others as \xNN.
std::string shown(std::string_view key) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < key.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  if (key.size() > 40) out += "...";
  return out;
}

}  // namespace

void WriteLog::add_key(std::string_view key) {
  first_write_.try_emplace(std::string(key), count_);
  ++count_;
}

void WriteLog::add_range(std::string_view begin, std::string_view end) {
  ranges_.push_back(Range{std::string(begin), std::string(end), count_});
  ++count_;
}

bool WriteLog::covers(std::string_view key, std::size_t mark) const {
  if (auto found = first_write_.find(key); found != first_write_.end() && found->second < mark) return true;
  return std::any_of(ranges_.begin(), ranges_.end(), [&](const Range& r) {
    return r.index < mark && r.begin <= key && key < r.end;
  });
}

Digest digest_of(std::span<const RowVersion> rows, const WriteLog& writes, std::size_t mark) {
  std::vector<RowVersion> sorted;
  sorted.reserve(rows.size());
  for (const RowVersion& row : rows) {
    if (!writes.covers(row.key, mark)) sorted.push_back(row);
  }
  std::sort(sorted.begin(), sorted.end(), [](const RowVersion& a, const RowVersion& b) { return a.key < b.key; });
  crypto_generichash_state state;
  Digest digest{};
  crypto_generichash_init(&state, nullptr, 0, digest.size());
  for (const RowVersion& row : sorted) {
    feed(state, row.key);
    feed(state, row.xmin);
  }
  crypto_generichash_final(&state, digest.data(), digest.size());
  return digest;
}

Result<void> ReadSet::add(std::string begin, std::string end, std::span<const RowVersion> rows,
                          const WriteLog& writes) {
  if (records_.size() >= read_records_max) {
    return make_error(errc::transaction_too_large, "more than " + std::to_string(read_records_max) +
                                                       " reads in one read-write transaction (read_records_max)");
  }
  const std::size_t mark = writes.mark();
  records_.push_back(Record{std::move(begin), std::move(end), mark, digest_of(rows, writes, mark)});
  return {};
}

Result<void> ReadSet::validate(Connection& connection, const WriteLog& writes, Clock::time_point deadline) const {
  const std::string limit = encode_int8(static_cast<std::int64_t>(validation_rows_max + 1));
  std::vector<Statement> statements;
  statements.reserve(records_.size());
  for (const Record& record : records_) {
    Statement s;
    s.kind = Statement::Kind::prepared;
    s.name = validate_statement;
    s.params = {record.begin, record.end, limit};
    s.param_count = 3;
    statements.push_back(s);
  }
  Reply reply = connection.round_trip(statements, deadline);
  if (reply.error) return *reply.error;
  if (reply.results.size() != records_.size()) return make_error(errc::backend_error, "validation: results missing");
  std::vector<RowVersion> rows;
  for (std::size_t i = 0; i < records_.size(); ++i) {
    const PGresult* result = reply.results[i].get();
    const int count = PQntuples(result);
    rows.clear();
    for (int row = 0; row < count; ++row) {
      rows.push_back(RowVersion{{PQgetvalue(result, row, 0), static_cast<std::size_t>(PQgetlength(result, row, 0))},
                                {PQgetvalue(result, row, 1), static_cast<std::size_t>(PQgetlength(result, row, 1))}});
    }
    const Record& record = records_[i];
    if (static_cast<std::size_t>(count) > validation_rows_max ||
        digest_of(rows, writes, record.mark) != record.digest) {
      return make_error(errc::conflict, "keys in [" + shown(record.begin) + ", " + shown(record.end) +
                                            ") read by this transaction were changed by a later commit");
    }
  }
  return {};
}

}  // namespace plexus::store::postgres
