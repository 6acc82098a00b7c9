// NodeCore: one simulated Plexus node as a sans-IO composition of the REAL
// protocol cores the peer service runs: membership::Membership (CRDT, gossip,
// anti-entropy, tombstone GC), liveness::Liveness (heartbeats, failure
// detection, redial backoff), delivery::AckTable / Dedupe / AckBatcher (acked
// delivery, retransmission, exactly once), delivery::CausalRegistry (causal
// order) and peer::choose_relay (transitive messages). Messages are the wire
// structs (wire::Envelope); acked ones are kept encoded by wire::encode as the
// shell keeps them, and re-decoded for retransmission.
//
// The glue between those cores mirrors the Asio shell (peer/status.cpp,
// links.cpp, gossip.cpp, messaging.cpp) step for step, with one connection per
// peer instead of `parallelism` per channel: inputs are link_up / link_down /
// receive / tick / forward with the current time, and every effect (frames to
// send, dials, closes, deliveries, completions, up/down transitions) goes into
// an Effects value the driver carries out. No clock, socket or thread.
//
// Extension point for presence replication (lib/plexus/presence): add the
// tracker shards as members here, route their message kind in receive(),
// drive their timers from tick() and next_wakeup(), expose their sets; the
// World then tracks/untracks in its workload and compares every node's sets
// with the oracle's live tracked entries in check_end() (docs/simulation.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plexus/core/node_spec.hpp"
#include "plexus/core/result.hpp"
#include "plexus/core/time.hpp"
#include "plexus/delivery/delivery.hpp"
#include "plexus/liveness/liveness.hpp"
#include "plexus/membership/membership.hpp"
#include "plexus/sim/rng.hpp"
#include "plexus/wire/message.hpp"

namespace plexus::sim {

using Time = plexus::Time;  // core/time.hpp

/// Bugs the simulator can switch back on to prove it finds them.
enum class Bug : std::uint8_t {
  none,
  skip_dedupe,        ///< deliver every arrival of an acked message, retransmissions included
  causal_on_arrival,  ///< deliver causal messages as they arrive, without waiting for their past
  /// ack causal messages when they enter the buffer, not when delivered (the
  /// shell's behaviour before the simulator found it: a buffered message whose
  /// predecessor is lost for good was reported delivered and never was)
  causal_ack_on_buffer,
  /// retire a life (fail its acks, forget its dedupe and causal state) as soon
  /// as membership shows another instance for its name (the shell's behaviour
  /// before the simulator found that membership can flip to an older life)
  retire_on_flip,
  /// drop a retired sender's causal order entries for other destinations from
  /// the stamps we send (delivery::CausalLabel::forget_process before the
  /// simulator found, with seed 5467 at 7 nodes, that only the destination may
  /// drop them: a message could overtake one from that sender it came after)
  forget_retired_order,
};

struct NodeConfig {
  liveness::Options liveness;
  /// Anti-entropy: a digest to one random up member this often.
  Time gossip_interval = std::chrono::seconds(1);
  /// Batching delay of gossip broadcasts and acks (the shell's tick).
  Time tick_interval = std::chrono::milliseconds(10);
  delivery::AckTableOptions acks;
  /// Most retransmissions one tick sends (peer::Config::retransmits_per_tick_max).
  std::size_t retransmits_per_tick_max = 10'000;
  std::uint8_t relay_hops_max = 3;
  Bug bug = Bug::none;
};

/// forward() options the simulator exercises.
struct SendOptions {
  bool ack = false;
  std::string causal_label;
  bool transitive = false;
};

/// What one input asks the driver to do.
struct Effects {
  std::vector<std::pair<std::string, wire::Envelope>> sends;  ///< (peer, frame) on its link
  std::vector<std::string> dials;                             ///< peers to connect to
  std::vector<std::string> closes;                            ///< links to close
  std::vector<wire::Message> delivered;                       ///< handed to a local server
  std::vector<std::pair<std::uint64_t, Result<void>>> completed;  ///< (token, outcome)
  std::vector<liveness::Transition> transitions;              ///< node up / down
  void clear();
};

class NodeCore {
 public:
  /// A fresh life of `self`; `data_dir` is what the node persisted in a
  /// previous life (membership JSON), or null.
  NodeCore(NodeSpec self, NodeConfig config, Rng rng, const nlohmann::json* data_dir, Time now, Effects& fx);

