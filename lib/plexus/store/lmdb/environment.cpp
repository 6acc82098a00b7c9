// One open LMDB environment: opening (once per process and path), the
// transaction gate and map resizing (environment.hpp).
#include "plexus/store/lmdb/environment.hpp"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include "plexus/store/lmdb/cursor.hpp"
#include "plexus/store/lmdb/writer.hpp"

namespace plexus::store::lmdb {

/// The environments open in this process, by canonical path: LMDB forbids
/// opening one environment twice in a process (its locks would break).
class Registry {
 public:
  static Registry& instance() {
    static Registry registry;
    return registry;
  }
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<Environment>> open;
};

namespace {

Result<void> check(const LmdbOptions& options) {
  auto bad = [](const char* what) { return make_error(errc::invalid_option, what); };
  if (options.path.empty()) return bad("LmdbOptions::path is empty");
  if (options.map_size_bytes < (std::size_t{64} << 10)) return bad("LmdbOptions::map_size_bytes under 64 KiB");
  if (options.map_size_bytes_max < options.map_size_bytes) return bad("LmdbOptions::map_size_bytes_max under map_size_bytes");
  if (options.max_readers < 1) return bad("LmdbOptions::max_readers is 0");
  if (options.batch_transactions_max < 1) return bad("LmdbOptions::batch_transactions_max is 0");
  if (options.batch_bytes_max < 1) return bad("LmdbOptions::batch_bytes_max is 0");
  if (options.write_queue_max < 1) return bad("LmdbOptions::write_queue_max is 0");
  if (options.commit_wait_max.count() <= 0) return bad("LmdbOptions::commit_wait_max must be positive");
  if (options.resize_wait_max.count() <= 0) return bad("LmdbOptions::resize_wait_max must be positive");
  if (options.read_records_max < 1) return bad("LmdbOptions::read_records_max is 0");
  if (options.idle_readers_max > 64) return bad("LmdbOptions::idle_readers_max over 64");
  return {};
}

}  // namespace

Result<std::shared_ptr<Environment>> Environment::open(const LmdbOptions& options) {
  if (auto ok = check(options); !ok) return ok.error();
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) return make_error(errc::backend_error, "creating " + options.path + ": " + ec.message());
  auto canonical = std::filesystem::canonical(options.path, ec);
  if (ec) return make_error(errc::backend_error, "resolving " + options.path + ": " + ec.message());

  auto& registry = Registry::instance();
  std::lock_guard lock(registry.mutex);
  std::erase_if(registry.open, [](const auto& entry) { return entry.second.expired(); });
  auto& slot = registry.open[canonical.string()];
  // After fork() the parent's environments are not the child's: open anew.
  if (auto existing = slot.lock(); existing && existing->opener_pid_ == ::getpid()) return existing;
  std::shared_ptr<Environment> environment(new Environment(options));
  environment->options_.path = canonical.string();
  if (auto ok = environment->open_env(); !ok) return ok.error();
  slot = environment;
  return environment;
}

Environment::Environment(const LmdbOptions& options) : options_(options), opener_pid_(::getpid()) {}

Environment::~Environment() {
  writer_.reset();
  shut_down();
  // A forked child must not close its parent's environment nor end its
  // transactions (either would drop the parent's locks or reader slots).
  if (env_ == nullptr || opener_pid_ != ::getpid()) return;
  while (MDB_txn* idle = take_idle_reader()) mdb_txn_abort(idle);
  mdb_env_close(env_);
}

Result<void> Environment::open_env() {
  if (sodium_init() < 0) return make_error(errc::backend_error, "sodium_init failed");
  const std::string& path = options_.path;
  if (int rc = mdb_env_create(&env_); rc != 0) {
    env_ = nullptr;
    return lmdb_error(rc, "mdb_env_create");
  }
  if (int rc = mdb_env_set_maxreaders(env_, options_.max_readers); rc != 0) return lmdb_error(rc, "mdb_env_set_maxreaders");
  if (int rc = mdb_env_set_mapsize(env_, options_.map_size_bytes); rc != 0) return lmdb_error(rc, "mdb_env_set_mapsize");
  const unsigned flags = MDB_NOTLS | (options_.durable ? 0U : MDB_NOSYNC);
  if (int rc = mdb_env_open(env_, path.c_str(), flags, 0640); rc != 0) return lmdb_error(rc, "mdb_env_open " + path);
  // Keep the larger of the size asked for and the size the file already has.
  if (int rc = mdb_env_set_mapsize(env_, 0); rc != 0) return lmdb_error(rc, "mdb_env_set_mapsize");
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  if (info.me_mapsize < options_.map_size_bytes) {
    if (int rc = mdb_env_set_mapsize(env_, options_.map_size_bytes); rc != 0) return lmdb_error(rc, "mdb_env_set_mapsize");
  }
  const int key_max = mdb_env_get_maxkeysize(env_);
  if (key_max < 2 || static_cast<std::size_t>(key_max) > stored_key_bytes_max) {
    return make_error(errc::backend_error, "unsupported LMDB build: maxkeysize " + std::to_string(key_max));
  }
  key_bytes_max_ = static_cast<std::size_t>(key_max) - 1;
  int dead = 0;
  if (int rc = mdb_reader_check(env_, &dead); rc != 0) return lmdb_error(rc, "mdb_reader_check");
  counters_.stale_readers_cleared.fetch_add(static_cast<std::uint64_t>(dead), std::memory_order_relaxed);

  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0) return lmdb_error(rc, "mdb_txn_begin (read)");
  const int rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
  mdb_txn_abort(txn);
  if (rc != 0) return lmdb_error(rc, "mdb_dbi_open");
  note_map_size();
  writer_ = std::make_unique<Writer>(*this);
  return {};
}

