// nftables for the net fault mode (netfilter.hpp): running nft, the table's
// life, and the rule text.
#include "tools/harness/netfilter.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/ip/address.hpp>

#include <array>
#include <cerrno>
#include <fstream>

#include "plexus/core/errors.hpp"

extern char** environ;

namespace plexus::harness {
namespace {

constexpr std::size_t nft_output_max = 64 * 1024;  // what is kept of nft's output for an error

// Run nft with `args`; its stdout+stderr, or an error with them.
Result<std::string> run_nft(const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return make_error(errc::io_error, "nft: cannot make a pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<std::string> argv_text{"nft"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, "nft", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  std::string output;
  std::array<char, 4096> buffer{};
  for (;;) {  // ends at EOF: nft exited (a signal to the harness interrupts a read; it is retried)
    const ssize_t n = ::read(pipe_fds[0], buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < nft_output_max) output.append(buffer.data(), std::size_t(n));
  }
  ::close(pipe_fds[0]);
  if (spawned != 0) return make_error(errc::io_error, "nft not found (Debian package nftables)");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return make_error(errc::io_error, "nft " + (args.empty() ? "" : args.front()) + " failed: " + output);
  }
  return output;
}

bool in_loopback(const std::string& text) {
  std::error_code ec;
  const auto address = asio::ip::make_address_v4(text, ec);
  return !ec && (address.to_uint() >> 24) == 127;
}

Result<void> run_script(const std::string& path, const std::string& script) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << script;
    if (!out) return make_error(errc::io_error, path + ": cannot write the nft script");
  }
  auto done = run_nft({"-f", path});
  if (!done) return done.error();
  return {};
}

}  // namespace

std::optional<std::string> net_unavailable() {
  if (::geteuid() != 0) return "nftables needs root (this harness runs as uid " + std::to_string(::geteuid()) + ")";
  auto listed = run_nft({"list", "tables"});
  if (!listed) return listed.error().detail;
  return std::nullopt;
}

bool net_table_exists() {
  auto listed = run_nft({"list", "tables"});
  return listed && listed->find(std::string("inet ") + net_table + "\n") != std::string::npos;
}

Result<std::string> net_script(const std::set<NetRule>& rules) {
  const std::string chain = std::string("inet ") + net_table + " input";
  std::string script = "flush chain " + chain + "\n";
  for (const auto& r : rules) {
    for (const auto* address : {&r.from, &r.to}) {
      if (!in_loopback(*address)) {
        return make_error(errc::invalid_field, "net rule address " + *address + " is not inside 127.0.0.0/8");
      }
    }
    const std::string match = "add rule " + chain + " ip saddr " + r.from + " ip daddr " + r.to;
    if (r.flavour == NetFlavour::drop) {
      script += match + " drop\n";
    } else {
      script += match + " meta l4proto tcp reject with tcp reset\n" + match + " reject\n";
    }
  }
  return script;
}

Result<std::unique_ptr<NetFilter>> NetFilter::open(std::string script_path) {
  if (auto why = net_unavailable()) return make_error(errc::io_error, *why);
  const int fd = ::open(net_lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (fd >= 0) ::close(fd);
    return make_error(errc::io_error, std::string("another plexus-harness run uses net faults (lock ") + net_lock_file + ")");
  }
  std::unique_ptr<NetFilter> filter(new NetFilter(fd, std::move(script_path)));
  // "add" then "delete" removes a stale table whether or not one exists; then a fresh one.
  const std::string table = std::string("inet ") + net_table;
  const std::string script = "add table " + table + "\ndelete table " + table + "\nadd table " + table +
                             "\nadd chain " + table + " input { type filter hook input priority 0; policy accept; }\n";
  if (auto made = run_script(filter->script_path_, script); !made) return made.error();
  return filter;
}

Result<void> NetFilter::apply(const std::set<NetRule>& rules) {
  auto script = net_script(rules);
  if (!script) return script.error();
  return run_script(script_path_, *script);
}

void NetFilter::close() {
  if (lock_fd_ < 0) return;
  (void)run_nft({"delete", "table", "inet", net_table});
  ::close(lock_fd_);
  lock_fd_ = -1;
}

NetFilter::~NetFilter() { close(); }

}  // namespace plexus::harness
