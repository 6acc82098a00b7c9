// The local host's datastore work: key space and lease at start, and fenced
// write batches (see local_store.hpp).
#include "plexus/tenants/local_store.hpp"

#include <chrono>

#include "plexus/store/tenant_layout.hpp"
#include "plexus/store/tuple.hpp"

namespace plexus::tenants::local_detail {
namespace {

/// The lease as stored (fence.hpp's layout), read raw in `transaction`.
Result<std::optional<Lease>> load_lease(store::Transaction& transaction, const std::string& key) {
  auto bytes = transaction.get(key);
  if (!bytes) return bytes.error();
  return decode_lease(*bytes);
}

Result<void> store_lease(store::Transaction& transaction, const std::string& key, const Lease& lease) {
  auto packed = encode_lease(lease);
  if (!packed) return packed.error();
  return transaction.set(key, *packed);
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
  if (auto held = still_held(item.lease, *stored); !held) return held;
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

/// The full key of `key` in the tenant with prefix `prefix`: pack((Bytes P,)) + pack(key).
Result<std::string> key_in(const std::string& prefix, const store::Tuple& key) {
  auto full = store::pack(store::Tuple{store::Bytes{prefix}});
  if (!full) return full.error();
  if (auto ok = store::pack_append(*full, key); !ok) return ok.error();
  return full;
}

/// One start inside the batch's transaction (see OpenRequest). The store's
/// own directory layout (tenant_layout) is used so a batch of starts is one
/// transaction; Tenants::open_or_create does the same one tenant at a time.
Result<Result<Opened>> open_one(store::Transaction& transaction, const OpenRequest& item, std::int64_t now_ms) {
  auto meta = store::tenant_layout::read_meta(transaction, item.id);
  if (!meta) return meta.error();
  if (!*meta) {
    auto created = store::tenant_layout::create_entry(transaction, item.id);
    if (!created) return created.error();
    *meta = *created;
  }
  Opened opened;
  opened.prefix = (*meta)->prefix;
  auto lease_key = key_in(opened.prefix, {std::string(reserved_element), "lease"});
  if (!lease_key) return lease_key.error();
  auto stored = load_lease(transaction, *lease_key);
  if (!stored) return stored.error();
  const auto& current = *stored;
  const bool free = !current || current->owner.empty() || current->owner == item.node || current->expires_unix_ms <= now_ms;
  if (!free) {
    return Result<Opened>(make_error(errc::lease_held, "held by '" + current->owner + "' at epoch " +
                                                           std::to_string(current->epoch) + " until " +
                                                           std::to_string(current->expires_unix_ms) + " ms"));
  }
  opened.lease = Lease{item.node, (current ? current->epoch : 0) + 1, now_ms + item.ttl.count()};
  if (auto ok = store_lease(transaction, *lease_key, opened.lease); !ok) return ok.error();
  if (item.read_snapshot) {
    auto snapshot_key = key_in(opened.prefix, {std::string(reserved_element), "snapshot"});
    if (!snapshot_key) return snapshot_key.error();
    auto snapshot = transaction.get(*snapshot_key);
    if (!snapshot) return snapshot.error();
    opened.snapshot = std::move(*snapshot);
  }
  return Result<Opened>(std::move(opened));
}

Result<std::vector<Result<Opened>>> open_once(store::Database& database, std::vector<OpenRequest>& items,
                                              std::size_t first, std::size_t count) {
  std::vector<Result<Opened>> outcomes;
  auto ran = database.run([&](store::Transaction& transaction) -> Result<void> {
    outcomes.clear();  // a retried attempt starts over
    const std::int64_t now_ms = unix_ms_now();
    for (std::size_t i = first; i < first + count; ++i) {
      auto outcome = open_one(transaction, items[i], now_ms);
      if (!outcome) return outcome.error();
      outcomes.push_back(std::move(outcome).value());
    }
    return {};
  });
  if (!ran) return ran.error();
  return outcomes;
}

}  // namespace

void run_open_batch(store::Database& database, std::vector<OpenRequest>& items) {
  if (items.empty()) return;
  auto outcomes = open_once(database, items, 0, items.size());
  if (outcomes) {
    for (std::size_t i = 0; i < items.size(); ++i) items[i].done(std::move((*outcomes)[i]));
    return;
  }
  if (items.size() == 1) return items[0].done(outcomes.error());
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto alone = open_once(database, items, i, 1);
    items[i].done(alone ? std::move((*alone)[0]) : Result<Opened>(alone.error()));
  }
}

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

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace plexus::tenants::local_detail
