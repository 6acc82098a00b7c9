// What a replica::Map needs to know about the entries it holds: the Schema
// concept, and KeyValue, the ready-made schema for a map of keys to values
// whose encoding the user supplies (a Codec).
//
// A schema names three types (Key, Entry, Digest) and says how two entries of
// one key at the same version and liveness are ordered (tie), so that the
// map's order on entries is TOTAL: version, then live over removed, then tie.
// Digests carry enough of an entry (key, version, removed, a hash of the
// rest) for anti-entropy to decide who pushes and who pulls without sending
// values; where a digest cannot tell two entries apart its tie is unordered
// and both sides exchange the entries.
#pragma once

#include <compare>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace plexus::replica {

/// The schema of a replica::Map (see the file comment). Entry and Digest both
/// have `std::uint64_t version` and `bool removed`.
template <class S>
concept Schema = requires(const typename S::Entry& entry, const typename S::Digest& digest) {
  typename S::Key;
  { S::key(entry) } -> std::convertible_to<const typename S::Key&>;
  { S::key(digest) } -> std::convertible_to<const typename S::Key&>;
  { S::digest(entry) } -> std::same_as<typename S::Digest>;
  /// Order of two entries of one key at one version and liveness; equal iff identical.
  { S::tie(entry, entry) } -> std::same_as<std::strong_ordering>;
  /// The same order seen through digests: unordered where digests cannot tell.
  { S::tie(digest, digest) } -> std::same_as<std::partial_ordering>;
  requires std::same_as<std::remove_cvref_t<decltype(entry.version)>, std::uint64_t>;
  requires std::same_as<std::remove_cvref_t<decltype(entry.removed)>, bool>;
  requires std::same_as<std::remove_cvref_t<decltype(digest.version)>, std::uint64_t>;
  requires std::same_as<std::remove_cvref_t<decltype(digest.removed)>, bool>;
  { digest == digest } -> std::convertible_to<bool>;
};

/// 64-bit FNV-1a: small, and the same on every build and platform.
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
  /// Length-prefixed (u32), so ("ab","c") and ("a","bc") hash apart.
  void text(std::string_view data) {
    number(data.size(), 4);
    bytes(data);
  }
  [[nodiscard]] std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

/// A key's state in a KeyValue map: its value at a version, live or a
/// tombstone (a tombstone keeps the value it removed).
template <class K, class V>
struct Entry {
  K key;
  V value;
  std::uint64_t version = 0;  ///< 1..Limits::version_max
  bool removed = false;
  friend bool operator==(const Entry&, const Entry&) = default;
};

/// An Entry summarized for anti-entropy: the value only as its hash.
template <class K>
struct Digest {
  K key;
  std::uint64_t version = 0;
  bool removed = false;
  std::uint64_t hash = 0;  ///< Fnv1a of the value's encoding
  friend bool operator==(const Digest&, const Digest&) = default;
};

/// A Codec turns values into bytes and back. The map itself only encodes (to
/// order and hash values); a replica core uses decode on what it receives.
template <class C, class V>
concept Codec = requires(const V& value, std::string_view bytes) {
  { C::encode(value) } -> std::convertible_to<std::string>;
  { C::decode(bytes) } -> std::same_as<std::optional<V>>;
};

/// The identity codec of a map of strings.
struct StringCodec {
  static std::string encode(const std::string& value) { return value; }
  static std::optional<std::string> decode(std::string_view bytes) { return std::string(bytes); }
};

/// The schema of a map from K to V whose values encode with C. Two values at
/// one version and liveness are ordered by their encodings (bytes,
/// lexicographic), so C::encode must be canonical: equal values, equal bytes.
template <class K, class V, class C>
  requires Codec<C, V>
struct KeyValue {
  using Key = K;
  using Entry = replica::Entry<K, V>;
  using Digest = replica::Digest<K>;

  static const Key& key(const Entry& entry) { return entry.key; }
  static const Key& key(const Digest& digest) { return digest.key; }
  static std::uint64_t hash(const V& value) {
    Fnv1a hash;
    hash.bytes(C::encode(value));
    return hash.value();
  }
  static Digest digest(const Entry& entry) {
    return Digest{entry.key, entry.version, entry.removed, hash(entry.value)};
  }
  static std::strong_ordering tie(const Entry& a, const Entry& b) {
    return C::encode(a.value) <=> C::encode(b.value);
  }
  // Equal hashes are taken as equal values: a 64-bit collision between two
  // values of one key and version is the (negligible) cost of digests.
  static std::partial_ordering tie(const Digest& a, const Digest& b) {
    return a.hash == b.hash ? std::partial_ordering::equivalent : std::partial_ordering::unordered;
  }
};

}  // namespace plexus::replica
