// Test helpers for the presence core: canonical views of states and diffs.
#pragma once

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "plexus/presence/state.hpp"

namespace plexus::presence::testing {

/// One presence as a comparable tuple: (instance, clock, owner, topic, key, meta text).
using Row = std::tuple<std::uint64_t, Sequence, std::uint64_t, std::string, std::string, std::string>;

/// Everything `state` holds about `instance` (hidden presences too), plus its clock.
inline std::pair<Sequence, std::set<Row>> view(const State& state, std::uint64_t instance) {
  std::set<Row> rows;
  for (const auto& batch : state.extract(instance, 1'000'000)) {
    for (const auto& item : batch.items) {
      rows.emplace(instance, item.clock, item.owner, batch.topics[item.topic], item.key.str(),
                   batch.metas[item.meta]->dump());
    }
  }
  return {state.known_clock(instance), rows};
}

/// A diff flattened to sorted (topic, join?, key, meta, clock) rows.
using DiffRow = std::tuple<std::string, bool, std::string, std::string, Sequence>;
inline std::vector<DiffRow> rows(const Diff& diff) {
  std::vector<DiffRow> out;
  for (const auto& [topic, d] : diff) {
    for (const auto& p : d.joins) out.emplace_back(topic, true, p.key.str(), p.meta->dump(), p.ref.clock);
    for (const auto& p : d.leaves) out.emplace_back(topic, false, p.key.str(), p.meta->dump(), p.ref.clock);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Keys listed in `topic`, sorted.
template <class P>
std::vector<std::string> keys(const std::vector<P>& list) {
  std::vector<std::string> out;
  for (const auto& p : list) out.push_back(p.key.str());
  std::sort(out.begin(), out.end());
  return out;
}

/// Merge every batch, requiring success.
inline bool merge_all(State& into, const std::vector<Batch>& batches, Diff* diff = nullptr) {
  for (const auto& b : batches) {
    if (!into.merge(b, diff)) return false;
  }
  return true;
}

}  // namespace plexus::presence::testing
