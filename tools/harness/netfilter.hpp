// Real network partitions for the `net` fault mode: one nftables table of
// the harness's own (inet plexus_harness) whose input chain drops, or resets,
// the packets from one node's loopback address to another's. Rules only ever
// name address pairs inside 127.0.0.0/8. The table is created when a run
// starts (a stale one from an earlier, crashed run is removed by name first),
// replaced as a whole in one nft transaction at every change, and deleted
// when the NetFilter goes (end of run, failed run, Ctrl-C/SIGTERM unwinding).
// A lock file keeps two net runs on one machine from sharing the table.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "plexus/core/result.hpp"
#include "tools/harness/scenario.hpp"

namespace plexus::harness {

/// The nftables table (family inet) a net run owns.
inline constexpr const char* net_table = "plexus_harness";
/// Held while a net run owns the table.
inline constexpr const char* net_lock_file = "/tmp/plexus-harness-net.lock";

/// Why the `net` mode cannot run on this machine (not root, no nft, nft
/// failing), or nothing when it can.
std::optional<std::string> net_unavailable();

/// Whether nft lists the harness's table now.
bool net_table_exists();

/// Packets from `from` to `to` (IPv4 addresses in 127/8) dropped or reset.
struct NetRule {
  std::string from;
  std::string to;
  NetFlavour flavour = NetFlavour::drop;
  auto operator<=>(const NetRule&) const = default;
};

/// The nft script that makes `rules` the whole chain; an address outside
/// 127.0.0.0/8 is an error naming it (nothing is applied).
Result<std::string> net_script(const std::set<NetRule>& rules);

class NetFilter {
 public:
  /// Take the lock, remove a stale table, create the table and its chain.
  /// `script_path`: where each applied script is written (kept for the report).
  static Result<std::unique_ptr<NetFilter>> open(std::string script_path);
  ~NetFilter();
  NetFilter(const NetFilter&) = delete;
  NetFilter& operator=(const NetFilter&) = delete;

  /// Make `rules` the table's whole rule set (one atomic nft transaction).
  Result<void> apply(const std::set<NetRule>& rules);
  /// Delete the table and release the lock (also done by the destructor).
  void close();

 private:
  NetFilter(int lock_fd, std::string script_path) : lock_fd_(lock_fd), script_path_(std::move(script_path)) {}
  int lock_fd_ = -1;
  std::string script_path_;
};

}  // namespace plexus::harness
