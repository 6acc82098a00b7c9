// The sans-IO peer core: every protocol decision of a Plexus node that does
// not touch a socket, run by both drivers — the Asio shell (peer/*.cpp) and
// the simulator (sim/world.cpp). It composes the sans-IO cores that own the
// state (membership::Membership, liveness::Liveness, delivery::AckTable /
// Dedupe / AckBatcher / CausalRegistry, choose_relay) and decides:
//   - the attach policy: identity check, a removed life, the nudge branch,
//     which link to bind (attach());
//   - the receive order of a message: relay, stale target, unknown server
//     (refused ack), causal admit, dedupe, ack, causal buffering, delivery
//     (on_message());
//   - acks: relaying them, completing sends, batching and refusals;
//   - membership exchange: changes, gossip, digests, rumors, leave, the
//     answer to a nudge;
//   - timers: heartbeats, retransmission, anti-entropy, when to wake up.
// Inputs are commands, decoded frames and the time; outputs collect in an
// Output value the driver drains with take() (presence::Shard's shape):
// frames to send, links to close, deliveries, completions, drops, membership
// changes for the driver's link table. No clock, socket or thread here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
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
#include "plexus/wire/message.hpp"

namespace plexus::peer::core {

using Time = plexus::Time;

/// Bugs a test or the simulator can switch back on to prove they are found.
/// Each restores an earlier, wrong behaviour of this core.
enum class Bug : std::uint8_t {
  none,
  skip_dedupe,        ///< deliver every arrival of an acked message, retransmissions included
  causal_on_arrival,  ///< deliver causal messages as they arrive, without waiting for their past
  /// ack causal messages when they enter the buffer, not when delivered (a
  /// buffered message whose predecessor is lost for good was reported
  /// delivered and never was)
  causal_ack_on_buffer,
  /// retire a life as soon as membership shows another instance for its
  /// name (membership can flip to an older life and back)
  retire_on_flip,
  /// drop a retired sender's causal order entries for other destinations from
  /// the stamps we send (only the destination may drop them)
  forget_retired_order,
};

/// What the core needs of the node's configuration.
struct CoreConfig {
  liveness::Options liveness;
  delivery::AckTableOptions acks;
  delivery::CausalRegistryOptions causal;
  membership::Options membership;
  /// Anti-entropy: a digest to one random up member this often.
  Time gossip_interval = std::chrono::seconds(1);
  /// Batching delay of gossip broadcasts and acks (next_wakeup()).
  Time tick_interval = std::chrono::milliseconds(10);
  /// A member heard of through gossip that we do not dial is nudged after this (plus jitter).
  Time nudge_delay = std::chrono::seconds(1);
  /// How long an attach may take: a nudge answered defers our own nudge this long.
  Time handshake_timeout = std::chrono::seconds(5);
  /// Rumors (changes learned from gossip) go on to this many up members.
  std::size_t gossip_fanout = 2;
  /// Most retransmissions one tick sends.
  std::size_t retransmits_per_tick_max = 10'000;
  std::uint8_t relay_hops_max = 3;
  /// Received messages the driver may hold for its handlers (its backlog,
  /// set_dispatch_backlog(), plus deliveries not yet taken); past it a
  /// message is dropped unacked ("dispatch_queue_full"). 0: unlimited.
  std::size_t dispatch_queue_max = 0;
  Bug bug = Bug::none;
};

/// One frame for the driver to send: on the control link of `peer` (channel
/// empty), or on `channel`, slot `index`, for messages.
struct Send {
  std::string peer;
  std::shared_ptr<const wire::Envelope> frame;  ///< shared: one broadcast, one encoding
  std::string channel;
  std::uint16_t index = 0;
  /// A message sent straight to its target: if the link cannot take it, the
  /// driver hands it back through reroute() (it may go through a relay).
  bool reroute = false;
};

/// A membership change the driver applies to its link table.
struct LinkChange {
  membership::ChangeKind kind;
  NodeSpec spec;
  /// The member runs another instance than before: its links are stale.
  bool restarted = false;
};

/// What the core asks of its driver; drained by take().
struct Output {
  std::vector<Send> sends;
  std::vector<LinkChange> changes;            ///< in order, before the sends they caused
  std::vector<wire::Message> deliveries;      ///< for a local server, in delivery order
  std::vector<std::pair<std::uint64_t, Result<void>>> completions;  ///< (token, outcome)
  std::vector<const char*> drops;             ///< one reason per dropped message
  std::vector<liveness::Transition> transitions;  ///< from evaluate()
  /// Peers that went down while linked (silent for peer_timeout): close every
  /// link to them, data links too, so the next attach starts on fresh
  /// connections instead of ones TCP may still be backing off on.
  std::vector<std::string> closes;
  std::uint64_t retransmits = 0;
  bool persist = false;       ///< membership changed: write the data directory
  bool removed_self = false;  ///< this node is no longer a member (once)
  [[nodiscard]] bool empty() const {
    return sends.empty() && changes.empty() && deliveries.empty() && completions.empty() && drops.empty() &&
           transitions.empty() && closes.empty() && retransmits == 0 && !persist && !removed_self;
  }
  /// Empty again, keeping the vectors' capacity.
  void clear();
  /// Member by member: three pointers per vector, no temporary Output.
  void swap(Output& other) noexcept;
};

/// forward() options the core implements.
struct SendOptions {
  std::string channel = std::string(default_channel);
  std::string server;
  bool ack = false;
  std::string causal_label;
  bool transitive = false;
  std::optional<std::uint64_t> partition_key;
};

/// The facts of an Attach frame on a connection.
struct AttachFacts {
  std::string handshake_name;          ///< who the secure handshake proved
  std::uint64_t handshake_instance = 0;
  wire::Attach attach;
  bool nudge_link = false;             ///< the connection is a nudge (ours or answered)
  bool dialer = false;                 ///< we dialed the connection
};

/// What to do with an attaching connection.
enum class AttachVerdict {
  mismatch,      ///< the attach names another node than the handshake: abort
  removed_life,  ///< a removed life: send `replies`, then close
  refused,       ///< membership refuses its spec: close
  not_member,    ///< not a live member (e.g. this node was removed): close
  nudge,         ///< a short contact: `answer` if asked, keep it open for the digest
  bind,          ///< bind it to its slot (channel, index); `answer` with our attach
};

struct AttachDecision {
  AttachVerdict verdict = AttachVerdict::refused;
  bool answer = false;                 ///< send our own Attach back on it
  std::vector<wire::Envelope> replies; ///< frames for this connection, in order
  std::string why;                     ///< for the log, when refused
};

/// "node#instance": one incarnation of a node (ack targets, causal clocks).
std::string process_key(std::string_view node, std::uint64_t instance);
/// Whether node `a` dials node `b` (the smaller name dials).
inline bool dials(std::string_view a, std::string_view b) { return a < b; }

class Core {
 public:
  Core(NodeSpec self, CoreConfig config, std::uint64_t seed, Time now);

