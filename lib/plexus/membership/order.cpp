// The total order on entries, the spec hash, and their digest counterparts.
#include <algorithm>

#include "plexus/membership/internal.hpp"

namespace plexus::membership {
namespace {

std::strong_ordering compare_channels(const NodeSpec& a, const NodeSpec& b) {
  return std::lexicographical_compare_three_way(
      a.channels.begin(), a.channels.end(), b.channels.begin(), b.channels.end(),
      [](const auto& x, const auto& y) {
        if (const auto c = x.first <=> y.first; c != 0) return c;
        if (const auto c = x.second.parallelism <=> y.second.parallelism; c != 0) return c;
        return x.second.monotonic <=> y.second.monotonic;
      });
}

/// FNV-1a, 64 bit: small, stable across builds and platforms.
class Fnv1a {
 public:
  void byte(unsigned char value) {
    hash_ ^= value;
    hash_ *= 0x100000001b3ULL;
  }
  void bytes(std::string_view data) {
    for (const char c : data) byte(static_cast<unsigned char>(c));
  }
  /// Little-endian, `width` bytes.
  void number(std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i, value >>= 8) byte(static_cast<unsigned char>(value & 0xffU));
  }
  /// Length-prefixed, so ("ab","c") and ("a","bc") hash apart.
  void text(std::string_view data) {
    number(data.size(), 4);
    bytes(data);
  }
  [[nodiscard]] std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

}  // namespace

std::strong_ordering compare(const Entry& a, const Entry& b) {
  if (const auto c = a.spec.name <=> b.spec.name; c != 0) return c;
  if (const auto c = a.version <=> b.version; c != 0) return c;
  // A live entry is greater than a tombstone at the same version: add wins.
  if (const auto c = !a.removed <=> !b.removed; c != 0) return c;
  if (const auto c = a.spec.instance_id <=> b.spec.instance_id; c != 0) return c;
  if (const auto c = a.spec.listen_addrs <=> b.spec.listen_addrs; c != 0) return c;
  return compare_channels(a.spec, b.spec);
}

std::uint64_t spec_hash(const NodeSpec& spec) {
  Fnv1a hash;
  hash.text(spec.name);
  hash.number(spec.listen_addrs.size(), 4);
  for (const auto& addr : spec.listen_addrs) {
    hash.text(addr.ip);
    hash.number(addr.port, 2);
  }
  hash.number(spec.channels.size(), 4);
  for (const auto& [name, channel] : spec.channels) {
    hash.text(name);
    hash.number(channel.parallelism, 4);
    hash.number(channel.monotonic ? 1 : 0, 1);
  }
  hash.number(spec.instance_id, 8);
  return hash.value();
}

DigestEntry digest_of(const Entry& entry) {
  return DigestEntry{entry.spec.name, entry.version, entry.removed, entry.spec.instance_id,
                     spec_hash(entry.spec)};
}

namespace internal {

std::partial_ordering compare_digest(const DigestEntry& a, const DigestEntry& b) {
  if (const auto c = a.version <=> b.version; c != 0) return c;
  if (const auto c = !a.removed <=> !b.removed; c != 0) return c;
  if (const auto c = a.instance_id <=> b.instance_id; c != 0) return c;
  // Equal hashes are taken as equal specs: a 64-bit collision between two specs
  // of one name, version and instance id is the (negligible) cost of digests.
  return a.spec_hash == b.spec_hash ? std::partial_ordering::equivalent
                                    : std::partial_ordering::unordered;
}

}  // namespace internal
}  // namespace plexus::membership
