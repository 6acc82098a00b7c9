// Helpers of the peer core's unit tests: specs, attach facts, and a pump
// that moves frames between cores by hand (no sockets, no clock).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "plexus/peer/core/core.hpp"

namespace plexus::peer::core::testing {

using namespace std::chrono_literals;

inline NodeSpec spec(const std::string& name, std::uint64_t instance) {
  NodeSpec s;
  s.name = name;
  s.listen_addrs = {{"127.0.0.1", 7000}};
  s.channels[std::string(default_channel)] = ChannelSpec{1, false};
  s.instance_id = instance;
  return s;
}

inline AttachFacts facts(const NodeSpec& from, bool dialer, bool nudge = false) {
  AttachFacts f;
  f.handshake_name = from.name;
  f.handshake_instance = from.instance_id;
  f.attach = wire::Attach{from, std::string("_control"), 0, nudge};
  f.dialer = dialer;
  return f;
}

/// What passed between cores by hand, collected for the checks.
struct Seen {
  std::vector<wire::Message> delivered;
  std::vector<std::pair<std::uint64_t, Result<void>>> completed;
  std::vector<std::string> drops;
  std::vector<wire::Envelope> frames;  ///< every frame a core sent
};

/// Move every frame between the cores (by Send::peer) until none is left.
inline void pump(std::vector<Core*> cores, Time now, Seen& seen) {
  for (int round = 0; round < 20; ++round) {
    bool any = false;
    for (Core* from : cores) {
      Output out = from->take();
      for (auto& m : out.deliveries) seen.delivered.push_back(std::move(m));
      for (auto& c : out.completions) seen.completed.push_back(std::move(c));
      for (const char* d : out.drops) seen.drops.emplace_back(d);
      for (auto& send : out.sends) {
        any = true;
        seen.frames.push_back(*send.frame);
        for (Core* to : cores) {
          if (to->self().name == send.peer) to->receive(from->self().name, *send.frame, now);
        }
      }
    }
    if (!any) return;
  }
}

/// Admit each other and bring the control link up on both sides.
inline void link(Core& a, Core& b, Time now) {
  CHECK(a.attach(facts(b.self(), false), now).verdict == AttachVerdict::bind);
  CHECK(b.attach(facts(a.self(), true), now).verdict == AttachVerdict::bind);
  a.link_up(b.self().name, now);
  b.link_up(a.self().name, now);
  a.evaluate(now);
  b.evaluate(now);
}

inline std::vector<std::uint8_t> bytes(std::uint64_t id) {
  std::vector<std::uint8_t> out(sizeof id);
  std::memcpy(out.data(), &id, sizeof id);
  return out;
}

inline bool has(const std::vector<std::string>& drops, const std::string& reason) {
  return std::find(drops.begin(), drops.end(), reason) != drops.end();
}


}  // namespace plexus::peer::core::testing
