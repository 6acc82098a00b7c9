// What bench_presence's parent and its node processes share: the keys they
// generate (16 bytes, as the benchmark's rows specify) and the digest of a
// set of presences, a sum of per-presence hashes that a node keeps up to date
// from handle_diff (add on join, subtract on leave) and the parent computes
// from the keys it expects. Equal count and digest: the same set.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace plexus::bench {

/// Key i of a run: the prefix letter and 15 digits, 16 bytes.
inline std::string presence_key(char prefix, std::uint64_t i) {
  char text[24];
  std::snprintf(text, sizeof text, "%c%015llu", prefix, static_cast<unsigned long long>(i));
  return text;
}

/// Topic of presence i when a run spreads over `topics` topics.
inline std::string presence_topic(const std::string& base, std::uint64_t i, std::uint64_t topics) {
  return topics <= 1 ? base : base + "." + std::to_string(i % topics);
}

/// Hash of one presence: which node tracked which key in which topic.
inline std::uint64_t presence_hash(std::string_view node, std::string_view topic, std::string_view key) {
  std::uint64_t h = 1469598103934665603ull;
  const auto mix = [&h](std::string_view text) {
    for (const unsigned char c : text) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // separator: ("ab","c") != ("a","bc")
  };
  mix(node);
  mix(topic);
  mix(key);
  return h;
}

/// A set of presences as (count, sum of hashes).
struct PresenceDigest {
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
  void add(std::uint64_t hash) { ++count, sum += hash; }
  void remove(std::uint64_t hash) { --count, sum -= hash; }
  friend bool operator==(const PresenceDigest&, const PresenceDigest&) = default;
};

}  // namespace plexus::bench
