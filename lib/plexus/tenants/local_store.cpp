// The local host's datastore work: key space and lease at start, and fenced
// write batches (see local_store.hpp).
#include "plexus/tenants/local_store.hpp"

#include <chrono>

#include "plexus/store/tuple.hpp"

namespace plexus::tenants::local_detail {
namespace {

/// The lease as stored (fence.hpp's layout), read raw in `transaction`.
Result<std::optional<Lease>> load_lease(store::Transaction& transaction, const std::string& key) {
  auto bytes = transaction.get(key);
  if (!bytes) return bytes.error();
  if (!*bytes) return std::optional<Lease>();
  auto tuple = store::unpack(**bytes);
  const bool shaped = tuple && tuple->size() == 3 && std::holds_alternative<std::string>((*tuple)[0].value) &&
                      std::holds_alternative<std::int64_t>((*tuple)[1].value) &&
                      std::holds_alternative<std::int64_t>((*tuple)[2].value);
  if (!shaped) return make_error(errc::invalid_argument, "lease: stored value is not (owner, epoch, expires_unix_ms)");
  return std::optional<Lease>(Lease{std::get<std::string>((*tuple)[0].value), std::get<std::int64_t>((*tuple)[1].value),
                                    std::get<std::int64_t>((*tuple)[2].value)});
}

Result<void> store_lease(store::Transaction& transaction, const std::string& key, const Lease& lease) {
  auto packed = store::pack({lease.owner, lease.epoch, lease.expires_unix_ms});
  if (!packed) return packed.error();
  return transaction.set(key, *packed);
}

Error stale(const Lease& held, const std::optional<Lease>& stored) {
  const std::string now = stored ? "'" + stored->owner + "' at epoch " + std::to_string(stored->epoch) : "no lease";
  return make_error(errc::fenced, "lease of '" + held.owner + "' at epoch " + std::to_string(held.epoch) +
                                      " is stale: stored is " + now);
}

/// One item inside the batch's transaction: the fence check, then its write.
/// Returns the item's own refusal (fenced) as an ok Result holding an error,
/// and a transaction-level failure as an error.
Result<Result<void>> apply(store::Transaction& transaction, const FencedWrite& item) {
  // The tenant's keys are pack((Bytes P,)) + pack(key) (store/tenant.hpp's layout).
  auto begin = store::pack(store::Tuple{store::Bytes{item.prefix}});
  if (!begin) return begin.error();
  auto lease_key = *begin;
  if (auto ok = store::pack_append(lease_key, store::Tuple{std::string(reserved_element), "lease"}); !ok) return ok.error();
  auto stored = load_lease(transaction, lease_key);
  if (!stored) return stored.error();
  if (!*stored || (*stored)->epoch != item.lease.epoch || (*stored)->owner != item.lease.owner) {
    return Result<void>(stale(item.lease, *stored));
  }
  Result<void> written;
  switch (item.kind) {
    case WriteKind::snapshot: {
      auto key = *begin;
      if (auto ok = store::pack_append(key, store::Tuple{std::string(reserved_element), "snapshot"}); !ok) return ok.error();
      written = transaction.set(key, item.state);
      break;
    }
    case WriteKind::renew:
      written = store_lease(transaction, lease_key, Lease{item.lease.owner, item.lease.epoch, item.expires_unix_ms});
      break;
    case WriteKind::release:
      written = store_lease(transaction, lease_key, Lease{"", item.lease.epoch, 0});
      break;
    case WriteKind::clear: {
      written = transaction.clear_range(*begin, *begin + '\xff');
      if (written) written = store_lease(transaction, lease_key, Lease{"", item.lease.epoch, 0});
      break;
    }
  }
  if (!written) return written.error();
  return Result<void>();
}

Result<std::vector<Result<void>>> run_once(store::Database& database, std::vector<FencedWrite>& items,
                                           std::size_t first, std::size_t count) {
  std::vector<Result<void>> outcomes;
  auto ran = database.run([&](store::Transaction& transaction) -> Result<void> {
    outcomes.clear();  // a retried attempt starts over
    for (std::size_t i = first; i < first + count; ++i) {
      auto outcome = apply(transaction, items[i]);
      if (!outcome) return outcome.error();
      outcomes.push_back(std::move(outcome).value());
    }
    return {};
  });
  if (!ran) return ran.error();
  return outcomes;
}

}  // namespace

void run_fenced_batch(store::Database& database, std::vector<FencedWrite>& items) {
  if (items.empty()) return;
  auto outcomes = run_once(database, items, 0, items.size());
  if (outcomes) {
    for (std::size_t i = 0; i < items.size(); ++i) items[i].done((*outcomes)[i]);
    return;
  }
  if (items.size() == 1) {
    items[0].done(outcomes.error());
    return;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto alone = run_once(database, items, i, 1);
    items[i].done(alone ? (*alone)[0] : Result<void>(alone.error()));
  }
}

Result<Opened> open_tenant(store::Tenants& tenants, const std::string& id, const std::string& node,
                           std::chrono::milliseconds ttl, bool read_snapshot) {
  auto tenant = tenants.open_or_create(id);
  if (!tenant) return tenant.error();
  auto lease = acquire(*tenant, node, unix_ms_now(), ttl);
  if (!lease) return lease.error();
  Opened opened{*tenant, *lease, std::nullopt};
  if (!read_snapshot) return opened;
  auto snapshot = fenced_run(*tenant, *lease, [](FencedTransaction& transaction) { return transaction.read_snapshot(); });
  if (!snapshot) return snapshot.error();
  opened.snapshot = std::move(*snapshot);
  return opened;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace plexus::tenants::local_detail
