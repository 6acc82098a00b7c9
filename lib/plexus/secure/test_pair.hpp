// Test helper: run two sans-IO handshakes against each other in memory.
#pragma once

#include <functional>
#include <vector>

#include "plexus/secure/handshake.hpp"

namespace plexus::secure::testing {

/// Bytes in flight from one side; `tamper` may change them before delivery.
using Tamper = std::function<void(Role from, std::vector<std::uint8_t>& bytes)>;

struct PairOutcome {
  Result<std::size_t> initiator_last = std::size_t{0};
  Result<std::size_t> responder_last = std::size_t{0};
};

/// Exchange messages until both are done, one fails, or nothing moves.
inline PairOutcome run_pair(Handshake& initiator, Handshake& responder, const Tamper& tamper = {}) {
  std::vector<std::uint8_t> to_responder = initiator.hello_bytes();
  std::vector<std::uint8_t> to_initiator = responder.hello_bytes();
  PairOutcome outcome;
  for (int round = 0; round < 8 && !(to_responder.empty() && to_initiator.empty()); ++round) {
    if (tamper) {
      tamper(Role::initiator, to_responder);
      tamper(Role::responder, to_initiator);
    }
    std::vector<std::uint8_t> next_to_initiator, next_to_responder;
    if (!to_responder.empty()) {
      outcome.responder_last = responder.feed(to_responder, next_to_initiator);
    }
    if (!to_initiator.empty()) {
      outcome.initiator_last = initiator.feed(to_initiator, next_to_responder);
    }
    if (!outcome.initiator_last || !outcome.responder_last) break;
    to_responder = std::move(next_to_responder);
    to_initiator = std::move(next_to_initiator);
  }
  return outcome;
}

}  // namespace plexus::secure::testing
