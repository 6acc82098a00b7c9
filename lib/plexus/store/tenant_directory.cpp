// Tenants: the directory calls (create, exists, list, clear, remove), each one
// serializable transaction so that racing processes agree on the outcome.
#include <utility>

#include "plexus/store/tenant.hpp"
#include "plexus/store/tenant_layout.hpp"

namespace plexus::store {
namespace {

Error not_found(std::string_view id) {
  return make_error(errc::tenant_not_found, "tenant " + tenant_layout::describe_id(id));
}

/// True when the tenant with this prefix holds any key (pack((P,)) itself included).
Result<bool> has_data(Transaction& transaction, const TenantSpace& space) {
  auto rows = transaction.get_range(space.key_begin, space.key_end, RangeOptions{.limit = 1});
  if (!rows.ok()) return rows.error();
  return !rows->rows.empty();
}

/// Runs `fn(transaction, meta, space)` on the tenant's directory entry in one
/// retried transaction; a missing tenant is tenant_not_found, or a no-op when `missing_ok`.
template <class F>
Result<void> on_entry(Database& database, const RetryOptions& retry, std::string_view id, bool missing_ok, F&& fn) {
  if (auto valid = validate_tenant_id(id); !valid.ok()) return valid;
  return database.run(
      [&](Transaction& transaction) -> Result<void> {
        auto meta = tenant_layout::read_meta(transaction, id);
        if (!meta.ok()) return meta.error();
        if (!meta->has_value()) return missing_ok ? Result<void>{} : Result<void>{not_found(id)};
        return fn(transaction, **meta, tenant_layout::space_of(id, (*meta)->prefix));
      },
      retry);
}

}  // namespace

Result<void> validate_tenant_id(std::string_view id) {
  if (id.empty()) return make_error(errc::invalid_tenant_id, "empty tenant id");
  if (id.size() > tenant_id_bytes_max) {
    return make_error(errc::invalid_tenant_id, "tenant id of " + std::to_string(id.size()) +
                                                   " bytes, over tenant_id_bytes_max " +
                                                   std::to_string(tenant_id_bytes_max));
  }
  return {};
}

Tenants::Tenants(std::shared_ptr<Database> database, RetryOptions retry)
    : database_(std::move(database)), retry_(retry) {}

Result<void> Tenants::create(std::string_view id) {
  if (auto valid = validate_tenant_id(id); !valid.ok()) return valid;
  return database_->run(
      [&](Transaction& transaction) -> Result<void> {
        auto meta = tenant_layout::read_meta(transaction, id);
        if (!meta.ok()) return meta.error();
        if (meta->has_value()) {
          return make_error(errc::tenant_already_exists, "tenant " + tenant_layout::describe_id(id));
        }
        auto created = tenant_layout::create_entry(transaction, id);
        if (!created.ok()) return created.error();
        return {};
      },
      retry_);
}

Result<bool> Tenants::exists(std::string_view id) {
  auto meta = this->meta(id);
  if (meta.ok()) return true;
  if (is(meta.error(), errc::tenant_not_found)) return false;
  return meta.error();
}

Result<TenantMeta> Tenants::meta(std::string_view id) {
  if (auto valid = validate_tenant_id(id); !valid.ok()) return valid.error();
  auto transaction = database_->begin(Mode::snapshot);
  if (!transaction.ok()) return transaction.error();
  auto meta = tenant_layout::read_meta(*transaction, id);
  transaction->cancel();
  if (!meta.ok()) return meta.error();
  if (!meta->has_value()) return not_found(id);
  return std::move(**meta);
}

Result<TenantPage> Tenants::list(std::string_view after, std::size_t limit) {
  if (limit == 0) limit = tenant_list_page_max;
  if (limit > tenant_list_page_max) {
    return make_error(errc::invalid_range, "list limit " + std::to_string(limit) + " over tenant_list_page_max " +
                                               std::to_string(tenant_list_page_max));
  }
  KeyRange bounds = tenant_layout::directory_range();
  // Entry keys end with the id's 00 terminator, so key(after) + 00 sorts after
  // key(after) and before the key of every longer id that extends `after`.
  if (!after.empty()) bounds.begin = tenant_layout::directory_key(after) + '\x00';
  auto transaction = database_->begin(Mode::snapshot);
  if (!transaction.ok()) return transaction.error();
  auto rows = transaction->get_range(bounds.begin, bounds.end, RangeOptions{.limit = limit});
  transaction->cancel();
  if (!rows.ok()) return rows.error();
  TenantPage page;
  page.more = rows->more;
  page.ids.reserve(rows->rows.size());
  for (const auto& row : rows->rows) {
    auto id = tenant_layout::id_of_directory_key(row.key);
    if (!id.ok()) return id.error();
    page.ids.push_back(std::move(id).value());
  }
  return page;
}

Result<void> Tenants::clear(std::string_view id) {
  return on_entry(*database_, retry_, id, false,
                  [&](Transaction& transaction, const TenantMeta& meta, const TenantSpace& space) -> Result<void> {
                    if (auto cleared = transaction.clear_range(space.key_begin, space.key_end); !cleared.ok()) {
                      return cleared;
                    }
                    // The migrations' data went with the rest, so they must run again on the next open.
                    TenantMeta reset = meta;
                    reset.migration_version = 0;
                    return transaction.set(tenant_layout::directory_key(id), tenant_layout::encode_meta(reset));
                  });
}

Result<void> Tenants::remove(std::string_view id) {
  return on_entry(*database_, retry_, id, true,
                  [&](Transaction& transaction, const TenantMeta&, const TenantSpace& space) -> Result<void> {
                    auto data = has_data(transaction, space);
                    if (!data.ok()) return data.error();
                    if (*data) return make_error(errc::tenant_not_empty, "tenant " + tenant_layout::describe_id(id));
                    return transaction.clear(tenant_layout::directory_key(id));
                  });
}

Result<void> Tenants::clear_remove(std::string_view id) {
  return on_entry(*database_, retry_, id, true,
                  [&](Transaction& transaction, const TenantMeta&, const TenantSpace& space) -> Result<void> {
                    if (auto cleared = transaction.clear_range(space.key_begin, space.key_end); !cleared.ok()) {
                      return cleared;
                    }
                    return transaction.clear(tenant_layout::directory_key(id));
                  });
}

}  // namespace plexus::store
