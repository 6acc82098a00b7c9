// The simulated world of one run (internal to plexus::sim): the virtual clock
// and its event queue, the network between nodes, the nodes' peer cores
// (peer::core::Core, the class the shipped peer service runs), the nemesis
// and the oracle. world.cpp: events, nodes, effects and the run;
// checks.cpp: invariants and the state hash; network.cpp: connections and
// in-flight frames; nemesis.cpp: faults.
#pragma once

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plexus/core/fault.hpp"
#include "plexus/sim/oracle.hpp"
#include "plexus/sim/rng.hpp"
#include "plexus/sim/sim.hpp"

namespace plexus::sim {

/// The liveness phase: faults off, then at most this long to converge and resolve.
inline constexpr Time liveness_phase = std::chrono::seconds(45);
/// After it, acked probes between every pair must all be acknowledged within this.
inline constexpr Time probe_phase = std::chrono::seconds(5);
/// The server every node serves; the workload also addresses one none serves.
inline constexpr std::string_view served_server = "s";

/// Which faults a seed switches on, and how strong (swarm testing).
struct Swarm {
  Time delay_min{0};
  Time delay_spread{0};
  std::uint32_t delay_tail_ppm = 0;  ///< per frame: a 10-50x slower delivery
  std::uint32_t reset_ppm = 0;       ///< per frame: the connection resets (in-flight frames lost)
  bool partitions = false;
  bool partitions_reset = false;     ///< cut links reset (else they stall, TCP-like)
  std::uint32_t shapes = 0;          ///< bit per Shape allowed
  bool one_way = false;              ///< partitions may block one direction only
  bool crashes = false;
  bool clogging = false;
  bool swizzle = false;
  bool fault_points = false;
  std::uint32_t fault_point_ppm = 0;
  std::uint32_t causal_percent = 0;
  std::uint32_t transitive_percent = 0;
  std::uint32_t unacked_percent = 0;
  std::uint32_t refused_percent = 0;  ///< messages to a server the target does not serve
  [[nodiscard]] std::string describe() const;
};

/// "gossip", "message", ... for traces.
const char* kind_name(const wire::Envelope& envelope);

enum class Shape : std::uint8_t { halves, random_halves, one, minority_third, bridge, majorities_ring, count };

/// Seeded decisions for fault points (fault.hpp): each point, at its first
/// hit in a run, is switched on or off for the run.
class SwarmInjector final : public fault::Injector {
 public:
  SwarmInjector(Rng rng, std::uint32_t ppm) : rng_(rng), ppm_(ppm) {}
  bool fire(const char* name) noexcept override;
  bool active = false;
  std::map<std::string, std::uint64_t> fired;

 private:
  Rng rng_;
  std::uint32_t ppm_;
  std::map<std::string, bool, std::less<>> enabled_;
};

enum class EventKind : std::uint8_t { wakeup, pump, connect, notify_down, restart, clog };

struct Event {
  Time at;
  std::uint64_t seq;
  EventKind kind;
  std::uint16_t a = 0, b = 0;
  std::uint64_t x = 0;
  bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

struct InFlight {
  Time ready;
  std::uint64_t conn;
  wire::Envelope envelope;
};

struct SimNode {
  std::string name;
  std::unique_ptr<peer::core::Core> core;  ///< null while crashed
  nlohmann::json data_dir;         ///< what survives a crash (membership)
  std::uint64_t instance = 0;
  std::uint32_t life = 0;          ///< oracle process id of the current life
  Time wakeup_at{-1};
  std::uint64_t wakeup_generation = 0;
  std::vector<std::uint64_t> view;  ///< per peer: the connection this node believes attached (0: none)
  Time clogged_until{0};
};

class World {
 public:
  explicit World(const RunOptions& options);
  RunResult run();

  // world.cpp
  void schedule(Time at, EventKind kind, std::uint16_t a, std::uint16_t b = 0, std::uint64_t x = 0);
  void dispatch(const Event& event);
  /// Carry out what node's core asks (its Output), then re-arm its wakeup.
  void apply(std::uint16_t node);
  /// The link between node and peer as the core sees it: attach, then bind.
  void attach(std::uint16_t node, std::uint16_t peer);
  void wake(std::uint16_t node);
  void start_node(std::uint16_t node);
  void trace(const char* what, std::uint16_t a, std::uint16_t b = 0, std::uint64_t x = 0);
  void fail(const std::string& invariant, const std::string& detail);
  void workload_step();
  void check_step(std::uint16_t node);
  void check_end();
  /// Every node up, converged and with nothing pending: the liveness phase may end.
  [[nodiscard]] bool quiet() const;
  void probe();
  void check_probes();
  std::uint64_t final_hash() const;
  NodeSpec spec_of(std::uint16_t node, std::uint64_t instance) const;
  std::optional<std::uint16_t> index_of(const std::string& name) const;

  // network.cpp
  std::uint64_t& conn(std::uint16_t a, std::uint16_t b);
  void send(std::uint16_t from, const std::string& to, wire::Envelope envelope);
  /// Deliver the frames of `connection` from -> to that are due (no-op once it ended).
  void pump(std::uint16_t from, std::uint16_t to, std::uint64_t connection);
  void dial(std::uint16_t from, const std::string& to);
  void connect(std::uint16_t a, std::uint16_t b);
  void reset(std::uint16_t a, std::uint16_t b, std::uint16_t closer, bool notify_closer_now);
  void notify_down(std::uint16_t node, std::uint16_t peer, std::uint64_t id);
  bool blocked(std::uint16_t from, std::uint16_t to) const;
  /// No frame in flight is due later than a fault-free delay from now.
  [[nodiscard]] bool network_settled() const;
  Time frame_delay();

  // nemesis.cpp
  static Swarm pick_swarm(Rng& rng, std::size_t nodes);
  void nemesis_step();
  void partition(Shape shape);
  void heal();
  void crash(std::uint16_t node);
  void restart(std::uint16_t node);
  void clog(std::uint16_t node, Time until);
  void swizzle();

  RunOptions options_;
  Rng rng_;       ///< network, nemesis, workload
  Swarm swarm_;
  SwarmInjector injector_;
  Oracle oracle_;
  Time now_{0};
  std::uint64_t seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  std::vector<SimNode> nodes_;
  std::vector<std::uint64_t> conns_;             ///< n*n, symmetric: open connection id (0: none)
  std::vector<std::deque<InFlight>> flights_;    ///< n*n, per direction: the open connection's frames
  std::vector<Time> last_ready_;                 ///< n*n, FIFO per direction within the open connection
  std::vector<bool> pump_armed_;                 ///< n*n
  std::vector<bool> cut_;                        ///< n*n: direction a->b partitioned
  bool partitioned_ = false;
  std::uint64_t next_conn_ = 1;
  std::uint64_t next_instance_ = 1;
  std::uint32_t next_life_ = 0;
  bool faults_on_ = true;
  std::uint64_t probes_from_ = 0;
  bool failed_ = false;
  RunResult result_;
  struct TraceEntry { Time at; const char* what; std::uint16_t a, b; std::uint64_t x; };
  std::array<TraceEntry, 48> trace_{};
  std::size_t trace_count_ = 0;
};

}  // namespace plexus::sim
