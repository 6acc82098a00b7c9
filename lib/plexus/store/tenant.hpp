// Tenant key spaces (EctoFoundationDB.Tenant's DirectoryTenant): a directory
// in the datastore's system subspace maps each tenant id to a short byte
// prefix P allocated from a transactional counter (never reused), and every
// key of the tenant is the tuple pack((P, ...key)), P being the first tuple
// element (a byte string), so no two tenants' keys can overlap. A Tenant
// handle confines every read and write to [pack((P,)), pack((P,)) + ff): not
// strinc(pack((P,))), which would take in the keys of prefix P + 00 + ...,
// since pack((P + 00,)) = pack((P,)) + ff + ... (00 escaped as 00 ff).
//
// Layout, byte for byte (docs/store.md, "Tenant key spaces"):
//   ff 02 "tenant" 00 01 <id, 00 escaped as 00 ff> 00
//        -> pack((Bytes P, created_unix_ms, migration_version))   one per tenant
//   ff 02 "tenant_counter" 00  -> pack((n,))    the last prefix number allocated
//   01 <P, 00 escaped as 00 ff> 00 <pack(key)>  a tenant's keys
// P is the minimal big-endian encoding of the counter value n >= 1.
//
// Seed names: create -> create, exists? -> exists, list -> list (paged),
// open -> open, open! -> open_or_create, open_empty! -> open_empty,
// clear -> clear, delete -> remove, clear_delete! -> clear_remove,
// pack -> Tenant::pack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/store/errors.hpp"
#include "plexus/store/kv.hpp"
#include "plexus/store/tuple.hpp"

namespace plexus::store {

/// Longest tenant id, in bytes (an id is any non-empty byte string). Its
/// directory key is 11 + 2 x 128 bytes at worst (every byte 00, escaped as
/// 00 ff): well under LMDB's 510-byte key limit.
inline constexpr std::size_t tenant_id_bytes_max = 128;
/// Most ids one list() page returns (also the default page size).
inline constexpr std::size_t tenant_list_page_max = 1'000;
/// Most steps in one migration list.
inline constexpr std::size_t tenant_migrations_max = 10'000;

/// A tenant's directory entry.
struct TenantMeta {
  /// The allocated prefix P (the first tuple element of every key), 1..8 bytes.
  std::string prefix;
  std::int64_t created_unix_ms = 0;
  /// Version of the last migration step applied; 0 before any (and after clear()).
  std::int64_t migration_version = 0;
  friend bool operator==(const TenantMeta&, const TenantMeta&) = default;
};

/// One page of list(): ids in byte order; `more` when ids were left out.
struct TenantPage {
  std::vector<std::string> ids;
  bool more = false;
};

/// A row of a tuple range read: the key unpacked, without the tenant prefix.
struct TupleRow {
  Tuple key;
  std::string value;
};

struct TupleRangeResult {
  std::vector<TupleRow> rows;
  bool more = false;
  /// When `more`: the full keys of the range not returned (after the last row,
  /// or before it when reverse), to read on with TenantTransaction::get_range_rest()
  /// or TenantRangeIterator::raw(), in this transaction or a later one.
  KeyRange rest;
};

/// One row of a TenantRangeIterator; its views hold until the iterator's next call.
struct TenantRow {
  std::string_view full_key;     ///< the full key (Tenant::pack() form)
  std::string_view value;
  std::size_t prefix_bytes = 0;  ///< bytes of the tenant's prefix at the start of full_key
  /// The key relative to the tenant, as packed tuple bytes.
  [[nodiscard]] std::string_view key() const noexcept { return full_key.substr(prefix_bytes); }
  /// key() unpacked, only when asked; malformed_tuple for a raw key that is no tuple.
  [[nodiscard]] Result<Tuple> tuple() const { return unpack(key()); }
};

/// The immutable description of one opened tenant key space.
struct TenantSpace {
  std::string id;
  std::string prefix;     ///< P
  std::string key_begin;  ///< pack((Bytes P,)): the first key of the tenant
  std::string key_end;    ///< key_begin + ff: the first key after it (see the file comment)
  std::string directory_key;  ///< where the tenant's directory entry lives (ff + pack(("tenant", Bytes id)))
};

class Tenant;

/// A transaction confined to one tenant. Tuple keys are relative to the
/// tenant (the prefix is added and stripped here); raw keys are full keys and
/// must lie in Tenant::key_range(), or the call fails with outside_tenant.
/// Move-only; destroying it uncommitted cancels it (when it owns it).
class TenantTransaction {
 public:
  TenantTransaction(TenantTransaction&& other) noexcept;
  TenantTransaction& operator=(TenantTransaction&&) = delete;
  ~TenantTransaction() = default;