  // ---- membership (core.cpp) ----
  /// Rejoin what a data directory remembers (membership JSON of a previous life).
  Result<void> load(const nlohmann::json& data_dir, Time now);
  /// Admit a member we were told of locally (join, add_member, a nudge's answer).
  Result<bool> admit(const NodeSpec& spec, Time now);
  /// Where a change was seen: here first, or in another member's gossip.
  enum class Source { local, gossip };
  void apply_changes(const std::vector<membership::Change>& changes, Source source, Time now);
  void on_gossip(const std::string& from, wire::Gossip gossip, Time now);
  void on_leave(const std::string& from, const wire::Leave& leave, Time now);
  /// The nudger's digest on a nudge we answer: the entries it lacks.
  std::vector<wire::Envelope> answer_nudge(const std::string& from, const std::vector<wire::DigestEntry>& digest);
  /// This node leaves by choice (leave()) or removes `node`: the tombstone to tell everyone.
  std::vector<wire::MemberEntry> entries_of(const std::string& name) const;

  // ---- links (core.cpp) ----
  AttachDecision attach(const AttachFacts& facts, Time now);
  /// The control link to `peer` is bound: it is attached, and gets our digest.
  void link_up(const std::string& peer, Time now);
  void link_down(const std::string& peer);
  /// Outbound partitions (test hooks, the simulator's nemesis): no sends, no relays to these.
  void set_cut(std::set<std::string> cut) { cut_ = std::move(cut); }
  /// Peers whose dial is due and who have no link: the attempt is counted.
  std::vector<std::string> dials_due(Time now);
  /// Liveness transitions since the last call, into Output::transitions; a
  /// peer down while linked goes into Output::closes too (close_if_silent()).
  void evaluate(Time now);
  /// Whether `peer` is down while its control link is attached (silent for
  /// peer_timeout). If so it counts as detached from now on (redials follow
  /// the backoff) and the driver must close all its links: true.
  bool close_if_silent(const std::string& peer, Time now);

