// bench_store's LMDB data set: one durable environment in a directory on the
// real disk, a Database over it, and one tenant ("bench") holding keys
// ("users", i, "email") -> a 16-byte value for i in [0, keys), written
// through the tenant API. The raw MDB_env is kept for the baselines (its keys
// are stored behind lmdb_key_prefix, in the unnamed database).
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <memory>
#include <string>

#include "plexus/core/result.hpp"
#include "plexus/store/tenant.hpp"

namespace plexus::bench {

/// The relative key of row i and its value (16 bytes).
store::Tuple user_key(std::size_t i);
std::string user_value(std::size_t i);

class LmdbFixture {
 public:
  /// Creates the environment in `dir` (a fresh directory under /tmp when empty).
  static Result<std::unique_ptr<LmdbFixture>> open(const std::string& dir);
  ~LmdbFixture();
  LmdbFixture(const LmdbFixture&) = delete;
  LmdbFixture& operator=(const LmdbFixture&) = delete;

  /// Writes rows [filled, keys) through the tenant API; a no-op when already there.
  Result<void> fill(std::size_t keys);
  /// The tenant was cleared: fill() writes everything again.
  void forget_rows() noexcept { filled_ = 0; }

  [[nodiscard]] store::Database& database() noexcept { return *database_; }
  [[nodiscard]] store::Tenants& tenants() noexcept { return *tenants_; }
  [[nodiscard]] const store::Tenant& tenant() const noexcept { return *tenant_; }
  [[nodiscard]] const store::Backend& backend() const noexcept { return *backend_; }
  [[nodiscard]] MDB_env* env() const noexcept { return env_; }
  [[nodiscard]] MDB_dbi dbi() const noexcept { return dbi_; }
  [[nodiscard]] std::size_t filled() const noexcept { return filled_; }
  [[nodiscard]] double fill_seconds() const noexcept { return fill_seconds_; }
  [[nodiscard]] const std::string& dir() const noexcept { return dir_; }
  /// "ext4", "tmpfs", ... of the directory (statfs).
  [[nodiscard]] std::string filesystem() const;

 private:
  LmdbFixture() = default;
  Result<void> start(const std::string& dir);

  std::string dir_;
  bool remove_dir_ = false;
  store::Backend* backend_ = nullptr;  // owned by database_
  std::shared_ptr<store::Database> database_;
  std::unique_ptr<store::Tenants> tenants_;
  std::unique_ptr<store::Tenant> tenant_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::size_t filled_ = 0;
  double fill_seconds_ = 0;
};

}  // namespace plexus::bench
