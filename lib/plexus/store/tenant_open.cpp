// Tenants::open and friends: opening a tenant applies its pending migration
// steps, each in its own serializable transaction that re-reads the
// directory entry's version, so concurrent openers apply each step once.
#include <memory>
#include <utility>

#include "plexus/store/tenant.hpp"
#include "plexus/store/tenant_layout.hpp"

namespace plexus::store {
namespace {

Result<void> validate_migrations(const Migrations& migrations) {
  if (migrations.size() > tenant_migrations_max) {
    return make_error(errc::invalid_option, "migrations: " + std::to_string(migrations.size()) +
                                                " steps, over tenant_migrations_max " +
                                                std::to_string(tenant_migrations_max));
  }
  std::int64_t previous = 0;
  for (const auto& step : migrations) {
    if (step.version <= previous) {
      return make_error(errc::invalid_option, "migration '" + step.name + "': version " +
                                                  std::to_string(step.version) +
                                                  " must be > 0 and above the previous step's");
    }
    if (!step.apply) return make_error(errc::invalid_option, "migration '" + step.name + "': no function");
    previous = step.version;
  }
  return {};
}

std::string step_name(const Migration& step) {
  return "step " + std::to_string(step.version) + " '" + step.name + "'";
}

bool retried_by_run(const Error& error) { return is(error, errc::conflict) || is(error, errc::transaction_too_old); }

}  // namespace

Result<std::int64_t> Tenants::apply_step(const TenantSpace& space, const Migration& step) {
  auto space_ptr = std::make_shared<const TenantSpace>(space);
  auto applied = database_->run(
      [&](Transaction& transaction) -> Result<std::int64_t> {
        auto meta = tenant_layout::read_meta(transaction, space.id);
        if (!meta.ok()) return meta.error();
        if (!meta->has_value() || (*meta)->prefix != space.prefix) {
          return make_error(errc::tenant_not_found,
                            "tenant " + tenant_layout::describe_id(space.id) + " removed during migration");
        }
        TenantMeta entry = **meta;
        // Another opener got here first: the step is in, nothing to do.
        if (entry.migration_version >= step.version) return entry.migration_version;
        TenantTransaction tenant_transaction(transaction, space_ptr);
        if (auto done = step.apply(tenant_transaction); !done.ok()) {
          if (retried_by_run(done.error())) return done.error();
          return make_error(errc::migration_failed, step_name(step) + ": " + done.error().message());
        }
        entry.migration_version = step.version;
        auto written = transaction.set(tenant_layout::directory_key(space.id), tenant_layout::encode_meta(entry));
        if (!written.ok()) return written.error();
        return entry.migration_version;
      },
      retry_);
  if (applied.ok() || is(applied.error(), errc::migration_failed) || is(applied.error(), errc::tenant_not_found)) {
    return applied;
  }
  return make_error(errc::migration_failed, step_name(step) + ": " + applied.error().message());
}

Result<Tenant> Tenants::open_existing(std::string_view id, const Migrations& migrations) {
  auto meta = this->meta(id);
  if (!meta.ok()) return meta.error();
  auto space = std::make_shared<const TenantSpace>(tenant_layout::space_of(id, meta->prefix));
  std::int64_t version = meta->migration_version;
  for (const auto& step : migrations) {
    if (step.version <= version) continue;
    auto applied = apply_step(*space, step);
    if (!applied.ok()) return applied.error();
    version = *applied;
  }
  return Tenant(database_, std::move(space), version);
}

Result<Tenant> Tenants::open(std::string_view id, const Migrations& migrations) {
  if (auto valid = validate_tenant_id(id); !valid.ok()) return valid.error();
  if (auto valid = validate_migrations(migrations); !valid.ok()) return valid.error();
  return open_existing(id, migrations);
}

Result<Tenant> Tenants::open_or_create(std::string_view id, const Migrations& migrations) {
  if (auto valid = validate_tenant_id(id); !valid.ok()) return valid.error();
  if (auto valid = validate_migrations(migrations); !valid.ok()) return valid.error();
  // Read and create in one serializable transaction: of racing creators, one
  // commits the entry and the others conflict, retry, and find it.
  auto ensured = database_->run(
      [&](Transaction& transaction) -> Result<void> {
        auto meta = tenant_layout::read_meta(transaction, id);
        if (!meta.ok()) return meta.error();
        if (meta->has_value()) return {};
        auto created = tenant_layout::create_entry(transaction, id);
        if (!created.ok()) return created.error();
        return {};
      },
      retry_);
  if (!ensured.ok()) return ensured.error();
  return open_existing(id, migrations);
}

Result<Tenant> Tenants::open_empty(std::string_view id, const Migrations& migrations) {
  if (auto valid = validate_tenant_id(id); !valid.ok()) return valid.error();
  if (auto valid = validate_migrations(migrations); !valid.ok()) return valid.error();
  auto created = create(id);
  if (!created.ok() && !is(created.error(), errc::tenant_already_exists)) return created.error();
  if (auto cleared = clear(id); !cleared.ok()) return cleared.error();
  return open_existing(id, migrations);
}

}  // namespace plexus::store
