// The total order on entries, the spec hash, and their digest counterparts:
// the schema Members that replica::Map orders membership entries by.
#include <algorithm>

#include "plexus/membership/internal.hpp"
#include "plexus/replica/schema.hpp"

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

}  // namespace

std::strong_ordering compare(const Entry& a, const Entry& b) {
  if (const auto c = a.spec.name <=> b.spec.name; c != 0) return c;
  // Then version, then live over removed (add wins), then Members::tie.
  return replica::Map<Members>::compare(a, b);
}

std::strong_ordering Members::tie(const Entry& a, const Entry& b) {
  if (const auto c = a.spec.instance_id <=> b.spec.instance_id; c != 0) return c;
  if (const auto c = a.spec.listen_addrs <=> b.spec.listen_addrs; c != 0) return c;
  return compare_channels(a.spec, b.spec);
}

std::uint64_t spec_hash(const NodeSpec& spec) {
  replica::Fnv1a hash;
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

std::partial_ordering Members::tie(const Digest& a, const Digest& b) {
  if (const auto c = a.instance_id <=> b.instance_id; c != 0) return c;
  // Equal hashes are taken as equal specs: a 64-bit collision between two specs
  // of one name, version and instance id is the (negligible) cost of digests.
  return a.spec_hash == b.spec_hash ? std::partial_ordering::equivalent
                                    : std::partial_ordering::unordered;
}

namespace internal {

std::partial_ordering compare_digest(const DigestEntry& a, const DigestEntry& b) {
  return replica::Map<Members>::compare(a, b);
}

}  // namespace internal
}  // namespace plexus::membership
