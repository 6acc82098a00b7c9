// The lease with its fencing epoch, and FencedTransaction's guard of the
// manager's reserved keys (see fence.hpp for the layout).
#include "plexus/tenants/fence.hpp"

#include "plexus/store/tuple.hpp"

namespace plexus::tenants {
namespace {

const store::Tuple lease_key{std::string(reserved_element), "lease"};
const store::Tuple snapshot_key{std::string(reserved_element), "snapshot"};

bool reserved(const store::Tuple& key) {
  if (key.empty()) return false;
  const auto* head = std::get_if<std::string>(&key.front().value);
  return head != nullptr && *head == reserved_element;
}

Error reserved_error(std::string_view call) {
  return make_error(errc::reserved_key, std::string(call) + ": keys under (\"__plexus\", ...) are the manager's");
}

Result<std::optional<Lease>> load(store::TenantTransaction& transaction) {
  auto bytes = transaction.get(lease_key);
  if (!bytes) return bytes.error();
  return decode_lease(*bytes);
}

Result<void> store_lease(store::TenantTransaction& transaction, const Lease& lease) {
  auto packed = encode_lease(lease);
  if (!packed) return packed.error();
  return transaction.set(lease_key, *packed);
}

}  // namespace

Result<void> still_held(const Lease& held, const std::optional<Lease>& stored) {
  if (stored && stored->epoch == held.epoch && stored->owner == held.owner) return {};
  const std::string now = stored ? "'" + stored->owner + "' at epoch " + std::to_string(stored->epoch) : "no lease";
  return make_error(errc::fenced, "lease of '" + held.owner + "' at epoch " + std::to_string(held.epoch) +
                                      " is stale: stored is " + now);
}

Result<std::string> encode_lease(const Lease& lease) {
  return store::pack({lease.owner, lease.epoch, lease.expires_unix_ms});
}

Result<std::optional<Lease>> decode_lease(const std::optional<std::string>& bytes) {
  if (!bytes) return std::optional<Lease>();
  auto tuple = store::unpack(*bytes);
  const bool shaped = tuple && tuple->size() == 3 && std::holds_alternative<std::string>((*tuple)[0].value) &&
                      std::holds_alternative<std::int64_t>((*tuple)[1].value) &&
                      std::holds_alternative<std::int64_t>((*tuple)[2].value);
  if (!shaped) return make_error(errc::invalid_argument, "lease: stored value is not (owner, epoch, expires_unix_ms)");
  return std::optional<Lease>(Lease{std::get<std::string>((*tuple)[0].value), std::get<std::int64_t>((*tuple)[1].value),
                                    std::get<std::int64_t>((*tuple)[2].value)});
}

Result<void> check_fence(store::TenantTransaction& transaction, const Lease& held) {
  auto stored = load(transaction);
  if (!stored) return stored.error();
  return still_held(held, *stored);
}

Result<std::optional<Lease>> read_lease(const store::Tenant& tenant) {
  return tenant.run([&](store::TenantTransaction& transaction) { return load(transaction); });
}

Result<Lease> acquire(const store::Tenant& tenant, std::string_view node, std::int64_t now_unix_ms,
                      std::chrono::milliseconds ttl) {
  return tenant.run([&](store::TenantTransaction& transaction) -> Result<Lease> {
    auto stored = load(transaction);
    if (!stored) return stored.error();
    const auto& current = *stored;
    const bool free = !current || current->owner.empty() || current->owner == node || current->expires_unix_ms <= now_unix_ms;
    if (!free) {
      return make_error(errc::lease_held, "held by '" + current->owner + "' at epoch " + std::to_string(current->epoch) +
                                              " until " + std::to_string(current->expires_unix_ms) + " ms");
    }
    Lease next{std::string(node), (current ? current->epoch : 0) + 1, now_unix_ms + ttl.count()};
    if (auto ok = store_lease(transaction, next); !ok) return ok.error();
    return next;
  });
}

Result<Lease> renew(const store::Tenant& tenant, const Lease& held, std::int64_t now_unix_ms,
                    std::chrono::milliseconds ttl) {
  return tenant.run([&](store::TenantTransaction& transaction) -> Result<Lease> {
    if (auto ok = check_fence(transaction, held); !ok) return ok.error();
    Lease next = held;
    next.expires_unix_ms = now_unix_ms + ttl.count();
    if (auto ok = store_lease(transaction, next); !ok) return ok.error();
    return next;
  });
}

Result<void> release(const store::Tenant& tenant, const Lease& held) {
  return tenant.run([&](store::TenantTransaction& transaction) -> Result<void> {
    if (auto ok = check_fence(transaction, held); !ok) return ok.error();
    return store_lease(transaction, Lease{"", held.epoch, 0});
  });
}

Result<std::optional<std::string>> FencedTransaction::get(const store::Tuple& key) {
  if (reserved(key)) return reserved_error("get");
  return transaction_.get(key);
}

Result<void> FencedTransaction::set(const store::Tuple& key, std::string_view value) {
  if (reserved(key)) return reserved_error("set");
  return transaction_.set(key, value);
}

Result<void> FencedTransaction::clear(const store::Tuple& key) {
  if (reserved(key)) return reserved_error("clear");
  return transaction_.clear(key);
}

Result<store::TupleRangeResult> FencedTransaction::get_range(const store::Tuple& prefix, store::RangeOptions options) {
  if (reserved(prefix)) return reserved_error("get_range");
  auto rows = transaction_.get_range(prefix, options);
  if (!rows || !prefix.empty()) return rows;
  // Only the empty prefix spans the reserved subspace; its rows are hidden
  // (a page may then hold fewer than `limit` rows, with `more` as it was).
  std::erase_if(rows->rows, [](const store::TupleRow& row) { return reserved(row.key); });
  return rows;
}

Result<void> FencedTransaction::clear_range(const store::Tuple& prefix) {
  if (reserved(prefix)) return reserved_error("clear_range");
  if (!prefix.empty()) return transaction_.clear_range(prefix);
  // Everything of the tenant but the reserved subspace: the ranges on either side of it.
  auto all = tenant_.range({});
  auto kept = tenant_.range({std::string(reserved_element)});
  if (!all) return all.error();
  if (!kept) return kept.error();
  if (auto ok = transaction_.clear_range_raw(all->begin, kept->begin); !ok) return ok;
  return transaction_.clear_range_raw(kept->end, all->end);
}

Result<void> FencedTransaction::write_snapshot(std::string_view state) { return transaction_.set(snapshot_key, state); }

Result<std::optional<std::string>> FencedTransaction::read_snapshot() { return transaction_.get(snapshot_key); }

}  // namespace plexus::tenants
