// Helpers shared by the conformance tests (and the backends' own tests): a
// fixture that opens datastores through the backend's ConformanceTarget and
// cleans up after the test, and child processes for the multi-process and
// crash tests — forked, talking over a pipe, waited for with deadlines
// (poll on the pipe and on a pidfd), never with sleeps.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "plexus/store/conformance.hpp"
#include "plexus/store/kv.hpp"

namespace plexus::store::testing {

/// The backend under test, asked once per process.
inline const ConformanceTarget& target() {
  static const ConformanceTarget the_target = conformance_target();
  return the_target;
}

/// One test's datastores: fresh() makes a new one, reopen() another handle on it;
/// the destructor runs the target's cleanup.
class Fixture {
 public:
  Fixture() {
    if (!target().available && !skip_told_) {
      std::fprintf(stderr, "conformance(%s): skipped: %s\n", target().name.c_str(), target().skip_reason.c_str());
      skip_told_ = true;
    }
  }
  ~Fixture() {
    if (target().cleanup) target().cleanup();
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  [[nodiscard]] bool available() const { return target().available; }

  /// A new empty datastore; aborts the test (nullptr) when it cannot be opened.
  static std::unique_ptr<Database> fresh(Limits limits = {}) { return wrap(target().open_fresh(), limits); }
  static std::unique_ptr<Database> reopen(Limits limits = {}) { return wrap(target().reopen_same(), limits); }

 private:
  static std::unique_ptr<Database> wrap(Result<std::unique_ptr<Backend>> backend, const Limits& limits) {
    if (!backend) {
      std::fprintf(stderr, "conformance: open failed: %s\n", backend.error().message().c_str());
      return nullptr;
    }
    return std::make_unique<Database>("conformance", std::move(*backend), limits);
  }
  static inline bool skip_told_ = false;
};

/// A forked child with a pipe from it to the parent and one back.
struct Child {
  pid_t pid = -1;
  int from_child = -1;  ///< read end; the child reports on its end
  int to_child = -1;    ///< write end; the child reads commands from its end

  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (from_child >= 0) ::close(from_child);
    if (to_child >= 0) ::close(to_child);
  }
};

/// Forks; the child runs `body(report_fd, command_fd)` and exits with its
/// return value without running the parent's destructors or atexit handlers
/// (_exit). The parent must not hold threads or open datastores it shares
/// with the child.
inline std::unique_ptr<Child> spawn(const std::function<int(int, int)>& body) {
  int up[2];
  int down[2];
  if (::pipe(up) != 0) return nullptr;
  if (::pipe(down) != 0) {
    ::close(up[0]);
    ::close(up[1]);
    return nullptr;
  }
  const pid_t pid = ::fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    ::close(up[0]);
    ::close(down[1]);
    const int code = body(up[1], down[0]);
    ::_exit(code);
  }
  ::close(up[1]);
  ::close(down[0]);
  auto child = std::make_unique<Child>();
  child->pid = pid;
  child->from_child = up[0];
  child->to_child = down[1];
  return child;
}

/// Writes one 64-bit number to a pipe (a report or a command).
inline bool report(int fd, std::uint64_t number) {
  return ::write(fd, &number, sizeof number) == static_cast<ssize_t>(sizeof number);
}

/// Reads one 64-bit number, waiting at most until `deadline`; nullopt on
/// timeout or end of pipe.
inline std::optional<std::uint64_t> read_report(int fd, std::chrono::steady_clock::time_point deadline) {
  std::uint64_t number = 0;
  std::size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&number);
  while (got < sizeof number) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd waiting{fd, POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(fd, bytes + got, sizeof number - got);
    if (n <= 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  return number;
}

/// Waits for the child to exit, at most until `deadline` (a pidfd, polled);
/// its exit code, or nullopt on timeout or abnormal end. Reaps the child.
inline std::optional<int> wait_exit(Child& child, std::chrono::steady_clock::time_point deadline) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0));
  if (pidfd < 0) return std::nullopt;
  bool exited = false;
  while (!exited) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd waiting{pidfd, POLLIN, 0};
    exited = ::poll(&waiting, 1, static_cast<int>(left.count())) > 0;
  }
  ::close(pidfd);
  if (!exited) return std::nullopt;
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  child.pid = -1;
  if (!WIFEXITED(status)) return std::nullopt;
  return WEXITSTATUS(status);
}

/// Kills the child with SIGKILL and reaps it.
inline void kill_now(Child& child) {
  if (child.pid <= 0) return;
  ::kill(child.pid, SIGKILL);
  ::waitpid(child.pid, nullptr, 0);
  child.pid = -1;
}

inline std::chrono::steady_clock::time_point after(std::chrono::milliseconds duration) {
  return std::chrono::steady_clock::now() + duration;
}

}  // namespace plexus::store::testing

/// First line of every conformance test: the fixture, and a pass without checks
/// when the backend is not available here.
#define CONFORMANCE_FIXTURE(fx)                 \
  ::plexus::store::testing::Fixture fx;         \
  if (!fx.available()) return
