// bench_store's LMDB data set (store_fixture.hpp).
#include "store_fixture.hpp"

#include <sys/vfs.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "store_measure.hpp"

namespace plexus::bench {
namespace {

/// Rows per filling transaction: about 4 MB of keys and values, well under
/// transaction_bytes_max (10 MB) and quick enough for transaction_age_max.
constexpr std::size_t fill_rows_per_transaction = 100'000;

}  // namespace

store::Tuple user_key(std::size_t i) { return store::Tuple{"users", static_cast<std::int64_t>(i), "email"}; }

std::string user_value(std::size_t i) {
  char text[17];
  std::snprintf(text, sizeof text, "v%015zu", i);
  return std::string(text, 16);
}

Result<std::unique_ptr<LmdbFixture>> LmdbFixture::open(const std::string& dir) {
  std::unique_ptr<LmdbFixture> fixture(new LmdbFixture());
  if (auto started = fixture->start(dir); !started.ok()) return started.error();
  return fixture;
}

Result<void> LmdbFixture::start(const std::string& dir) {
  if (dir.empty()) {
    char pattern[] = "/tmp/bench_store.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return Error{std::error_code(errno, std::generic_category()), "mkdtemp"};
    dir_ = pattern;
    remove_dir_ = true;
  } else {
    dir_ = dir;
  }
  store::LmdbOptions options;
  options.path = dir_ + "/lmdb";
  options.durable = true;
  auto backend = store::open_lmdb(options);
  if (!backend.ok()) return backend.error();
  backend_ = backend->get();
  env_ = store::lmdb_env(*backend_);
  database_ = std::make_shared<store::Database>("bench", std::move(*backend));
  tenants_ = std::make_unique<store::Tenants>(database_);
  auto tenant = tenants_->open_or_create("bench");
  if (!tenant.ok()) return tenant.error();
  tenant_ = std::make_unique<store::Tenant>(std::move(*tenant));
  // The backend keeps its keys in the unnamed database.
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0) {
    return store::make_error(store::errc::backend_error, mdb_strerror(rc));
  }
  const int rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
  mdb_txn_abort(txn);
  if (rc != 0) return store::make_error(store::errc::backend_error, mdb_strerror(rc));
  return {};
}

LmdbFixture::~LmdbFixture() {
  tenant_.reset();
  tenants_.reset();
  database_.reset();
  std::error_code ignored;
  if (remove_dir_) std::filesystem::remove_all(dir_, ignored);
}

Result<void> LmdbFixture::fill(std::size_t keys) {
  const auto started = Clock::now();
  while (filled_ < keys) {
    const std::size_t end = std::min(keys, filled_ + fill_rows_per_transaction);
    auto transaction = tenant_->begin(store::Mode::read_write);
    if (!transaction.ok()) return transaction.error();
    for (std::size_t i = filled_; i < end; ++i) {
      if (auto set = transaction->set(user_key(i), user_value(i)); !set.ok()) return set.error();
    }
    if (auto committed = transaction->commit(); !committed.ok()) return committed.error();
    filled_ = end;
  }
  fill_seconds_ += seconds_since(started);
  return {};
}

std::string LmdbFixture::filesystem() const {
  struct statfs info {};
  if (::statfs(dir_.c_str(), &info) != 0) return "unknown";
  switch (static_cast<unsigned long>(info.f_type)) {
    case 0xEF53: return "ext4";
    case 0x01021994: return "tmpfs";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x794C7630: return "overlayfs";
    default: return "type " + std::to_string(static_cast<unsigned long>(info.f_type));
  }
}

}  // namespace plexus::bench
