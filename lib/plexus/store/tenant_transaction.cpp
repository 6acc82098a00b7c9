// Tenant handles and their transactions: every key is checked against, or
// built inside, the tenant's [pack((P,)), pack((P,)) + ff) before it reaches
// the datastore, so no call can touch another tenant's keys.
#include <utility>

#include "plexus/store/tenant.hpp"
#include "plexus/store/tenant_layout.hpp"

namespace plexus::store {
namespace {

Error outside(std::string_view what, std::string_view key, const TenantSpace& space) {
  return make_error(errc::outside_tenant, std::string(what) + " " + to_hex(key) + " is outside tenant " +
                                             tenant_layout::describe_id(space.id) + " [" + to_hex(space.key_begin) +
                                             ", " + to_hex(space.key_end) + ")");
}

/// key_begin <= key < key_end, where key_end is key_begin + ff.
bool inside(std::string_view key, const TenantSpace& space) {
  const std::size_t length = space.key_begin.size();
  return key.starts_with(space.key_begin) && (key.size() == length || key[length] != '\xff');
}

}  // namespace

// --- TenantTransaction ---

TenantTransaction::TenantTransaction(Transaction&& owned, std::shared_ptr<const TenantSpace> space)
    : owned_(std::move(owned)), transaction_(&*owned_), space_(std::move(space)) {}

TenantTransaction::TenantTransaction(Transaction& borrowed, std::shared_ptr<const TenantSpace> space)
    : transaction_(&borrowed), space_(std::move(space)) {}

TenantTransaction::TenantTransaction(TenantTransaction&& other) noexcept
    : owned_(std::move(other.owned_)),
      transaction_(owned_ ? &*owned_ : other.transaction_),
      space_(std::move(other.space_)) {}

Result<std::string_view> TenantTransaction::full_key(std::span<const Element> key) {
  thread_local std::string buffer;
  buffer.assign(space_->key_begin);
  if (auto packed = pack_append(buffer, key); !packed.ok()) return packed.error();
  return std::string_view(buffer);
}

Result<void> TenantTransaction::check_key(std::string_view key) const {
  return inside(key, *space_) ? Result<void>() : outside("key", key, *space_);
}

Result<void> TenantTransaction::check_range(std::string_view begin, std::string_view end) const {
  if (begin < space_->key_begin) return outside("range begin", begin, *space_);
  if (end > space_->key_end) return outside("range end", end, *space_);
  return {};
}

Result<std::optional<std::string>> TenantTransaction::get(const Tuple& key) { return get_elements(key); }

Result<void> TenantTransaction::set(const Tuple& key, std::string_view value) { return set_elements(key, value); }

Result<void> TenantTransaction::clear(const Tuple& key) { return clear_elements(key); }

Result<std::optional<std::string>> TenantTransaction::get(std::initializer_list<Element> key) {
  return get_elements({key.begin(), key.size()});
}

Result<void> TenantTransaction::set(std::initializer_list<Element> key, std::string_view value) {
  return set_elements({key.begin(), key.size()}, value);
}

Result<void> TenantTransaction::clear(std::initializer_list<Element> key) {
  return clear_elements({key.begin(), key.size()});
}

Result<std::optional<std::string>> TenantTransaction::get_elements(std::span<const Element> key) {
  auto full = full_key(key);
  if (!full.ok()) return full.error();
  return transaction_->get(*full);
}

Result<void> TenantTransaction::set_elements(std::span<const Element> key, std::string_view value) {
  auto full = full_key(key);
  if (!full.ok()) return full.error();
  return transaction_->set(*full, value);
}

Result<void> TenantTransaction::clear_elements(std::span<const Element> key) {
  auto full = full_key(key);
  if (!full.ok()) return full.error();
  return transaction_->clear(*full);
}

Result<TupleRangeResult> TenantTransaction::get_range(const Tuple& prefix, RangeOptions options) {
  auto bounds = range(prefix);
  if (!bounds.ok()) return bounds.error();
  return tuple_rows(space_->key_begin + bounds->begin, space_->key_begin + bounds->end, options);
}

Result<TupleRangeResult> TenantTransaction::get_range_rest(const KeyRange& rest, RangeOptions options) {
  if (auto inside = check_range(rest.begin, rest.end); !inside.ok()) return inside.error();
  return tuple_rows(rest.begin, rest.end, options);
}

Result<TupleRangeResult> TenantTransaction::tuple_rows(std::string_view begin, std::string_view end,
                                                       RangeOptions options) {
  auto raw = transaction_->get_range(begin, end, options);
  if (!raw.ok()) return raw.error();
  TupleRangeResult result;
  result.more = raw->more;
  if (raw->more) {
    const std::string& last = raw->rows.back().key;
    result.rest = options.reverse ? KeyRange{std::string(begin), last} : KeyRange{last + '\0', std::string(end)};
  }
  result.rows.reserve(raw->rows.size());
  for (auto& row : raw->rows) {
    auto key = unpack(std::string_view(row.key).substr(space_->key_begin.size()));
    if (!key.ok()) return key.error();
    result.rows.push_back(TupleRow{std::move(key).value(), std::move(row.value)});
  }
  return result;
}

Result<void> TenantTransaction::clear_range(const Tuple& prefix) {
  auto bounds = range(prefix);
  if (!bounds.ok()) return bounds.error();
  return transaction_->clear_range(space_->key_begin + bounds->begin, space_->key_begin + bounds->end);
}

Result<std::optional<std::string>> TenantTransaction::get_raw(std::string_view key) {
  if (auto inside = check_key(key); !inside.ok()) return inside.error();
  return transaction_->get(key);
}

Result<void> TenantTransaction::set_raw(std::string_view key, std::string_view value) {
  if (auto inside = check_key(key); !inside.ok()) return inside.error();
  return transaction_->set(key, value);
}

Result<void> TenantTransaction::clear_raw(std::string_view key) {
  if (auto inside = check_key(key); !inside.ok()) return inside.error();
  return transaction_->clear(key);
}

Result<RangeResult> TenantTransaction::get_range_raw(std::string_view begin, std::string_view end,
                                                     RangeOptions options) {
  if (auto inside = check_range(begin, end); !inside.ok()) return inside.error();
  return transaction_->get_range(begin, end, options);
}

Result<void> TenantTransaction::clear_range_raw(std::string_view begin, std::string_view end) {
  if (auto inside = check_range(begin, end); !inside.ok()) return inside.error();
  return transaction_->clear_range(begin, end);
}

Result<void> TenantTransaction::commit() { return transaction_->commit(); }

void TenantTransaction::cancel() noexcept { transaction_->cancel(); }

// --- Tenant ---

Tenant::Tenant(std::shared_ptr<Database> database, std::shared_ptr<const TenantSpace> space,
               std::int64_t migration_version)
    : database_(std::move(database)), space_(std::move(space)), migration_version_(migration_version) {}

Result<std::string> Tenant::pack(const Tuple& key) const {
  std::string full = space_->key_begin;
  if (auto packed = pack_append(full, key); !packed.ok()) return packed.error();
  return full;
}

Result<Tuple> Tenant::unpack(std::string_view key) const {
  if (!inside(key, *space_)) return outside("key", key, *space_);
  return store::unpack(key.substr(space_->key_begin.size()));
}

Result<KeyRange> Tenant::range(const Tuple& prefix) const {
  auto bounds = store::range(prefix);
  if (!bounds.ok()) return bounds.error();
  return KeyRange{space_->key_begin + bounds->begin, space_->key_begin + bounds->end};
}

Result<TenantTransaction> Tenant::begin(Mode mode) const {
  // A read-write transaction's first call is the directory check, right here.
  auto transaction = database_->begin(mode, mode == Mode::read_write ? Start::with_first_call : Start::at_begin);
  if (!transaction.ok()) return transaction.error();
  if (mode == Mode::read_write) {
    if (auto alive = check_alive(*transaction); !alive.ok()) return alive.error();
  }
  return TenantTransaction(std::move(transaction).value(), space_);
}

Result<void> Tenant::check_alive(Transaction& transaction) const {
  auto entry = transaction.get_held(space_->directory_key);
  if (!entry.ok()) return entry.error();
  bool alive = false;
  if (entry->has_value()) {
    auto meta = tenant_layout::decode_meta(space_->id, **entry);
    if (!meta.ok()) return meta.error();
    alive = meta->prefix == space_->prefix;
  }
  if (!alive) {
    return make_error(errc::tenant_not_found, "tenant " + tenant_layout::describe_id(space_->id) + " was removed");
  }
  return {};
}

}  // namespace plexus::store
