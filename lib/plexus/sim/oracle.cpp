// Oracle: see oracle.hpp.
#include "plexus/sim/oracle.hpp"

#include <algorithm>
#include <cstring>

namespace plexus::sim {
namespace {

std::string msg(std::uint64_t id) { return "message " + std::to_string(id); }

}  // namespace

std::uint32_t Oracle::new_life(std::uint16_t node) {
  lives_.push_back(Life{node, true, {}, {}});
  return static_cast<std::uint32_t>(lives_.size() - 1);
}

void Oracle::sent(std::uint32_t life, std::uint16_t to, std::uint64_t to_instance, bool ack, bool causal,
                  bool refused) {
  Record record{life, to, to_instance, ack, causal, {}, 0, false, false, refused};
  if (causal) {
    Life& sender = lives_.at(life);
    ++sender.clock[life];
    record.clock = sender.clock;
  }
  messages_.push_back(std::move(record));
}

bool Oracle::happened_before(const Record& a, const Record& b) const {
  const auto index = a.clock.at(a.from);
  const auto seen = b.clock.find(a.from);
  return seen != b.clock.end() && seen->second >= index;
}

std::string Oracle::delivered(std::uint16_t node, std::uint32_t life, std::uint64_t instance,
                              const wire::Message& message) {
  std::uint64_t id = 0;
  if (message.payload.size() != sizeof id) return "delivery: a payload the workload never sent";
  std::memcpy(&id, message.payload.data(), sizeof id);
  if (id >= messages_.size()) return "delivery: " + msg(id) + " was never sent";
  Record& record = messages_[id];
  ++deliveries_;
  if (record.to != node || record.to_instance != instance) {
    return "delivery: " + msg(id) + " reached the wrong node or node life";
  }
  if (record.refused) return "refusal: " + msg(id) + " to a server its target does not serve was delivered";
  if (++record.deliveries > 1) {
    return "exactly once: " + msg(id) + " delivered " + std::to_string(record.deliveries) + " times";
  }
  if (!record.causal) return "";
  Life& receiver = lives_.at(life);
  for (const auto earlier : receiver.causal_in) {
    if (happened_before(record, messages_[earlier])) {
      return "causal order: " + msg(id) + " delivered after " + msg(earlier) + ", which it happened before";
    }
  }
  receiver.causal_in.push_back(id);
  for (const auto& [process, count] : record.clock) {
    auto& mine = receiver.clock[process];
    mine = std::max(mine, count);
  }
  return "";
}

std::string Oracle::completed(std::uint64_t id, bool ok) {
  if (id >= messages_.size()) return "completion for " + msg(id) + ", never sent";
  Record& record = messages_[id];
  if (record.reported) return "completion: " + msg(id) + " reported twice";
  record.reported = true;
  record.reported_ok = ok;
  return "";
}

std::string Oracle::check_end() const {
  for (std::uint64_t id = 0; id < messages_.size(); ++id) {
    const Record& record = messages_[id];
    if (!record.ack) continue;
    if (!record.reported && lives_.at(record.from).alive) {
      return "acked delivery: " + msg(id) + " neither acknowledged nor reported failed to its live sender";
    }
    if (record.refused && record.reported_ok) {
      return "refusal: " + msg(id) + " to a server its target does not serve was reported delivered";
    }
    if (record.reported_ok && record.deliveries != 1) {
      return "acked delivery: " + msg(id) + " reported delivered but delivered " +
             std::to_string(record.deliveries) + " times";
    }
  }
  return "";
}

std::uint64_t Oracle::hash() const {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ULL;
    }
  };
  for (const auto& r : messages_) {
    mix(r.from);
    mix(r.to);
    mix(r.deliveries);
    mix(static_cast<std::uint64_t>(r.reported) * 2 + static_cast<std::uint64_t>(r.reported_ok));
  }
  for (const auto& life : lives_) mix(life.causal_in.size());
  return h;
}

}  // namespace plexus::sim