  Result<std::optional<std::string>> get(const Tuple& key);
  Result<void> set(const Tuple& key, std::string_view value);
  Result<void> clear(const Tuple& key);
  /// The same with a braced key, `t.get({"users", id, "email"})`: its elements
  /// pack straight into the full key, with no Tuple (no allocation) built.
  Result<std::optional<std::string>> get(std::initializer_list<Element> key);
  Result<void> set(std::initializer_list<Element> key, std::string_view value);
  Result<void> clear(std::initializer_list<Element> key);
  /// Rows whose key extends `prefix` (pack(prefix) itself excluded, as store::range()),
  /// keys unpacked without the tenant prefix. `()` reads every tuple key of the tenant.
  Result<TupleRangeResult> get_range(const Tuple& prefix, RangeOptions options = {});
  /// Clears every key extending `prefix` (pack(prefix) itself excluded).
  Result<void> clear_range(const Tuple& prefix);

  /// Raw access by full key (Tenant::pack()); outside_tenant unless inside the tenant.
  Result<std::optional<std::string>> get_raw(std::string_view key);
  Result<void> set_raw(std::string_view key, std::string_view value);
  Result<void> clear_raw(std::string_view key);
  /// begin <= key < end, both bounds inside [key_begin, key_end].
  Result<RangeResult> get_range_raw(std::string_view begin, std::string_view end, RangeOptions options = {});
  Result<void> clear_range_raw(std::string_view begin, std::string_view end);
  /// Reads on from a TupleRangeResult::rest (or any full-key range inside the
  /// tenant), keys unpacked as get_range(); its own `rest` continues further.
  Result<TupleRangeResult> get_range_rest(const KeyRange& rest, RangeOptions options = {});

  /// Commits (or ends a snapshot). Inside Tenant::run(), leave it to run().
  Result<void> commit();
  void cancel() noexcept;

  [[nodiscard]] Mode mode() const noexcept { return transaction_->mode(); }
  [[nodiscard]] const TenantSpace& space() const noexcept { return *space_; }

 private:
  friend class Tenant;
  friend class Tenants;
  friend class TenantRangeIterator;
  TenantTransaction(Transaction&& owned, std::shared_ptr<const TenantSpace> space);
  TenantTransaction(Transaction& borrowed, std::shared_ptr<const TenantSpace> space);
  /// The full key of `key`, in a buffer of this thread reused by every
  /// transaction (so a point read allocates nothing); valid until the thread's
  /// next full_key(), which is why callers use it at once.
  Result<std::string_view> full_key(std::span<const Element> key);
  Result<std::optional<std::string>> get_elements(std::span<const Element> key);
  Result<void> set_elements(std::span<const Element> key, std::string_view value);
  Result<void> clear_elements(std::span<const Element> key);
  [[nodiscard]] Result<void> check_key(std::string_view key) const;
  [[nodiscard]] Result<void> check_range(std::string_view begin, std::string_view end) const;
  Result<TupleRangeResult> tuple_rows(std::string_view begin, std::string_view end, RangeOptions options);

