// Faults of a simulated run: which ones a seed switches on (swarm testing),
// Jepsen's partition shapes, crash and restart, clogging and FoundationDB's
// swizzle, and the fault-point injector.
#include <algorithm>
#include <iterator>
#include <numeric>

#include "plexus/core/partition_shape.hpp"
#include "plexus/sim/world.hpp"

namespace plexus::sim {
namespace {

using namespace std::chrono_literals;

// The simulator draws the first Shape::count shared shapes (not asymmetric:
// its one-way variant of every shape covers that) under the same names.
static_assert(static_cast<int>(Shape::majorities_ring) == static_cast<int>(core::PartitionShape::majorities_ring));

template <class T>
T pick(Rng& rng, std::initializer_list<T> choices) {
  return *(choices.begin() + rng.below(choices.size()));
}

Time ms(std::int64_t count) { return std::chrono::milliseconds(count); }

}  // namespace

bool SwarmInjector::fire(const char* name) noexcept {
  if (!active) return false;
  auto it = enabled_.find(std::string_view(name));
  // Each point is on for half of the runs that reach it, decided at its first hit.
  if (it == enabled_.end()) it = enabled_.emplace(name, rng_.below(2) == 0).first;
  if (!it->second || !rng_.chance(ppm_)) return false;
  ++fired[it->first];
  return true;
}

std::string Swarm::describe() const {
  std::string out = "delay " + std::to_string(delay_min.count() / 1000) + "+" +
                    std::to_string(delay_spread.count() / 1000) + "us";
  if (delay_tail_ppm) out += " tail " + std::to_string(delay_tail_ppm) + "ppm";
  if (reset_ppm) out += ", resets " + std::to_string(reset_ppm) + "ppm";
  if (partitions) {
    out += std::string(", partitions (") + (partitions_reset ? "reset" : "stall") + (one_way ? ", one-way" : "");
    for (std::size_t s = 0; s < static_cast<std::size_t>(Shape::count); ++s) {
      if (shapes & (1u << s)) out += " " + std::string(core::partition_shape_names[s]);
    }
    out += ")";
  }
  if (crashes) out += ", crashes";
  if (clogging) out += ", clogging";
  if (swizzle) out += ", swizzle";
  if (fault_points) out += ", fault points " + std::to_string(fault_point_ppm) + "ppm";
  out += "; workload causal " + std::to_string(causal_percent) + "% transitive " +
         std::to_string(transitive_percent) + "% unacked " + std::to_string(unacked_percent) + "% refused " + std::to_string(refused_percent) + "%";
  return out;
}

Swarm World::pick_swarm(Rng& rng, std::size_t) {
  Swarm s;
  s.delay_min = std::chrono::microseconds(rng.between(50, 2000));
  s.delay_spread = pick<Time>(rng, {std::chrono::microseconds(100), ms(2), ms(20), ms(150)});
  s.delay_tail_ppm = pick<std::uint32_t>(rng, {0, 0, 1000, 20000});
  s.reset_ppm = pick<std::uint32_t>(rng, {0, 0, 300, 3000, 20000});
  s.partitions = rng.below(2) == 0;
  s.partitions_reset = rng.below(2) == 0;
  s.shapes = static_cast<std::uint32_t>(rng.between(1, (1 << static_cast<int>(Shape::count)) - 1));
  s.one_way = rng.below(3) == 0;
  s.crashes = rng.below(5) < 2;
  s.clogging = rng.below(10) < 3;
  s.swizzle = rng.below(5) == 0;
  // Drawn in every build, so a seed picks the same swarm with fault points compiled out.
  const bool fault_points = rng.below(2) == 0;
  s.fault_points = fault::compiled_in && fault_points;
  s.fault_point_ppm = pick<std::uint32_t>(rng, {2000, 20000, 100000});
  s.causal_percent = pick<std::uint32_t>(rng, {0, 30, 70, 100});
  s.transitive_percent = pick<std::uint32_t>(rng, {0, 20, 50});
  s.unacked_percent = pick<std::uint32_t>(rng, {0, 10, 30});
  s.refused_percent = pick<std::uint32_t>(rng, {0, 0, 5, 20});
  return s;
}

void World::nemesis_step() {
  std::vector<int> families;
  if (swarm_.partitions) families.push_back(0);
  if (swarm_.crashes) families.push_back(1);
  if (swarm_.clogging) families.push_back(2);
  if (swarm_.swizzle) families.push_back(3);
  if (families.empty()) return;
  const auto n = static_cast<std::uint16_t>(nodes_.size());
  switch (families[rng_.below(families.size())]) {
    case 0: {
      if (partitioned_) return heal();
      std::vector<Shape> allowed;
      for (int s = 0; s < static_cast<int>(Shape::count); ++s) {
        if (swarm_.shapes & (1u << s)) allowed.push_back(static_cast<Shape>(s));
      }
      return partition(allowed[rng_.below(allowed.size())]);
    }
    case 1: return crash(static_cast<std::uint16_t>(rng_.below(n)));
    case 2: return clog(static_cast<std::uint16_t>(rng_.below(n)), now_ + ms(rng_.between(50, 3000)));
    default: return swizzle();
  }
}

void World::partition(Shape shape) {
  const std::size_t n = nodes_.size();
  // The shared generator (core/partition_shape.hpp) draws the shuffle first,
  // then the one-way coin below: the order every recorded seed was run with.
  auto cut = core::partition_cut(static_cast<core::PartitionShape>(shape), n,
                                 [this](std::uint64_t bound) { return rng_.below(bound); });
  const bool one_way = swarm_.one_way && rng_.below(2) == 0;
  if (one_way) cut.keep_one_way();
  for (std::uint16_t a = 0; a < n; ++a) {
    for (std::uint16_t b = 0; b < n; ++b) cut_[a * n + b] = cut.blocked(a, b);
  }
  partitioned_ = true;
  trace("partition", 0, 0, static_cast<std::uint64_t>(shape) * 10 + (one_way ? 1 : 0));
  if (!swarm_.partitions_reset) return;  // stall: TCP holds the frames until the heal
  for (std::uint16_t a = 0; a < n; ++a) {
    for (std::uint16_t b = a + 1; b < n; ++b) {
      if (cut_[a * n + b] || cut_[b * n + a]) reset(a, b, static_cast<std::uint16_t>(n), false);
    }
  }
}

void World::heal() {
  std::fill(cut_.begin(), cut_.end(), false);
  if (partitioned_) trace("heal", 0, 0, 0);
  partitioned_ = false;
}

void World::crash(std::uint16_t node) {
  SimNode& n = nodes_[node];
  if (!n.core) return;
  trace("crash", node, 0, n.instance);
  oracle_.crashed(n.life);
  n.data_dir = n.core->members().to_json();  // the shell persists membership after every change
  n.core.reset();
  ++n.wakeup_generation;
  n.wakeup_at = Time{-1};
  for (std::uint16_t peer = 0; peer < nodes_.size(); ++peer) {
    if (peer != node) reset(node, peer, node, true);
  }
  std::fill(n.view.begin(), n.view.end(), 0);
  schedule(now_ + ms(rng_.between(100, 8000)), EventKind::restart, node);
}

void World::restart(std::uint16_t node) {
  if (nodes_[node].core) return;
  start_node(node);
}

void World::clog(std::uint16_t node, Time until) {
  trace("clog", node, 0, static_cast<std::uint64_t>((until - now_).count() / 1'000'000));
  nodes_[node].clogged_until = std::max(nodes_[node].clogged_until, until);
}

// FoundationDB's swizzle: clog a random subset one node at a time, then
// unclog them in a random order.
void World::swizzle() {
  std::vector<std::uint16_t> chosen;
  for (std::uint16_t i = 0; i < nodes_.size(); ++i) if (rng_.below(2) == 0) chosen.push_back(i);
  if (chosen.empty()) return;
  trace("swizzle", chosen.front(), 0, chosen.size());
  Time start = now_;
  std::vector<Time> ends;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    start += ms(rng_.between(10, 300));
    ends.push_back(start);
  }
  const Time all_clogged = start + ms(rng_.between(100, 2000));
  std::vector<Time> unclog;
  for (std::size_t i = 0; i < chosen.size(); ++i) unclog.push_back(all_clogged + ms(rng_.between(10, 1000)));
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    schedule(ends[i], EventKind::clog, chosen[i], 0, static_cast<std::uint64_t>(unclog[i].count()));
  }
}

}  // namespace plexus::sim
