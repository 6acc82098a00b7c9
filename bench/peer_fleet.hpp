// The parent side of bench_peer: node processes started from our own binary
// (`bench_peer node ...`, see peer_node.hpp), their command pipes, and a
// bounded wait over the JSON events they print. Also /proc readings of a
// process's CPU time and resident memory.
//
// Failures of the harness itself (a node that does not start, a reply that
// does not come within its limit) throw std::runtime_error: the section that
// ran it reports the message as its error.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace plexus::bench {

struct NodeOptions {
  std::string name;
  bool insecure = false;
  std::vector<std::string> channels;  ///< NAME:PARALLELISM besides "default"
  int cpu = -1;                       ///< pin the whole process to this core
};

/// What a wait does with one event.
enum class Take { skip, take, done };

class Fleet {
 public:
  /// Nodes of one fleet share a fresh cluster key; they log at `log_level` to
  /// our stderr and get `node_args` on their command lines (experiments).
  explicit Fleet(std::string log_level, std::vector<std::string> node_args = {});
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  /// Start the nodes (all at once) and wait for each one's "ready".
  void start(const std::vector<NodeOptions>& nodes, double limit_s);
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  [[nodiscard]] const std::string& name(std::size_t i) const { return nodes_.at(i).name; }
  [[nodiscard]] pid_t pid(std::size_t i) const { return nodes_.at(i).pid; }
  /// The node's spec as JSON text (what `join` takes).
  [[nodiscard]] const std::string& spec(std::size_t i) const { return nodes_.at(i).spec; }

  /// Write one command line to node i.
  void send(std::size_t i, std::string_view line);
  /// Hand every event to `handle` (held-back events first, then new ones as
  /// they arrive) until it answers done; skipped events are held back for a
  /// later wait. False when `limit_s` passed first.
  bool wait(double limit_s, const std::function<Take(std::size_t node, const nlohmann::json& event)>& handle);
  /// Send `line` to node i and return its reply event named `reply`; throws
  /// on an "error" event from it or after `limit_s`.
  nlohmann::json request(std::size_t i, std::string_view line, std::string_view reply, double limit_s = 10);
  /// SIGKILL node i (its events stop; it is reaped when the fleet ends).
  void kill(std::size_t i);
  /// Close every node's stdin (they exit), reap them; SIGKILL what lingers.
  void stop();

 private:
  struct Node {
    std::string name;
    pid_t pid = -1;
    int command_fd = -1;  // its stdin
    int event_fd = -1;    // its stdout
    std::string partial;  // an event line not yet complete
    std::string spec;
    bool alive = false;
  };
  void spawn(Node& node, const NodeOptions& options);
  bool read_events(int timeout_ms, std::vector<std::pair<std::size_t, nlohmann::json>>& out);

  std::string log_level_;
  std::vector<std::string> node_args_;
  std::string key_hex_;
  std::vector<Node> nodes_;
  std::vector<std::pair<std::size_t, nlohmann::json>> held_;
};

/// A process's CPU time and memory as /proc shows them.
struct ProcessSample {
  bool ok = false;
  double cpu_s = 0;        ///< utime+stime from /proc/PID/stat (clock-tick resolution)
  double scheduled_s = 0;  ///< sum over its threads of /proc/PID/task/*/schedstat (ns resolution)
  double rss_mib = 0;      ///< VmRSS from /proc/PID/status
  double rss_anon_mib = 0;  ///< RssAnon: its own memory (VmRSS also counts shared library pages)
  double pss_mib = 0;       ///< Pss from /proc/PID/smaps_rollup: shared pages divided among their users
};
ProcessSample sample_process(pid_t pid);

}  // namespace plexus::bench
