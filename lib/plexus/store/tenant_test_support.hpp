// Test support for the tenant tests. They run on whatever backend the test
// executable links a conformance_target() for (conformance.hpp, the same seam
// as the backend conformance suite): store_tenant_test links LMDB's; a
// PostgreSQL executable links postgres/'s with the same test sources.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "plexus/store/conformance.hpp"
#include "plexus/store/kv.hpp"
#include "plexus/store/tenant.hpp"

namespace plexus::store::tenant_test {

/// The backend under test, asked once per process.
inline const ConformanceTarget& target() {
  static const ConformanceTarget the_target = conformance_target();
  return the_target;
}

/// One fresh datastore for one test; open() gives a new Database on it, also
/// in a forked child. The destructor runs the target's cleanup.
class Store {
 public:
  Store() {
    if (!target().available) {
      std::fprintf(stderr, "tenant tests (%s): skipped: %s\n", target().name.c_str(), target().skip_reason.c_str());
      return;
    }
    // Made and closed at once: forked children must not inherit an open handle.
    auto fresh = target().open_fresh();
    REQUIRE_MESSAGE(fresh.ok(), (fresh.ok() ? std::string() : fresh.error().message()));
  }
  ~Store() {
    if (target().available && target().cleanup) target().cleanup();
  }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  [[nodiscard]] static bool available() { return target().available; }
  /// A new Database on this test's datastore (call it again in a forked child).
  [[nodiscard]] static std::shared_ptr<Database> open() {
    auto backend = target().reopen_same();
    REQUIRE_MESSAGE(backend.ok(), (backend.ok() ? std::string() : backend.error().message()));
    return std::make_shared<Database>("tenant-test", std::move(backend).value());
  }
};

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

/// A store, a Database on it and its Tenants, for one test (database null
/// when the backend is unavailable: the test then returns at once).
struct Fixture {
  Store store;
  std::shared_ptr<Database> database = Store::available() ? Store::open() : nullptr;
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

/// Every key of the datastore, raw (bypassing tenants), in order: system keys (ff ...) included.
inline std::vector<KeyValue> all_rows(Database& database) {
  auto transaction = database.begin(Mode::snapshot);
  REQUIRE(transaction.ok());
  std::vector<KeyValue> rows;
  RangeIterator iterator(*transaction, std::string(), std::string(16, '\xff'));
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
