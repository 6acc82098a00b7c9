// The node's durable event log (layout and promises in event_log.hpp).
#include "plexus/tenants/event_log.hpp"

#include <algorithm>

#include "plexus/store/tuple.hpp"
#include "plexus/tenants/errors.hpp"

namespace plexus::tenants {
namespace {

constexpr std::string_view space = "plexus_tenants";

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The seq of a stored key (after the `ff` byte), or invalid_argument.
Result<std::uint64_t> seq_of(std::string_view key) {
  auto tuple = store::unpack(key.substr(1));
  if (!tuple || tuple->size() != 4 || !std::holds_alternative<std::int64_t>((*tuple)[3].value)) {
    return make_error(errc::invalid_argument, "event log key: not (\"plexus_tenants\", \"events\", node, seq)");
  }
  return static_cast<std::uint64_t>(std::get<std::int64_t>((*tuple)[3].value));
}

Result<LoggedEvent> decode(std::uint64_t seq, std::string_view value) {
  auto t = store::unpack(value);
  const bool shaped = t && t->size() == 7 && std::holds_alternative<std::string>((*t)[0].value) &&
                      std::holds_alternative<std::int64_t>((*t)[1].value) &&
                      std::holds_alternative<bool>((*t)[2].value) && std::holds_alternative<std::string>((*t)[3].value) &&
                      std::holds_alternative<std::string>((*t)[4].value) &&
                      std::holds_alternative<std::int64_t>((*t)[5].value) &&
                      std::holds_alternative<std::int64_t>((*t)[6].value);
  const auto kind = shaped ? std::get<std::int64_t>((*t)[1].value) : -1;
  if (!shaped || kind < 0 || kind > static_cast<std::int64_t>(EventKind::error_occurred)) {
    return make_error(errc::invalid_argument, "event " + std::to_string(seq) +
                                                  ": not (tenant, kind, ok, reason, key, generation, unix_ms)");
  }
  LoggedEvent e;
  e.seq = seq;
  e.tenant = std::get<std::string>((*t)[0].value);
  e.kind = static_cast<EventKind>(kind);
  e.ok = std::get<bool>((*t)[2].value);
  e.reason = std::get<std::string>((*t)[3].value);
  e.key = std::get<std::string>((*t)[4].value);
  e.generation = static_cast<std::uint64_t>(std::get<std::int64_t>((*t)[5].value));
  e.unix_ms = std::get<std::int64_t>((*t)[6].value);
  return e;
}

}  // namespace

Result<std::shared_ptr<EventLog>> EventLog::open(std::shared_ptr<store::Database> database, std::string node,
                                                 EventLogOptions options) {
  if (!database) return make_error(errc::invalid_argument, "event log: no database");
  if (options.keep_max == 0 || options.read_max == 0) {
    return make_error(errc::invalid_argument, "event log: keep_max and read_max must be positive");
  }
  auto prefix = store::pack({std::string(space), "events", node});
  if (!prefix) return prefix.error();
  const std::string begin = "\xff" + *prefix;
  auto last = database->run([&](store::Transaction& transaction) -> Result<std::uint64_t> {
    auto rows = transaction.get_range(begin, begin + "\xff", {.limit = 1, .reverse = true});
    if (!rows) return rows.error();
    if (rows->rows.empty()) return std::uint64_t{0};
    return seq_of(rows->rows.front().key);
  });
  if (!last) return last.error();
  return std::shared_ptr<EventLog>(new EventLog(std::move(database), std::move(node), options, *last));
}

EventLog::EventLog(std::shared_ptr<store::Database> database, std::string node, EventLogOptions options,
                   std::uint64_t last)
    : database_(std::move(database)), node_(std::move(node)), options_(options), last_(last) {
  prefix_ = "\xff" + *store::pack({std::string(space), "events", node_});
}

Result<std::string> EventLog::key_of(std::uint64_t seq) const {
  auto packed = store::pack({static_cast<std::int64_t>(seq)});
  if (!packed) return packed.error();
  return prefix_ + *packed;  // pack((a, b)) == pack((a,)) + pack((b,))
}

Result<std::uint64_t> EventLog::append(const Event& event) {
  std::lock_guard serial(append_mutex_);
  const std::uint64_t seq = last() + 1;
  LoggedEvent logged{seq, event.tenant, event.kind, event.ok, event.reason, event.key, event.generation, unix_ms_now()};
  auto key = key_of(seq);
  auto value = store::pack({logged.tenant, static_cast<std::int64_t>(logged.kind), logged.ok, logged.reason,
                            logged.key, static_cast<std::int64_t>(logged.generation), logged.unix_ms});
  if (!key) return key.error();
  if (!value) return value.error();
  auto oldest_kept = key_of(seq > options_.keep_max ? seq - options_.keep_max + 1 : 1);
  if (!oldest_kept) return oldest_kept.error();
  auto written = database_->run([&](store::Transaction& transaction) -> Result<void> {
    if (auto ok = transaction.set(*key, *value); !ok) return ok;
    return transaction.clear_range(prefix_, *oldest_kept);
  });
  if (!written) return written.error();
  std::vector<Subscriber> subscribers;
  {
    std::lock_guard lock(mutex_);
    last_ = seq;
    for (const auto& [id, fn] : subscribers_) subscribers.push_back(fn);
  }
  appended_.notify_all();
  for (const auto& fn : subscribers) fn(logged);
  return seq;
}

Result<EventPage> EventLog::read(std::uint64_t after, std::size_t limit) const {
  const std::size_t count = limit == 0 ? options_.read_max : std::min(limit, options_.read_max);
  auto from = key_of(after + 1);
  if (!from) return from.error();
  auto transaction = database_->begin(store::Mode::snapshot);
  if (!transaction) return transaction.error();
  EventPage page;
  page.next = after;
  auto first = transaction->get_range(prefix_, prefix_ + "\xff", {.limit = 1});
  if (!first) return first.error();
  if (!first->rows.empty()) {
    auto seq = seq_of(first->rows.front().key);
    if (!seq) return seq.error();
    page.first_kept = *seq;
  }
  auto rows = transaction->get_range(*from, prefix_ + "\xff", {.limit = count});
  if (!rows) return rows.error();
  for (const auto& row : rows->rows) {
    auto seq = seq_of(row.key);
    if (!seq) return seq.error();
    auto event = decode(*seq, row.value);
    if (!event) return event.error();
    page.next = event->seq;
    page.events.push_back(std::move(*event));
  }
  return page;
}

bool EventLog::wait(std::uint64_t after, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  appended_.wait_until(lock, deadline, [&] { return last_ > after || closed_; });
  return last_ > after;
}

std::uint64_t EventLog::last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void EventLog::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  appended_.notify_all();
}

std::uint64_t EventLog::subscribe(Subscriber fn) {
  std::lock_guard lock(mutex_);
  const auto id = next_subscriber_++;
  subscribers_.emplace(id, std::move(fn));
  return id;
}

void EventLog::unsubscribe(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  subscribers_.erase(id);
}

}  // namespace plexus::tenants
