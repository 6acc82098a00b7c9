// Child processes for the tools (cluster launcher, harness): spawn with
// stdout and stderr on pipes, signal, and reap with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "plexus/core/result.hpp"

namespace plexus::tools {

class Child {
 public:
  /// Start `argv[0]` with `argv`; stdout and stderr come back on pipes.
  static Result<Child> spawn(const std::vector<std::string>& argv);
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] int stdout_fd() const noexcept { return out_; }
  [[nodiscard]] int stderr_fd() const noexcept { return err_; }
  /// Read one line from stdout, waiting at most `deadline`.
  Result<std::string> read_line(std::chrono::milliseconds deadline);
  void signal(int number) const noexcept;
  /// Reap if it has exited; returns the wait status.
  std::optional<int> try_wait() noexcept;
  /// SIGTERM, wait up to `grace`, then SIGKILL; returns the wait status.
  int stop(std::chrono::milliseconds grace) noexcept;

 private:
  Child() = default;
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string pending_;  // stdout bytes read past the last line
  std::optional<int> status_;
};

/// "exited 0", "killed by signal 9".
std::string describe_status(int status);

}  // namespace plexus::tools
