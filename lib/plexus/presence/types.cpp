// Options validation, refs, diffs and topic routing.
#include "plexus/presence/types.hpp"

#include <cstdio>

namespace plexus::presence {
namespace {

Error bad(std::string_view option, std::string_view why) {
  return make_error(errc::invalid_option, std::string(option) + ": " + std::string(why));
}

}  // namespace

Result<void> validate(const Options& o) {
  if (o.name.empty() || o.name.size() > 200) return bad("name", "must be 1..200 bytes");
  if (o.channel.empty()) return bad("channel", "must not be empty");
  if (o.pool_size < 1 || o.pool_size > 1024) return bad("pool_size", "must be 1..1024");
  if (o.broadcast_period.count() < 1) return bad("broadcast_period", "must be >= 1 ms");
  if (o.max_silent_periods < 1) return bad("max_silent_periods", "must be >= 1");
  // Phoenix's validate_down_period.
  if (o.down_period < 2 * o.broadcast_period) {
    return bad("down_period", "must be at least twice broadcast_period");
  }
  // Phoenix's validate_permdown_period.
  if (o.permdown_period <= o.down_period) return bad("permdown_period", "must be greater than down_period");
  if (o.clock_sample_periods < 1) return bad("clock_sample_periods", "must be >= 1");
  for (std::size_t i = 0; i < o.max_delta_sizes.size(); ++i) {
    if (o.max_delta_sizes[i] == 0 || (i > 0 && o.max_delta_sizes[i] <= o.max_delta_sizes[i - 1])) {
      return bad("max_delta_sizes", "must be positive and increasing");
    }
  }
  if (o.delta_flush_period.count() < 0 || o.delta_flush_period > o.broadcast_period) {
    return bad("delta_flush_period", "must be 0..broadcast_period");
  }
  if (o.max_delta_entries < 1) return bad("max_delta_entries", "must be >= 1");
  if (o.max_transfer_entries < 1) return bad("max_transfer_entries", "must be >= 1");
  if (o.max_replica_tombstones < 1) return bad("max_replica_tombstones", "must be >= 1");
  return {};
}

std::string Ref::str() const {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%016llx.%llu", static_cast<unsigned long long>(instance),
                static_cast<unsigned long long>(clock));
  return buffer;
}

void append(Diff& diff, Diff&& more) {
  for (auto& [topic, d] : more) {
    auto& into = diff[topic];
    for (auto& p : d.joins) into.joins.push_back(std::move(p));
    for (auto& p : d.leaves) into.leaves.push_back(std::move(p));
  }
}

std::uint64_t topic_hash(std::string_view topic) noexcept {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : topic) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::uint32_t shard_for_topic(std::string_view topic, std::uint32_t pool_size) noexcept {
  return pool_size <= 1 ? 0 : static_cast<std::uint32_t>(topic_hash(topic) % pool_size);
}

std::string name_for_number(std::string_view name, std::uint32_t n) {
  std::string out = "presence.";
  out.append(name);
  out.push_back('.');
  out.append(std::to_string(n));
  return out;
}

std::string name_for_topic(std::string_view name, std::string_view topic, std::uint32_t pool_size) {
  return name_for_number(name, shard_for_topic(topic, pool_size));
}

}  // namespace plexus::presence
