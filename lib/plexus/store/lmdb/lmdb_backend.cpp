// open_lmdb() and the Backend over one LMDB environment (lmdb_backend.hpp).
#include "plexus/store/lmdb/lmdb_backend.hpp"

#include "plexus/store/lmdb/environment.hpp"
#include "plexus/store/lmdb/transaction.hpp"

namespace plexus::store {
namespace {

class LmdbBackend final : public Backend {
 public:
  explicit LmdbBackend(std::shared_ptr<lmdb::Environment> environment) : environment_(std::move(environment)) {}

  using Backend::begin;
  // LMDB's snapshot costs no round trip: it is taken at begin either way.
  Result<std::unique_ptr<BackendTransaction>> begin(Mode mode, Start /*start*/) override {
    auto snapshot = environment_->begin_read();
    if (!snapshot) return snapshot.error();
    return std::unique_ptr<BackendTransaction>(std::make_unique<lmdb::LmdbTransaction>(*environment_, mode, *snapshot));
  }

  [[nodiscard]] std::string_view kind() const noexcept override { return "lmdb"; }

  [[nodiscard]] Limits native_limits() const noexcept override {
    Limits limits;
    limits.key_bytes_max = environment_->key_bytes_max();
    return limits;
  }

  [[nodiscard]] lmdb::Environment& environment() const noexcept { return *environment_; }

 private:
  std::shared_ptr<lmdb::Environment> environment_;
};

}  // namespace

Result<std::unique_ptr<Backend>> open_lmdb(const LmdbOptions& options) {
  auto environment = lmdb::Environment::open(options);
  if (!environment) return environment.error();
  return std::unique_ptr<Backend>(std::make_unique<LmdbBackend>(std::move(*environment)));
}

std::optional<LmdbCounters> lmdb_counters(const Backend& backend) {
  const auto* lmdb_backend = dynamic_cast<const LmdbBackend*>(&backend);
  if (lmdb_backend == nullptr) return std::nullopt;
  const auto& counters = lmdb_backend->environment().counters();
  auto load = [](const std::atomic<std::uint64_t>& counter) { return counter.load(std::memory_order_relaxed); };
  return LmdbCounters{
      .batches_committed = load(counters.batches_committed),
      .transactions_committed = load(counters.transactions_committed),
      .conflicts = load(counters.conflicts),
      .validations_skipped = load(counters.validations_skipped),
      .map_resizes = load(counters.map_resizes),
      .map_size_bytes = load(counters.map_size_bytes),
      .stale_readers_cleared = load(counters.stale_readers_cleared),
  };
}

MDB_env* lmdb_env(Backend& backend) {
  auto* lmdb_backend = dynamic_cast<LmdbBackend*>(&backend);
  return lmdb_backend == nullptr ? nullptr : lmdb_backend->environment().env();
}

}  // namespace plexus::store