Result<void> Environment::enter_gate() {
  active_txns_.fetch_add(1);
  if (!resizing_.load() && !closing_.load()) return {};
  leave_gate();
  return enter_gate_slowly();
}

Result<void> Environment::enter_gate_slowly() {
  std::unique_lock lock(gate_mutex_);
  if (!gate_changed_.wait_for(lock, options_.resize_wait_max, [&] { return closing_.load() || !resizing_.load(); })) {
    return make_error(errc::unavailable, "waited " + std::to_string(options_.resize_wait_max.count()) +
                                             " ms for an LMDB map resize");
  }
  if (closing_.load()) return make_error(errc::unavailable, "the LMDB environment is closing");
  // A resize starts only under gate_mutex_, which is held here: it will wait for this one.
  active_txns_.fetch_add(1);
  return {};
}

void Environment::leave_gate() noexcept {
  if (active_txns_.fetch_sub(1) == 1 && resizing_.load()) {
    std::lock_guard lock(gate_mutex_);
    gate_changed_.notify_all();
  }
}

MDB_txn* Environment::take_idle_reader() noexcept {
  for (std::size_t i = 0; i < options_.idle_readers_max; ++i) {
    if (idle_readers_[i].load(std::memory_order_relaxed) == nullptr) continue;
    if (MDB_txn* txn = idle_readers_[i].exchange(nullptr, std::memory_order_acquire)) return txn;
  }
  return nullptr;
}

bool Environment::keep_idle_reader(MDB_txn* txn) noexcept {
  for (std::size_t i = 0; i < options_.idle_readers_max; ++i) {
    MDB_txn* empty = nullptr;
    if (idle_readers_[i].compare_exchange_strong(empty, txn, std::memory_order_release, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

Result<MDB_txn*> Environment::begin_read() {
  // A size grown by another process is adopted, then the begin retried; a few
  // rounds cover growths racing with ours.
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (auto ok = enter_gate(); !ok) return ok.error();
    // A kept transaction that fails to renew (the map grew meanwhile) is
    // dropped, and mdb_txn_begin below meets and handles the same condition.
    if (MDB_txn* idle = take_idle_reader()) {
      if (mdb_txn_renew(idle) == 0) return idle;
      mdb_txn_abort(idle);
    }
    MDB_txn* txn = nullptr;
    const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc == 0) return txn;
    leave_gate();
    if (rc != MDB_MAP_RESIZED) return lmdb_error(rc, "mdb_txn_begin (read)");
    if (auto ok = resize_to(0); !ok) return ok.error();
  }
  return make_error(errc::backend_error, "mdb_txn_begin (read): the map kept being resized by another process");
}

void Environment::end_read(MDB_txn* txn) noexcept {
  mdb_txn_reset(txn);
  if (closing_.load() || !keep_idle_reader(txn)) mdb_txn_abort(txn);
  leave_gate();
}

Result<MDB_txn*> Environment::begin_write() {
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (auto ok = enter_gate(); !ok) return ok.error();
    MDB_txn* txn = nullptr;
    const int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == 0) return txn;
    leave_gate();
    if (rc != MDB_MAP_RESIZED) return lmdb_error(rc, "mdb_txn_begin (write)");
    if (auto ok = resize_to(0); !ok) return ok.error();
  }
  return make_error(errc::backend_error, "mdb_txn_begin (write): the map kept being resized by another process");
}

void Environment::end_write() noexcept { leave_gate(); }

Result<void> Environment::grow_map() {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  const std::size_t current = info.me_mapsize;
  if (current >= options_.map_size_bytes_max) {
    return make_error(errc::backend_error, "LMDB map full at map_size_bytes_max " +
                                               std::to_string(options_.map_size_bytes_max) + " bytes");
  }
  // Readers of dead processes pin old pages: free them before growing.
  int dead = 0;
  if (mdb_reader_check(env_, &dead) == 0) {
    counters_.stale_readers_cleared.fetch_add(static_cast<std::uint64_t>(dead), std::memory_order_relaxed);
  }
  return resize_to(std::min(current * 2, options_.map_size_bytes_max));
}

Result<void> Environment::resize_to(std::size_t size_bytes) {
  std::unique_lock lock(gate_mutex_);
  const auto deadline = std::chrono::steady_clock::now() + options_.resize_wait_max;
  if (!gate_changed_.wait_until(lock, deadline, [&] { return !resizing_.load(); })) {
    return make_error(errc::unavailable, "waited for another LMDB map resize");
  }
  resizing_.store(true);
  const bool drained = gate_changed_.wait_until(lock, deadline, [&] { return active_txns_.load() == 0; });
  const int rc = drained ? mdb_env_set_mapsize(env_, size_bytes) : 0;
  resizing_.store(false);
  gate_changed_.notify_all();
  lock.unlock();
  if (!drained) {
    return make_error(errc::unavailable, "an LMDB map resize waited " + std::to_string(options_.resize_wait_max.count()) +
                                             " ms for this process's transactions to end");
  }
  if (rc != 0) return lmdb_error(rc, "mdb_env_set_mapsize");
  counters_.map_resizes.fetch_add(1, std::memory_order_relaxed);
  note_map_size();
  return {};
}

void Environment::note_map_size() noexcept {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  counters_.map_size_bytes.store(info.me_mapsize, std::memory_order_relaxed);
}

void Environment::shut_down() noexcept {
  {
    std::lock_guard lock(gate_mutex_);
    closing_.store(true);
  }
  gate_changed_.notify_all();
}

}  // namespace plexus::store::lmdb
