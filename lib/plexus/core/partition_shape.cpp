// The partition shape generator (partition_shape.hpp): which side of a shape
// each node lands on, and which directed pairs that cuts.
#include "plexus/core/partition_shape.hpp"

#include <algorithm>
#include <numeric>
#include <utility>

namespace plexus::core {
namespace {

constexpr int bridge_side = 2;  // talks to both other sides

// The side of the node at `position` in the shuffled order: 0 or 1, or the bridge.
int side_of(PartitionShape shape, std::size_t position, std::size_t n) {
  switch (shape) {
    case PartitionShape::one: return position == 0 ? 1 : 0;
    case PartitionShape::minority_third: return position < std::max<std::size_t>(1, n / 3) ? 1 : 0;
    case PartitionShape::bridge: return position == n / 2 ? bridge_side : (position < n / 2 ? 0 : 1);
    default: return position < n / 2 ? 0 : 1;
  }
}

// Majorities ring: nodes sit on a ring in shuffled order and each sees the
// nearest majority / 2 neighbours on either side (at least one).
bool ring_neighbours(std::size_t position_a, std::size_t position_b, std::size_t n) {
  const std::size_t reach = std::max<std::size_t>(1, (n / 2 + 1) / 2);
  const std::size_t d = position_a > position_b ? position_a - position_b : position_b - position_a;
  return std::min(d, n - d) <= reach;
}

}  // namespace

std::string_view name(PartitionShape shape) { return partition_shape_names.at(static_cast<std::size_t>(shape)); }

std::optional<PartitionShape> partition_shape_from_name(std::string_view name) {
  const auto it = std::find(partition_shape_names.begin(), partition_shape_names.end(), name);
  if (it == partition_shape_names.end()) return std::nullopt;
  return static_cast<PartitionShape>(it - partition_shape_names.begin());
}

PartitionCut::PartitionCut(std::vector<std::size_t> order)
    : order_(std::move(order)), position_(order_.size()), blocked_(order_.size() * order_.size(), false) {
  for (std::size_t i = 0; i < order_.size(); ++i) position_[order_[i]] = i;
}

void PartitionCut::keep_one_way() {
  for (std::size_t a = 0; a < nodes(); ++a) {
    for (std::size_t b = 0; b < nodes(); ++b) {
      if (position_[a] > position_[b]) blocked_[a * nodes() + b] = false;
    }
  }
}

PartitionCut partition_cut(PartitionShape shape, std::size_t nodes, const DrawBelow& below) {
  std::vector<std::size_t> order(nodes);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (shape != PartitionShape::halves) {
    for (std::size_t i = nodes; i > 1; --i) std::swap(order[i - 1], order[below(i)]);
  }
  PartitionCut cut(order);
  if (nodes < 2) return cut;
  if (shape == PartitionShape::asymmetric) {
    cut.block(order[0], order[1]);
    return cut;
  }
  std::vector<std::size_t> position(nodes);
  for (std::size_t i = 0; i < nodes; ++i) position[order[i]] = i;
  for (std::size_t a = 0; a < nodes; ++a) {
    for (std::size_t b = 0; b < nodes; ++b) {
      if (a == b) continue;
      bool talk = false;
      if (shape == PartitionShape::majorities_ring) {
        talk = ring_neighbours(position[a], position[b], nodes);
      } else {
        const int sa = side_of(shape, position[a], nodes), sb = side_of(shape, position[b], nodes);
        talk = sa == sb || sa == bridge_side || sb == bridge_side;
      }
      if (!talk) cut.block(a, b);
    }
  }
  return cut;
}

}  // namespace plexus::core
