// Test driver for presence Shards: a fake network (FIFO per link, cuttable,
// lossy on demand) and a fake clock. Shards are keyed by (node, shard index);
// shard i's messages go to shard i of the target node.
#pragma once

#include <deque>
#include <map>
#include <set>

#include "plexus/presence/shard.hpp"
#include "plexus/presence/test_support.hpp"

namespace plexus::presence::testing {

struct FakeNet {
  struct InFlight {
    std::string from, to;
    std::uint32_t shard;
    Bytes bytes;
  };
  using Id = std::pair<std::string, std::uint32_t>;

  Options options;
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::map<Id, std::unique_ptr<Shard>> shards;
  std::deque<InFlight> wire;
  std::set<std::pair<std::string, std::string>> cut;   ///< (from, to) links dropping everything
  std::set<std::pair<std::string, std::string>> lose_next;  ///< drop the next message on (from, to)
  std::map<std::string, Diff> diffs;                    ///< per node, accumulated
  std::map<std::string, std::vector<Diff>> diff_log;    ///< per node, one Diff per take()
  std::map<std::string, std::vector<Error>> errors;     ///< per node
  std::vector<InFlight> captured;                       ///< every message put on the wire
  std::uint64_t next_instance = 1000;

  explicit FakeNet(Options o = {}) : options(std::move(o)) {}

  Shard& add(const std::string& node, std::uint32_t pool_size = 0) {
    Options o = options;
    if (pool_size != 0) o.pool_size = pool_size;
    Shard* first = nullptr;
    for (std::uint32_t i = 0; i < o.pool_size; ++i) {
      auto shard = std::make_unique<Shard>(o, node, i, ++next_instance, now);
      if (!first) first = shard.get();
      shards[{node, i}] = std::move(shard);
    }
    return *first;
  }
  Shard& at(const std::string& node, std::uint32_t i = 0) { return *shards.at({node, i}); }
  std::set<std::string> nodes() const {
    std::set<std::string> out;
    for (const auto& [id, s] : shards) out.insert(id.first);
    return out;
  }

  void collect(const Id& id) {
    Output out = shards.at(id)->take();
    for (auto& send : out.sends) {
      InFlight m{id.first, send.to, id.second, send.bytes};
      captured.push_back(m);
      if (cut.contains({id.first, send.to})) continue;
      if (lose_next.erase({id.first, send.to}) > 0) continue;
      wire.push_back(std::move(m));
    }
    if (!out.diff.empty()) diff_log[id.first].push_back(out.diff);
    append(diffs[id.first], std::move(out.diff));
    for (auto& e : out.errors) errors[id.first].push_back(std::move(e));
  }
  void collect_all() {
    for (const auto& [id, s] : shards) collect(id);
  }
  /// Deliver until the wire is empty (bounded).
  void deliver() {
    collect_all();
    for (int i = 0; i < 1'000'000 && !wire.empty(); ++i) {
      InFlight m = std::move(wire.front());
      wire.pop_front();
      if (cut.contains({m.from, m.to})) continue;
      const Id target{m.to, m.shard};
      if (!shards.contains(target)) continue;
      shards.at(target)->on_message(m.from, *m.bytes, now);
      collect(target);
    }
  }
  /// Advance the fake clock in steps, ticking every shard and delivering.
  void advance(std::chrono::milliseconds by, std::chrono::milliseconds step = std::chrono::milliseconds(5)) {
    const TimePoint until = now + by;
    while (now < until) {
      now = std::min(until, now + step);
      for (auto& [id, s] : shards) s->on_tick(now);
      deliver();
    }
  }
  void up(const std::string& a, const std::string& b) {
    for (auto& [id, s] : shards) {
      if (id.first == a) s->on_peer_up(b, now);
      if (id.first == b) s->on_peer_up(a, now);
    }
  }
  void down(const std::string& a, const std::string& b) {
    for (auto& [id, s] : shards) {
      if (id.first == a) s->on_peer_down(b, now);
      if (id.first == b) s->on_peer_down(a, now);
    }
  }
  void connect_all() {
    auto all = nodes();
    for (const auto& a : all) for (const auto& b : all) if (a < b) up(a, b);
    deliver();
  }
  void partition(const std::string& a, const std::string& b) {
    cut.insert({a, b});
    cut.insert({b, a});
    down(a, b);
    deliver();
  }
  void heal(const std::string& a, const std::string& b) {
    cut.erase({a, b});
    cut.erase({b, a});
    up(a, b);
    deliver();
  }
  /// Sorted keys listed in `topic` on `node` (its shard for the topic).
  std::vector<std::string> list(const std::string& node, const std::string& topic) {
    const auto shard = shard_for_topic(topic, options.pool_size);
    return keys(at(node, shard).state().list(topic));
  }
  std::vector<DiffRow> take_diff(const std::string& node) {
    auto out = rows(diffs[node]);
    diffs[node].clear();
    return out;
  }
};

}  // namespace plexus::presence::testing
