// The invariants of a simulated run: per-step checks, the end checks after
// the liveness phase, the probes, and the final state hash.
#include "plexus/sim/world.hpp"

#include <cstring>

namespace plexus::sim {

void World::check_step(std::uint16_t node) {
  const SimNode& n = nodes_[node];
  if (!n.core) return;
  // Nobody leaves in these runs: a node that finds itself removed is a bug.
  if (n.core->members().removed_self()) fail("membership", n.name + " believes it was removed");
  const auto* self = n.core->members().find(n.name);
  if (!self || self->removed || self->spec.instance_id != n.instance) {
    fail("membership", n.name + " does not hold its own live entry");
  }
}

void World::check_end() {
  if (auto bad = oracle_.check_end(); !bad.empty()) return fail("liveness", bad);
  const peer::core::Core* first = nodes_[0].core.get();
  for (const auto& n : nodes_) {
    if (!n.core) return fail("liveness", n.name + " is still down after the liveness phase");
    // Ground truth: every node, at its current instance, live.
    const auto members = n.core->members().members();
    if (members.size() != nodes_.size()) {
      return fail("membership", n.name + " sees " + std::to_string(members.size()) + " members, expected " +
                                    std::to_string(nodes_.size()));
    }
    for (const auto& spec : members) {
      const auto index = index_of(spec.name);
      if (!index || nodes_[*index].instance != spec.instance_id) {
        return fail("membership", n.name + " holds a stale or unknown spec for " + spec.name);
      }
    }
    if (n.core->members().entries() != first->members().entries()) {
      return fail("membership", n.name + " and " + nodes_[0].name + " hold different membership states");
    }
    for (const auto& other : nodes_) {
      if (&other != &n && !n.core->liveness().up(other.name)) {
        return fail("liveness", n.name + " does not see " + other.name + " up after the liveness phase");
      }
    }
  }
}

bool World::quiet() const {
  // A frame a delay tail held back while faults were on may still be in flight
  // on a connection that survived the heal: the faults are not over until it lands.
  if (!network_settled()) return false;
  for (const auto& n : nodes_) {
    if (!n.core || n.core->acks().size() != 0 || n.core->causal_buffered() != 0) return false;
    if (n.core->members().entries() != nodes_[0].core->members().entries()) return false;
    if (n.core->members().members().size() != nodes_.size()) return false;
    for (const auto& other : nodes_) {
      if (&other != &n && !n.core->liveness().up(other.name)) return false;
    }
  }
  return true;
}

void World::probe() {
  probes_from_ = oracle_.next_id();
  for (std::uint16_t from = 0; from < nodes_.size(); ++from) {
    for (std::uint16_t to = 0; to < nodes_.size(); ++to) {
      if (from == to) continue;
      const std::uint64_t id = oracle_.next_id();
      std::vector<std::uint8_t> payload(sizeof id);
      std::memcpy(payload.data(), &id, sizeof id);
      peer::core::SendOptions options;
      options.server = std::string(served_server);
      options.ack = true;
      // A label of its own: on "c" a message lost for good during the faults
      // blocks its causal successors at that receiver for as long as its sender
      // lives (the documented limit of causal labels, see docs/simulation.md).
      if (swarm_.causal_percent > 0) options.causal_label = "probe";
      if (!nodes_[from].core->forward(nodes_[to].name, std::move(payload), options, id, now_)) {
        return fail("liveness", nodes_[from].name + " cannot send a probe to " + nodes_[to].name);
      }
      oracle_.sent(nodes_[from].life, to, nodes_[to].instance, true, !options.causal_label.empty());
      apply(from);
    }
  }
}

void World::check_probes() {
  for (std::uint64_t id = probes_from_; id < oracle_.next_id(); ++id) {
    if (!oracle_.acknowledged(id)) {
      const auto [from, to] = oracle_.ends(id);
      const bool forgotten = nodes_[to].core->forgot_sender(nodes_[from].instance);
      return fail("liveness", "probe message " + std::to_string(id) + " from " + nodes_[from].name + " to " +
                                  nodes_[to].name + " not acknowledged within " +
                                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(probe_phase).count()) +
                                  " s of a healed cluster" +
                                  (forgotten ? " (the receiver's Dedupe forgot the sender's live instance)" : ""));
    }
  }
}

std::uint64_t World::final_hash() const {
  std::uint64_t h = oracle_.hash();
  auto mix = [&h](std::string_view bytes) {
    for (const unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  for (const auto& n : nodes_) {
    mix(n.name);
    mix(std::to_string(n.instance));
    mix(n.core ? n.core->members().to_json().dump() : n.data_dir.dump());
    if (n.core) {
      for (const auto& other : nodes_) mix(n.core->liveness().up(other.name) ? "u" : "d");
    }
  }
  mix(std::to_string(now_.count()));
  mix(std::to_string(seq_));
  return h;
}

}  // namespace plexus::sim
