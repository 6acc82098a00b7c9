// The shared partition shape generator: each shape's cut, over cluster sizes
// 2..9 and many seeds, and the one-way variant.
#include "plexus/core/partition_shape.hpp"

#include <doctest/doctest.h>

#include <random>
#include <set>

#include "plexus/core/test_seed.hpp"

namespace plexus::core {
namespace {

struct Draws {
  std::mt19937_64 rng;
  DrawBelow below() {
    return [this](std::uint64_t bound) { return rng() % bound; };
  }
};

std::size_t cuts(const PartitionCut& cut) {
  std::size_t count = 0;
  for (std::size_t a = 0; a < cut.nodes(); ++a) {
    for (std::size_t b = 0; b < cut.nodes(); ++b) count += cut.blocked(a, b) ? 1 : 0;
  }
  return count;
}

// Who `node` still reaches, itself included.
std::set<std::size_t> reach(const PartitionCut& cut, std::size_t node) {
  std::set<std::size_t> seen{node};
  for (std::size_t b = 0; b < cut.nodes(); ++b) {
    if (!cut.blocked(node, b)) seen.insert(b);
  }
  return seen;
}

bool symmetric(const PartitionCut& cut) {
  for (std::size_t a = 0; a < cut.nodes(); ++a) {
    for (std::size_t b = 0; b < cut.nodes(); ++b) {
      if (cut.blocked(a, b) != cut.blocked(b, a)) return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("every shape cuts what its name says, for 2..9 nodes and many seeds") {
  // Proves each shape's sides and sizes, that two-sided shapes cut both ways,
  // and that asymmetric cuts exactly one direction of one pair.
  for (const std::uint64_t seed : test_seed::seeds(200)) {
    Draws draws{std::mt19937_64(seed)};
    for (std::size_t n = 2; n <= 9; ++n) {
      INFO(test_seed::replay(seed, "lib/plexus/core/core_test", "every shape cuts*"), " n=", n);
      const auto halves = partition_cut(PartitionShape::halves, n, draws.below());
      CHECK(cuts(halves) == 2 * (n / 2) * (n - n / 2));
      CHECK(halves.blocked(0, n - 1));
      CHECK(symmetric(halves));
      const auto random_halves = partition_cut(PartitionShape::random_halves, n, draws.below());
      CHECK(cuts(random_halves) == 2 * (n / 2) * (n - n / 2));
      const auto one = partition_cut(PartitionShape::one, n, draws.below());
      CHECK(cuts(one) == 2 * (n - 1));
      CHECK(reach(one, one.order()[0]).size() == 1);
      const std::size_t third = std::max<std::size_t>(1, n / 3);
      CHECK(cuts(partition_cut(PartitionShape::minority_third, n, draws.below())) == 2 * third * (n - third));
      const auto bridge = partition_cut(PartitionShape::bridge, n, draws.below());
      CHECK(reach(bridge, bridge.order()[n / 2]).size() == n);  // the bridge talks to everyone
      CHECK(cuts(bridge) == 2 * (n / 2) * (n - n / 2 - 1));
      CHECK(symmetric(bridge));
      const auto asymmetric = partition_cut(PartitionShape::asymmetric, n, draws.below());
      CHECK(cuts(asymmetric) == 1);
      CHECK(asymmetric.blocked(asymmetric.order()[0], asymmetric.order()[1]));
    }
  }
}

TEST_CASE("majorities ring: every node sees a majority, and no two the same one from five nodes up") {
  // Proves the ring shape leaves each node a majority and, from n = 5, distinct views.
  Draws draws{std::mt19937_64(test_seed::seeds(1, 11).front())};
  for (std::size_t n = 2; n <= 9; ++n) {
    CAPTURE(n);
    const auto ring = partition_cut(PartitionShape::majorities_ring, n, draws.below());
    std::set<std::set<std::size_t>> views;
    for (std::size_t node = 0; node < n; ++node) {
      CHECK(reach(ring, node).size() >= n / 2 + 1);
      views.insert(reach(ring, node));
    }
    CHECK(symmetric(ring));
    if (n >= 5) CHECK(views.size() == n);
  }
}

TEST_CASE("keep_one_way leaves exactly one direction of every cut pair") {
  // Proves the one-way variant: half the cuts of a two-sided shape, earlier to later in order().
  Draws draws{std::mt19937_64(test_seed::seeds(1, 13).front())};
  auto cut = partition_cut(PartitionShape::random_halves, 6, draws.below());
  const std::size_t both = cuts(cut);
  cut.keep_one_way();
  CHECK(cuts(cut) == both / 2);
  const auto& order = cut.order();
  CHECK(cut.blocked(order[0], order[5]));
  CHECK_FALSE(cut.blocked(order[5], order[0]));
}

TEST_CASE("the same draws lay the same shape, and names round-trip") {
  // Proves determinism (one seed, one plan, in the harness and the simulator alike) and the name table.
  Draws first{std::mt19937_64(7)}, second{std::mt19937_64(7)};
  CHECK(partition_cut(PartitionShape::bridge, 7, first.below()).order() ==
        partition_cut(PartitionShape::bridge, 7, second.below()).order());
  for (std::size_t i = 0; i < partition_shape_names.size(); ++i) {
    const auto shape = static_cast<PartitionShape>(i);
    CHECK(partition_shape_from_name(name(shape)) == shape);
  }
  CHECK_FALSE(partition_shape_from_name("triangle").has_value());
  CHECK(cuts(partition_cut(PartitionShape::halves, 1, first.below())) == 0);
}

}  // namespace plexus::core
