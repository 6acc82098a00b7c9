// Partition shapes (Jepsen's nemesis shapes), one generator for every driver:
// plexus-harness turns a shape into grudges for real nodes (the api mode, or nftables rules in the net mode), and
// plexus-sim into its simulated network's cut matrix. Both draw the random
// choices from their own seeded generator through `below`, so one seed plans
// the same shape wherever it runs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace plexus::core {

/// The shapes. `halves` splits nodes 0..n/2-1 from the rest; every other
/// shape first shuffles the nodes (Fisher-Yates, `below(i)` for i = n..2).
enum class PartitionShape : std::uint8_t {
  halves,           ///< first n/2 nodes | the rest (no shuffle)
  random_halves,    ///< a shuffled n/2 | the rest
  one,              ///< one node cut from all others
  minority_third,   ///< max(1, n/3) nodes | the rest
  bridge,           ///< two halves that cannot talk and one node that talks to both
  majorities_ring,  ///< each node sees a majority (its ring neighbours), no two the same
  asymmetric,       ///< one node drops what it sends to one other; the reverse flows
};

/// The names scenario files and reports use ("random-halves", ...), in enum order.
inline constexpr std::array<std::string_view, 7> partition_shape_names = {
    "halves", "random-halves", "one", "minority-third", "bridge", "majorities-ring", "asymmetric"};

/// The shape's name.
[[nodiscard]] std::string_view name(PartitionShape shape);
/// The shape called `name`, or nothing.
[[nodiscard]] std::optional<PartitionShape> partition_shape_from_name(std::string_view name);

/// Directed cuts among `nodes()` nodes: blocked(a, b) means a's traffic to b
/// is dropped. `order()` is the shuffled order the shape was laid on.
class PartitionCut {
 public:
  explicit PartitionCut(std::vector<std::size_t> order);
  [[nodiscard]] std::size_t nodes() const { return order_.size(); }
  [[nodiscard]] const std::vector<std::size_t>& order() const { return order_; }
  [[nodiscard]] bool blocked(std::size_t from, std::size_t to) const { return blocked_[from * nodes() + to]; }
  void block(std::size_t from, std::size_t to) { blocked_[from * nodes() + to] = true; }
  /// Keeps only the cuts from a node earlier in order() to a later one: the
  /// same shape, one way (the later side still reaches the earlier).
  void keep_one_way();

 private:
  std::vector<std::size_t> order_;
  std::vector<std::size_t> position_;
  std::vector<bool> blocked_;
};

/// Draws uniformly in [0, bound): the caller's seeded generator.
using DrawBelow = std::function<std::uint64_t(std::uint64_t bound)>;

/// Lays `shape` over `nodes` nodes. Fewer than two nodes cut nothing.
[[nodiscard]] PartitionCut partition_cut(PartitionShape shape, std::size_t nodes, const DrawBelow& below);

}  // namespace plexus::core