  // ---- messages (receive.cpp) ----
  /// Any frame from a member's link (the simulator's path; the shell calls the handlers).
  void receive(const std::string& from, wire::Envelope envelope, Time now);
  void on_message(wire::Message message, Time now) { take_message(message, now); }
  /// on_message() without a copy: `message` is consumed (left moved-from).
  /// The shell's receive path: one Message move per delivery, none per step.
  void take_message(wire::Message& message, Time now);
  void on_ack(wire::Ack ack);
  /// Send `payload` to `server` on `target`: built, stamped, tracked and routed here.
  Result<void> forward(const std::string& target, std::vector<std::uint8_t> payload, const SendOptions& options,
                       std::uint64_t token, Time now);
  /// An acked message: give it an ack id (and a causal stamp), keep its frame
  /// for retransmission and `token` for its completion. Returns the frame.
  Result<std::vector<std::uint8_t>> track(wire::Message& message, std::span<const std::uint8_t> payload,
                                          std::uint64_t token, Time now);
  /// Route a message: straight to its target when up, else through a relay
  /// when it may be relayed. False: no path (nothing sent).
  bool route(wire::Message message);
  /// A Send with `reroute` did not go out: relay it if it may be. False: no path.
  bool reroute(wire::Message message);
  /// A relay for `message` among the up members, if any.
  std::optional<std::string> choose_relay(const wire::Message& message);
  /// Messages the driver still holds for its handlers (CoreConfig::dispatch_queue_max).
  void set_dispatch_backlog(std::size_t messages) { dispatch_backlog_ = messages; }
  /// Servers registered here: a message to another is refused (with a refused ack).
  void serve(const std::string& server) { servers_.insert(server); }
  void unserve(const std::string& server) {
    servers_.erase(server);
    last_served_.clear();
  }
  /// Fail every send to a life of `name` but `keep`, forget its dedupe and
  /// causal state (it restarted, or left when keep is empty).
  void retire_lives(const std::string& name, std::optional<std::uint64_t> keep, const std::string& why);

  // ---- timers (core.cpp) ----
  /// Heartbeats, gossip broadcast, anti-entropy, retransmission, ack flush.
  void tick(Time now);
  /// When tick() next has work (none: only inputs wake it).
  [[nodiscard]] std::optional<Time> next_wakeup() const;
  /// Work that wants the fast tick: gossip to pass on, acks to flush or await.
  [[nodiscard]] bool has_timed_work() const;
  /// Send what is batched now: gossip of changes, acks (before a stop).
  void flush(Time now);
  /// Changes seen here first go to every member at the next tick.
  void mark_dirty(const std::string& name) { dirty_.insert(name); }

  Output take() { return std::exchange(out_, {}); }
  /// take() into a buffer the driver keeps: no allocation per input (the
  /// two buffers trade places, each keeping its vectors' capacity).
  void take_into(Output& into) {
    into.clear();
    into.swap(out_);
  }
  /// Whether take() would return anything: drivers check this first, so an
  /// input with no output (a message queued for a later drain) costs nothing.
  [[nodiscard]] bool has_output() const { return !out_.empty(); }

