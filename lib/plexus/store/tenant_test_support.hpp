// Test support for the tenant tests: the datastores they run on, each one a
// factory that a forked child can call again to open the same data, and a
// helper to run a function in forked processes released at once.
//
// To run every tenant test on another backend, add a store type with the same
// shape (name(), open()) to PLEXUS_TENANT_TEST_STORES.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "plexus/store/kv.hpp"
#include "plexus/store/lmdb/lmdb_backend.hpp"
#include "plexus/store/tenant.hpp"

namespace plexus::store::tenant_test {

/// An LMDB datastore in a fresh directory under /tmp, removed afterwards.
class LmdbStore {
 public:
  LmdbStore() {
    char pattern[] = "/tmp/plexus-tenant-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    directory_ = pattern;
  }
  ~LmdbStore() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  static constexpr const char* name() { return "lmdb"; }
  /// A new Database on the directory (call it again in a forked child).
  [[nodiscard]] std::shared_ptr<Database> open() const {
    LmdbOptions options;
    options.path = directory_.string();
    auto backend = open_lmdb(options);
    REQUIRE_MESSAGE(backend.ok(), backend.error().message());
    return std::make_shared<Database>("tenant-test", std::move(backend).value());
  }

 private:
  std::filesystem::path directory_;
};

#define PLEXUS_TENANT_TEST_STORES ::plexus::store::tenant_test::LmdbStore

/// Forks `count` children running `body(index)` (its return value is the exit
/// code; a child that runs over child_seconds_max is killed by SIGALRM), holds
/// them at a start pipe so they race, and returns their exit codes.
inline std::vector<int> run_forked(int count, const std::function<int(int)>& body) {
  constexpr unsigned child_seconds_max = 60;
  int start[2];
  REQUIRE(::pipe(start) == 0);
  std::vector<pid_t> children;
  for (int index = 0; index < count; ++index) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::alarm(child_seconds_max);
      ::close(start[1]);
      char byte = 0;
      // Blocks until the parent closes the write end: every child starts together.
      [[maybe_unused]] auto got = ::read(start[0], &byte, 1);
      ::_exit(body(index));
    }
    children.push_back(pid);
  }
  ::close(start[0]);
  ::close(start[1]);
  std::vector<int> codes;
  for (const pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

}  // namespace plexus::store::tenant_test

namespace plexus::store::tenant_test {

/// A store, a Database on it and its Tenants, for one test.
template <class Store>
struct Fixture {
  Store store;
  std::shared_ptr<Database> database = store.open();
  Tenants tenants{database};
};

/// Sets the prefix counter (the layout is documented), so the next tenant gets prefix_of(value + 1).
inline void set_prefix_counter(Database& database, std::int64_t value) {
  auto packed = pack({value});
  REQUIRE(packed.ok());
  auto written = database.run([&](Transaction& transaction) {
    return transaction.set(std::string("\xff") + *pack({"tenant_counter"}), *packed);
  });
  REQUIRE_MESSAGE(written.ok(), written.error().message());
}

/// Every key of the datastore, raw (bypassing tenants), in order.
inline std::vector<KeyValue> all_rows(Database& database) {
  auto transaction = database.begin(Mode::snapshot);
  REQUIRE(transaction.ok());
  std::vector<KeyValue> rows;
  RangeIterator iterator(*transaction, std::string(), std::string(1, '\xff'));
  for (int row = 0; row < 1'000'000; ++row) {
    auto next = iterator.next();
    REQUIRE_MESSAGE(next.ok(), next.error().message());
    if (!next->has_value()) break;
    rows.push_back(std::move(**next));
  }
  return rows;
}

}  // namespace plexus::store::tenant_test

/// Requires `expr` (a Result) to be ok, printing its error otherwise.
#define PLEXUS_REQUIRE_OK(expr)                                                        \
  do {                                                                                 \
    const auto& plexus_result_ = (expr);                                               \
    REQUIRE_MESSAGE(plexus_result_.ok(), (plexus_result_.ok() ? std::string() : plexus_result_.error().message())); \
  } while (false)

/// Requires `expr` (a Result) to have failed with errc `code`.
#define PLEXUS_REQUIRE_ERROR(expr, code)                                               \
  do {                                                                                 \
    const auto& plexus_result_ = (expr);                                               \
    REQUIRE_FALSE(plexus_result_.ok());                                                \
    REQUIRE_MESSAGE(::plexus::store::is(plexus_result_.error(), code), plexus_result_.error().message()); \
  } while (false)
