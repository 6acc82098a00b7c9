// Conformance, part 4: crash safety. A child process commits transactions
// that each write two keys, reporting every acknowledged commit; it is killed
// with SIGKILL mid-stream, and the reopened datastore must hold every
// acknowledged commit and no transaction half applied.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>

#include "plexus/store/conformance_support.hpp"

namespace plexus::store {
namespace {

using testing::Fixture;

std::string numbered(const char* prefix, std::uint64_t i) {
  char key[32];
  std::snprintf(key, sizeof key, "%s%08llu", prefix, static_cast<unsigned long long>(i));
  return key;
}

/// The child: commit pairs a/i, b/i forever, reporting each i once committed.
int commit_pairs_forever(int report_fd, int /*command_fd*/) {
  auto db = Fixture::reopen();
  if (!db) return 2;
  const std::string value(200, 'p');
  for (std::uint64_t i = 0; i < 10'000'000; ++i) {
    auto ok = db->run([&](Transaction& t) -> Result<void> {
      if (auto first = t.set(numbered("a/", i), value); !first) return first;
      return t.set(numbered("b/", i), value);
    });
    if (!ok) return 1;
    if (!testing::report(report_fd, i)) return 3;
  }
  return 0;
}

/// Every key under `prefix` in `t`, as the numbers after it.
std::set<std::uint64_t> numbers_under(Transaction& t, const std::string& prefix) {
  std::set<std::uint64_t> numbers;
  RangeIterator it(t, prefix, prefix + "\xff");
  for (int guard = 0; guard < 10'000'000; ++guard) {
    auto row = it.next();
    REQUIRE(row.ok());
    if (!*row) break;
    numbers.insert(std::stoull((*row)->key.substr(prefix.size())));
  }
  return numbers;
}

TEST_CASE("after SIGKILL every acknowledged commit is there and no transaction is half visible") {
  CONFORMANCE_FIXTURE(fx);
  { REQUIRE(Fixture::fresh()); }
  constexpr std::uint64_t acknowledged_wanted = 300;
  auto child = testing::spawn(commit_pairs_forever);
  REQUIRE(child);
  std::set<std::uint64_t> acknowledged;
  for (std::uint64_t n = 0; n < acknowledged_wanted; ++n) {
    auto i = testing::read_report(child->from_child, testing::after(std::chrono::seconds(60)));
    REQUIRE(i.has_value());
    acknowledged.insert(*i);
  }
  testing::kill_now(*child);

  auto db = Fixture::reopen();
  REQUIRE(db);
  auto t = db->begin(Mode::snapshot);
  REQUIRE(t.ok());
  const auto firsts = numbers_under(*t, "a/");
  const auto seconds = numbers_under(*t, "b/");
  CHECK(firsts == seconds);  // both keys of a transaction, or neither
  for (auto i : acknowledged) CHECK(firsts.count(i) == 1);
  // The child commits 0, 1, 2, ... one after another: what survived is a prefix.
  REQUIRE_FALSE(firsts.empty());
  CHECK(*firsts.rbegin() + 1 == firsts.size());
}

}  // namespace
}  // namespace plexus::store
