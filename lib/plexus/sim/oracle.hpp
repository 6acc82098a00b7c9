// The simulator's oracle (internal to plexus::sim): ground truth of what the
// workload sent, checked against what nodes deliver and report. Safety
// invariants are checked at every delivery and completion; the end checks
// run after the liveness phase. Each check returns "" or a description.
//
// Causal order is judged with the oracle's OWN vector clocks over the causal
// label's sends and deliveries, independent of delivery::CausalLabel: a
// message m happened before m' iff m'.clock[sender(m)] >= m.clock[sender(m)].
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "plexus/wire/message.hpp"

namespace plexus::sim {

class Oracle {
 public:
  /// A node life (process) starts; returns its id.
  std::uint32_t new_life(std::uint16_t node);
  /// The life crashed: what it sent can no longer be reported to it.
  void crashed(std::uint32_t life) { lives_.at(life).alive = false; }

  /// Reserve the id of the next message (the payload carries it).
  [[nodiscard]] std::uint64_t next_id() const { return messages_.size(); }
  /// The workload handed message next_id() to forward() and it was accepted.
  void sent(std::uint32_t life, std::uint16_t to, std::uint64_t to_instance, bool ack, bool causal,
            bool refused = false);

  std::string delivered(std::uint16_t node, std::uint32_t life, std::uint64_t instance,
                        const wire::Message& message);
  std::string completed(std::uint64_t id, bool ok);

  /// After the liveness phase: every acked message of a live sender was
  /// reported, and every one reported delivered was delivered exactly once.
  [[nodiscard]] std::string check_end() const;
  /// Reported delivered (acknowledged) and delivered once.
  [[nodiscard]] bool acknowledged(std::uint64_t id) const {
    return id < messages_.size() && messages_[id].reported_ok && messages_[id].deliveries == 1;
  }
  [[nodiscard]] std::uint64_t hash() const;
  /// Sender and receiver node of a message.
  [[nodiscard]] std::pair<std::uint16_t, std::uint16_t> ends(std::uint64_t id) const {
    return {lives_.at(messages_.at(id).from).node, messages_.at(id).to};
  }
  [[nodiscard]] std::uint64_t messages() const { return messages_.size(); }
  [[nodiscard]] std::uint64_t deliveries() const { return deliveries_; }

 private:
  using VectorClock = std::map<std::uint32_t, std::uint64_t>;
  struct Life {
    std::uint16_t node = 0;
    bool alive = true;
    VectorClock clock;                    ///< causal sends and deliveries of this life
    std::vector<std::uint64_t> causal_in; ///< causal messages delivered here, in order
  };
  struct Record {
    std::uint32_t from = 0;  ///< sender life
    std::uint16_t to = 0;
    std::uint64_t to_instance = 0;
    bool ack = false;
    bool causal = false;
    VectorClock clock;  ///< causal: the sender's clock after this send
    std::uint32_t deliveries = 0;
    bool reported = false;
    bool reported_ok = false;
    bool refused = false;  ///< to a server the target does not serve: never delivered, never acked
  };
  [[nodiscard]] bool happened_before(const Record& a, const Record& b) const;

  std::vector<Life> lives_;
  std::vector<Record> messages_;
  std::uint64_t deliveries_ = 0;
};

}  // namespace plexus::sim
