// Crash safety of the PostgreSQL backend: a client process SIGKILLed while it
// commits in a loop leaves every reported commit whole and no commit half-done.
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "plexus/store/errors.hpp"
#include "plexus/store/postgres/test_server.hpp"

using namespace plexus;
using namespace plexus::store;
using postgres::test::TestTable;
using Clock = std::chrono::steady_clock;

namespace {

/// Commits the child makes at most, and how many the parent waits for before the kill.
constexpr std::uint32_t child_commits_max = 100'000;
constexpr std::uint32_t commits_before_kill = 30;
constexpr const char* parts[] = {"a", "b", "c"};

std::string key_of(std::uint32_t round, const char* part) {
  return "r" + std::to_string(1'000'000 + round) + "/" + part;
}

std::string value_of(std::uint32_t round) {
  return std::string(2'000, static_cast<char>('a' + round % 26)) + std::to_string(round);
}

/// The child: its own backend (never the parent's connections), one
/// transaction of three rows per round, each reported on `report` after its commit.
[[noreturn]] void commit_forever(const PostgresOptions& options, int report) {
  auto backend = open_postgres(options);
  if (!backend.ok()) _exit(3);
  for (std::uint32_t round = 0; round < child_commits_max; ++round) {
    auto t = (*backend)->begin(Mode::read_write);
    if (!t.ok()) _exit(4);
    for (const char* part : parts) {
      if (!(*t)->set(key_of(round, part), value_of(round)).ok()) _exit(5);
    }
    if (!(*t)->commit().ok()) _exit(6);
    if (::write(report, &round, sizeof round) != sizeof round) _exit(7);
  }
  _exit(0);
}

/// Reads round numbers from `fd` until `count` arrived or the deadline passed.
std::set<std::uint32_t> read_reports(int fd, std::size_t count, Clock::time_point deadline) {
  std::set<std::uint32_t> rounds;
  while (rounds.size() < count && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    std::uint32_t round = 0;
    if (::read(fd, &round, sizeof round) != sizeof round) break;  // end of file: the child is gone
    rounds.insert(round);
  }
  return rounds;
}

}  // namespace

TEST_CASE("a client SIGKILLed while committing in a loop leaves every commit whole and none half") {
  // Proves atomic, durable commits under a client crash: every reported round has its three rows, no round has fewer.
  TestTable table;
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    commit_forever(table.options(), pipe_fds[1]);
  }
  ::close(pipe_fds[1]);
  std::set<std::uint32_t> reported =
      read_reports(pipe_fds[0], commits_before_kill, Clock::now() + std::chrono::seconds{60});
  REQUIRE(::kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));  // killed mid-loop, not exited on an error
  for (std::uint32_t round : read_reports(pipe_fds[0], child_commits_max, Clock::now() + std::chrono::seconds{5})) {
    reported.insert(round);
  }
  ::close(pipe_fds[0]);
  REQUIRE(reported.size() >= commits_before_kill);

  auto t = table.backend().begin(Mode::snapshot);
  REQUIRE(t.ok());
  auto rows = (*t)->get_range("r", "s", 10'000, false);
  REQUIRE(rows.ok());
  std::map<std::uint32_t, int> parts_seen;
  for (const KeyValue& row : rows->rows) {
    const auto round = static_cast<std::uint32_t>(std::stoul(row.key.substr(1, 7)) - 1'000'000);
    CHECK(row.value == value_of(round));
    ++parts_seen[round];
  }
  for (auto [round, count] : parts_seen) CHECK_MESSAGE(count == 3, "round ", round, " is half there");
  for (std::uint32_t round : reported) {
    CHECK_MESSAGE(parts_seen.count(round) == 1, "reported round ", round, " is missing");
  }
}