  /// Contact a seed (the join address of the shell): admit it, dial it.
  void join(const NodeSpec& seed, Time now, Effects& fx);
  /// A link to `peer` is attached (both sides exchanged Attach with their specs).
  void link_up(const NodeSpec& peer, Time now, Effects& fx);
  void link_down(const std::string& peer, Time now, Effects& fx);
  void receive(const std::string& from, wire::Envelope envelope, Time now, Effects& fx);
  /// Timers: failure detection, heartbeats, dials, gossip, retransmission, ack flush.
  void tick(Time now, Effects& fx);
  /// Send `payload` to a server on `target`; `token` names its completion in Effects.
  Result<void> forward(const std::string& target, std::vector<std::uint8_t> payload, const SendOptions& options,
                       std::uint64_t token, Time now, Effects& fx);

  /// When tick() next has work.
  [[nodiscard]] std::optional<Time> next_wakeup() const;
  /// What the data directory holds (the shell persists after every change).
  [[nodiscard]] nlohmann::json persisted() const;
  [[nodiscard]] const membership::Membership& members() const { return members_; }
  [[nodiscard]] const liveness::Liveness& liveness() const { return liveness_; }
  [[nodiscard]] const NodeSpec& self() const { return self_; }
  [[nodiscard]] bool attached(const std::string& peer) const { return liveness_.attached(peer); }
  [[nodiscard]] std::size_t pending_acks() const { return acks_.size(); }
  [[nodiscard]] std::size_t causal_buffered() const { return causal_held_.size(); }
  /// Dedupe refuses this sender instance for good (it was forgotten).
  [[nodiscard]] bool forgot_sender(std::uint64_t instance) const { return dedupe_.forgotten(instance); }

 private:
  // node_core.cpp: links, membership, timers
  void apply_changes(const std::vector<membership::Change>& changes, Time now, Effects& fx);
  void on_gossip(const std::string& from, wire::Gossip gossip, Time now, Effects& fx);
  void drop_link(const std::string& peer, Time now, Effects& fx);
  /// Fail, forget and refuse every known life of `name` but `keep`.
  void retire_lives(const std::string& name, std::optional<std::uint64_t> keep, const std::string& why, Time now,
                    Effects& fx);
  void send(const std::string& peer, wire::Envelope envelope, Time now, Effects& fx);
  void evaluate(Time now, Effects& fx);
  void broadcast_dirty(Time now, Effects& fx);
  void anti_entropy(Time now, Effects& fx);
  void mark_work(Time now);
  // node_messaging.cpp: forward, relay, acks, dedupe, causal order
  bool route(wire::Message& message, const std::vector<std::uint8_t>* frame, Time now, Effects& fx);
  void drop_retired_senders(delivery::Stamp& stamp) const;
  bool relay(wire::Message message, Time now, Effects& fx);
  void on_message(wire::Message message, Time now, Effects& fx);
  void on_ack(wire::Ack ack, Time now, Effects& fx);
  void flush_acks(Time now, Effects& fx);
  void retransmit(Time now, Effects& fx);
  void complete(const std::string& target, std::uint64_t id, Result<void> outcome, Effects& fx);
  void fail_target(const std::string& process, const std::string& why, Effects& fx);
  void forget_process(const std::string& process, Time now, Effects& fx);
  void take_causal(delivery::CausalLabel& label, Time now, Effects& fx);
  wire::Message release_causal(std::uint64_t handle);
  bool up(const std::string& peer) const { return liveness_.up(peer) && liveness_.attached(peer); }

  NodeSpec self_;
  NodeConfig config_;
  Rng rng_;
  membership::Membership members_;
  liveness::Liveness liveness_;
  delivery::AckTable acks_;
  delivery::Dedupe dedupe_;
  delivery::AckBatcher ack_batcher_;
  delivery::CausalRegistry causal_;
  std::set<std::string> causal_labels_;
  std::map<std::uint64_t, wire::Message> causal_held_;
  std::set<std::pair<std::string, std::uint64_t>> causal_waiting_;  ///< (origin process, ack id) in causal_held_
  std::uint64_t next_causal_handle_ = 1;
  std::map<std::pair<std::string, std::uint64_t>, std::uint64_t> completions_;  ///< (process, ack id) -> token
  std::map<std::string, std::vector<std::uint64_t>> refused_acks_;
  std::set<std::string> peers_;  ///< live members but self: the shell's link table
  std::map<std::string, std::set<std::uint64_t>> lives_;  ///< instances seen per member name, not yet retired
  std::set<std::string> dirty_;
  Time last_anti_entropy_{0};
  std::optional<Time> work_since_;  ///< acks or gossip waiting for the next tick
  std::uint64_t heartbeat_sequence_ = 0;
};

/// "node#instance", as the shell names processes.
std::string process_key(const std::string& node, std::uint64_t instance);

}  // namespace plexus::sim