  [[nodiscard]] const NodeSpec& self() const { return self_; }
  [[nodiscard]] membership::Membership& members() { return members_; }
  [[nodiscard]] const membership::Membership& members() const { return members_; }
  [[nodiscard]] liveness::Liveness& liveness() { return liveness_; }
  [[nodiscard]] const liveness::Liveness& liveness() const { return liveness_; }
  [[nodiscard]] const delivery::AckTable& acks() const { return acks_; }
  [[nodiscard]] std::mt19937_64& rng() { return rng_; }
  [[nodiscard]] bool left() const { return left_; }
  [[nodiscard]] std::size_t causal_buffered() const { return causal_held_.size(); }
  /// Dedupe refuses this sender instance for good (it was forgotten).
  [[nodiscard]] bool forgot_sender(std::uint64_t instance) const { return dedupe_.forgotten(instance); }
  /// Up, attached and not cut off: a message to it goes straight there.
  [[nodiscard]] bool reachable(const std::string& peer) const;

 private:
  // core.cpp
  void emit(const std::string& peer, wire::Envelope envelope);
  void emit_shared(const std::string& peer, const std::shared_ptr<const wire::Envelope>& frame);
  void broadcast_dirty();
  void anti_entropy();
  void mark_work(Time now);
  // receive.cpp
  enum class CausalAdmit { accept, duplicate, waiting, full };
  CausalAdmit admit_causal(const wire::Message& message, const std::string& origin);
  void buffer_causal(wire::Message message, const std::string& origin);
  void take_causal(delivery::CausalLabel& label);
  void deliver(wire::Message message);
  /// deliver() of a message whose server was checked already (on_message).
  void deliver_served(wire::Message& message) { out_.deliveries.push_back(std::move(message)); }
  void drop(const char* reason) { out_.drops.push_back(reason); }
  void ack(const std::string& origin, std::uint64_t id);
  /// Ack an acked message, or refuse it when its server is not served here.
  void answer(const std::string& origin, const wire::Message& message);
  [[nodiscard]] bool serves(const wire::Message& message) const {
    if (message.server.empty() || message.server == last_served_) return true;
    if (!servers_.contains(message.server)) return false;
    last_served_ = message.server;  // a run of messages to one server: one compare each
    return true;
  }
  void flush_acks();
  void retransmit(Time now);
  void complete(const std::string& target, std::uint64_t id, Result<void> outcome);
  void fail_target(const std::string& process, const std::string& why);
  void forget_process(const std::string& process);
  bool stamp(wire::Message& message, const std::string& target_process);

  NodeSpec self_;
  CoreConfig config_;
  std::mt19937_64 rng_;
  membership::Membership members_;
  liveness::Liveness liveness_;
  delivery::AckTable acks_;
  delivery::Dedupe dedupe_;
  delivery::AckBatcher ack_batcher_;
  delivery::CausalRegistry causal_;
  std::set<std::string> causal_labels_;                   ///< labels seen, re-checked after a retirement
  std::map<std::uint64_t, wire::Message> causal_held_;    ///< handle -> message waiting for its past
  std::set<std::pair<std::string, std::uint64_t>> causal_waiting_;  ///< (origin process, ack id) held
  std::uint64_t next_causal_handle_ = 1;
  std::map<std::pair<std::string, std::uint64_t>, std::uint64_t> completions_;  ///< (process, ack id) -> token
  std::map<std::string, std::vector<std::uint64_t>> refused_acks_;  ///< origin process -> ids
  std::set<std::string> servers_;
  std::size_t dispatch_backlog_ = 0;
  mutable std::string last_served_;  ///< the server serves() found last (empty: none)
  std::set<std::string> peers_;  ///< live members but self
  std::set<std::string> cut_;
  std::map<std::string, std::set<std::uint64_t>> lives_;  ///< instances seen per member, not retired
  std::set<std::string> dirty_;   ///< to every member at the next tick
  std::set<std::string> rumors_;  ///< learned from gossip: to gossip_fanout up members
  Time last_anti_entropy_{0};
  std::optional<Time> work_since_;
  Time now_{0};  ///< the latest time an input brought (for work found without one)
  std::uint64_t heartbeat_sequence_ = 0;
  bool left_ = false;
  Output out_;
};

}  // namespace plexus::peer::core