  std::optional<Transaction> owned_;
  Transaction* transaction_;
  std::shared_ptr<const TenantSpace> space_;
};

/// Reads a range of one tenant in batches through a TenantTransaction, handing
/// out rows one at a time without copying them again or unpacking their keys
/// (TenantRow::tuple() unpacks on demand): the fast way to scan a tenant.
/// Unlike get_range() it has no row ceiling; memory holds one batch of
/// batch_rows rows (at most Limits::range_rows_max), whose buffer is reused
/// from batch to batch. rest() is the continuation: what
/// it has not handed out, to resume with raw() in this or another transaction.
/// The transaction must outlive the iterator.
class TenantRangeIterator {
 public:
  /// Every tuple key extending `prefix`, as TenantTransaction::get_range();
  /// options.limit 0 = all of them.
  static Result<TenantRangeIterator> tuples(TenantTransaction& transaction, const Tuple& prefix,
                                            RangeOptions options = {}, std::size_t batch_rows = 1'000);
  /// Full keys begin <= key < end, both inside the tenant (outside_tenant
  /// otherwise), as get_range_raw(); also how a rest() is resumed.
  static Result<TenantRangeIterator> raw(TenantTransaction& transaction, std::string_view begin, std::string_view end,
                                         RangeOptions options = {}, std::size_t batch_rows = 1'000);
  /// The next row; nullptr at the end of the range or after options.limit rows.
  Result<const TenantRow*> next() {
    if (remaining_ == 0 || position_ == slots_.size()) return next_batch();
    return hand_out();
  }
  /// The full keys not handed out yet: after the last row handed out (before
  /// it when reverse); begin == end once the range is done.
  [[nodiscard]] KeyRange rest() const;

 private:
  TenantRangeIterator(TenantTransaction& transaction, std::string begin, std::string end, RangeOptions options,
                      std::size_t batch_rows);
  Result<void> fetch();
  /// next() when the batch is used up (or the limit reached): reads the next one.
  Result<const TenantRow*> next_batch();
  const TenantRow* hand_out() noexcept {
    const Slot& slot = slots_[position_++];
    --remaining_;
    row_.full_key = std::string_view(arena_.data() + slot.key_at, slot.key_size);
    row_.value = std::string_view(arena_.data() + slot.key_at + slot.key_size, slot.value_size);
    return &row_;
  }

  /// One row of the batch: where its key and value lie in arena_.
  struct Slot {
    std::size_t key_at;  ///< the value follows the key
    std::uint32_t key_size, value_size;
  };
  /// Appends each row of a batch to arena_ (Transaction::scan): no allocation per row.
  struct Collector final : RowSink {
    TenantRangeIterator* owner;
    explicit Collector(TenantRangeIterator* to) : owner(to) {}

   private:
    void row(std::string_view key, std::string_view value) override;
  };
  [[nodiscard]] std::string_view key_of(const Slot& slot) const noexcept { return {arena_.data() + slot.key_at, slot.key_size}; }

  TenantTransaction* transaction_;
  KeyRange unread_;      ///< what later batches read
  KeyRange batch_span_;  ///< unread_ as it was when the current batch was read
  std::size_t remaining_;
  bool reverse_;
  std::size_t batch_rows_;
  std::string arena_;       ///< the batch's keys and values, back to back; reused
  std::vector<Slot> slots_; ///< reused from batch to batch
  std::size_t position_ = 0;
  bool fetched_ = false;
  bool range_done_ = false;  ///< the last batch reached the end of the range
  TenantRow row_;
};

/// An open tenant: cheap to copy, immutable, usable from any number of threads
/// for as long as the Database lives. A read-write transaction re-reads the
/// tenant's directory entry, so a tenant removed meanwhile (or removed and
/// created again, with a new prefix) fails with tenant_not_found or conflicts;
/// a snapshot transaction skips that read to stay as cheap as a raw one.
class Tenant {
 public:
  [[nodiscard]] const std::string& id() const noexcept { return space_->id; }
  /// The allocated prefix P.
  [[nodiscard]] const std::string& prefix() const noexcept { return space_->prefix; }
  /// [pack((P,)), pack((P,)) + ff): every key this tenant may hold, pack((P,)) itself included.
  [[nodiscard]] KeyRange key_range() const { return {space_->key_begin, space_->key_end}; }
  /// The migration version when the handle was opened (after migrations ran).
  [[nodiscard]] std::int64_t migration_version() const noexcept { return migration_version_; }
  [[nodiscard]] const std::shared_ptr<Database>& database() const noexcept { return database_; }

  /// The full key of a relative tuple: pack((P, ...key)) (the seed's pack/2).
  [[nodiscard]] Result<std::string> pack(const Tuple& key) const;
  /// The relative tuple of a full key; outside_tenant if the key is not the tenant's.
  [[nodiscard]] Result<Tuple> unpack(std::string_view key) const;
  /// Full keys of every tuple extending `prefix` (pack(prefix) itself excluded).
  [[nodiscard]] Result<KeyRange> range(const Tuple& prefix) const;

  /// A transaction on the tenant. read_write checks the directory entry first
  /// (tenant_not_found when the tenant is gone).
  Result<TenantTransaction> begin(Mode mode = Mode::read_write) const;

  /// Database::run() through the tenant: `fn(TenantTransaction&) -> Result<T>`
  /// in a read-write transaction, retried on conflict, each attempt checking
  /// the tenant still exists.
  template <class F>
  auto run(F&& fn, RetryOptions options = {}) const -> std::invoke_result_t<F&, TenantTransaction&>;

 private:
  friend class Tenants;
  Tenant(std::shared_ptr<Database> database, std::shared_ptr<const TenantSpace> space,
         std::int64_t migration_version);
  /// tenant_not_found unless the directory entry still names this prefix
  /// (read in `transaction` with get_held: a concurrent remove conflicts).
  [[nodiscard]] Result<void> check_alive(Transaction& transaction) const;

  std::shared_ptr<Database> database_;
  std::shared_ptr<const TenantSpace> space_;
  std::int64_t migration_version_;
};

/// One migration step: applied once per tenant, in version order, in its own
/// read-write transaction that also records `version` in the directory entry.
struct Migration {
  std::int64_t version = 0;  ///< > 0, strictly increasing along the list
  std::string name;
  std::function<Result<void>(TenantTransaction&)> apply;
};
using Migrations = std::vector<Migration>;

/// The directory of tenants of one Database. Thread-safe; every call is one
/// or a few serializable transactions, so processes on several nodes may race.
class Tenants {
 public:
  explicit Tenants(std::shared_ptr<Database> database, RetryOptions retry = {});

  /// tenant_already_exists if the id is taken.
  Result<void> create(std::string_view id);
  Result<bool> exists(std::string_view id);
  /// The directory entry; tenant_not_found if missing.
  Result<TenantMeta> meta(std::string_view id);
  /// Ids sorting after `after` ("" = from the first), at most `limit`
  /// (1..tenant_list_page_max, 0 = tenant_list_page_max), in byte order.
  Result<TenantPage> list(std::string_view after = {}, std::size_t limit = 0);
  /// Opens an existing tenant (tenant_not_found) and applies pending migrations
  /// (migration_failed naming the step; earlier steps stay applied).
  Result<Tenant> open(std::string_view id, const Migrations& migrations = {});
  /// The seed's open!: creates the tenant if missing, then open(). Racing
  /// creators anywhere end with one tenant and one prefix.
  Result<Tenant> open_or_create(std::string_view id, const Migrations& migrations = {});
  /// Test helper (open_empty!): ensure the tenant exists, clear it, open it.
  Result<Tenant> open_empty(std::string_view id, const Migrations& migrations = {});
  /// Removes all of the tenant's data and resets its migration version to 0
  /// (the data the migrations wrote is gone too). Cannot be undone. tenant_not_found if missing.
  Result<void> clear(std::string_view id);
  /// The seed's delete: removes an empty tenant (tenant_not_empty otherwise);
  /// a missing tenant is ok. Its prefix is never handed out again.
  Result<void> remove(std::string_view id);
  /// The seed's clear_delete!: clears and removes in one transaction; no-op when missing.
  Result<void> clear_remove(std::string_view id);

  [[nodiscard]] const std::shared_ptr<Database>& database() const noexcept { return database_; }

 private:
  Result<Tenant> open_existing(std::string_view id, const Migrations& migrations);
  /// Applies one step in its own transaction unless the entry is already at
  /// or past its version; returns the entry's version afterwards.
  Result<std::int64_t> apply_step(const TenantSpace& space, const Migration& step);

  std::shared_ptr<Database> database_;
  RetryOptions retry_;
};

/// invalid_tenant_id unless 1..tenant_id_bytes_max bytes.
Result<void> validate_tenant_id(std::string_view id);

template <class F>
auto Tenant::run(F&& fn, RetryOptions options) const -> std::invoke_result_t<F&, TenantTransaction&> {
  using R = std::invoke_result_t<F&, TenantTransaction&>;
  // The directory check is the first call: PostgreSQL sends BEGIN with it.
  return database_->run(
      [&](Transaction& transaction) -> R {
        if (auto alive = check_alive(transaction); !alive.ok()) return alive.error();
        TenantTransaction tenant_transaction(transaction, space_);
        return fn(tenant_transaction);
      },
      options, Start::with_first_call);
}

}  // namespace plexus::store
