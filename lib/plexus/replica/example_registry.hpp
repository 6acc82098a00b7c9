// The usage example of replica::Map and replica::Host (test-only, not
// installed): a cluster-wide registry of key -> string, as a sans-IO replica
// core in the presence::Shard shape. The tenant and datastore-context
// registries follow the same pattern with richer values and a real codec.
//
// Protocol: a local put/remove sends the new entry to every peer that is up;
// a peer coming up, and every anti_entropy_period, gets our digest; a digest
// is answered with the entries it lacks (push) and a pull of the keys we
// lack; a pull is answered with those entries. Tombstone GC is left out: a
// real registry takes the peers' lives from membership and runs observe()
// on each digest and collect_garbage() on a tick.
//
// Message bytes (integers little-endian; text = u32 length, bytes):
//   u8 kind (1 digest, 2 entries, 3 pull), u32 count, then per item
//   digest:  key, u64 version, u8 removed, u64 hash
//   entries: key, value, u64 version, u8 removed
//   pull:    key
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "plexus/core/errors.hpp"
#include "plexus/core/little_endian.hpp"
#include "plexus/replica/core.hpp"
#include "plexus/core/byte_codec.hpp"
#include "plexus/replica/replica.hpp"

namespace plexus::replica::example {

using Strings = KeyValue<std::string, std::string, StringCodec>;

using Writer = plexus::ByteWriter;
using Reader = plexus::ByteReader;

/// The registry core. Not thread-safe: a Host runs it on one executor.
class Registry {
 public:
  struct Send {
    std::string to;
    std::vector<std::uint8_t> bytes;
  };
  /// A key whose entry changed: its value now, or nullopt (removed).
  struct Change {
    std::string key;
    std::optional<std::string> value;
    friend bool operator==(const Change&, const Change&) = default;
  };
  struct Output {
    std::vector<Send> sends;
    std::vector<Change> changes;
    std::vector<Error> errors;
  };

  Registry(std::string node, TimePoint now, std::chrono::milliseconds anti_entropy_period = std::chrono::seconds(1))
      : node_(std::move(node)), period_(anti_entropy_period), next_round_(now + period_) {}

  // ---- local calls ----
  Result<void> put(const std::string& key, const std::string& value, TimePoint) {
    if (auto written = map_.put({key, value}); !written) return written.error();
    changed(key);
    return {};
  }
  Result<bool> remove(const std::string& key, TimePoint) {
    auto removed = map_.remove(key);
    if (removed && *removed) changed(key);
    return removed;
  }
  /// The value of `key`, or nullptr when absent or removed.
  [[nodiscard]] const std::string* get(const std::string& key) const {
    const auto* entry = map_.find(key);
    return entry == nullptr || entry->removed ? nullptr : &entry->value;
  }
  [[nodiscard]] const Map<Strings>& map() const { return map_; }
  [[nodiscard]] const std::string& node() const { return node_; }

  // ---- events (the Core concept) ----
  void on_message(const std::string& from, std::span<const std::uint8_t> bytes, TimePoint) {
    if (bytes.empty()) return bad(from, "empty message");
    Reader in(bytes.subspan(1));
    const std::uint64_t count = in.little(4);
    if (count > map_.limits().entries_max) return bad(from, "too many items");
    if (bytes[0] == 1) return on_digest(from, in, count);
    if (bytes[0] == 2) return on_entries(from, in, count);
    if (bytes[0] == 3) return on_pull(from, in, count);
    bad(from, "unknown kind");
  }
  void on_tick(TimePoint now) {
    if (now < next_round_) return;
    next_round_ = now + period_;
    for (const auto& peer : up_) send_digest(peer);
  }
  void on_peer_up(const std::string& node, TimePoint) {
    up_.insert(node);
    send_digest(node);
  }
  void on_peer_down(const std::string& node, TimePoint) { up_.erase(node); }
  [[nodiscard]] TimePoint next_deadline() const { return next_round_; }
  Output take() { return std::exchange(out_, {}); }

 private:
  void changed(const std::string& key) {
    const auto* entry = map_.find(key);
    out_.changes.push_back({key, entry->removed ? std::nullopt : std::optional(entry->value)});
    const std::vector<Strings::Entry> one{*entry};
    for (const auto& peer : up_) send(peer, encode_entries(one));
  }
  void send(const std::string& to, std::vector<std::uint8_t> bytes) { out_.sends.push_back({to, std::move(bytes)}); }
  void bad(const std::string& from, const std::string& why) {
    out_.errors.push_back(make_error(plexus::errc::malformed_message, "from " + from + ": " + why));
  }
  void send_digest(const std::string& to) {
    const auto digest = map_.digest();
    Writer out(1, digest.size());
    for (const auto& d : digest) {
      out.text(d.key);
      out.little(d.version, 8);
      out.little(d.removed ? 1 : 0, 1);
      out.little(d.hash, 8);
    }
    send(to, out.done());
  }
  static std::vector<std::uint8_t> encode_entries(std::span<const Strings::Entry> entries) {
    Writer out(2, entries.size());
    for (const auto& e : entries) {
      out.text(e.key);
      out.text(e.value);
      out.little(e.version, 8);
      out.little(e.removed ? 1 : 0, 1);
    }
    return out.done();
  }
  void on_digest(const std::string& from, Reader& in, std::uint64_t count) {
    std::vector<Strings::Digest> digest;
    for (std::uint64_t i = 0; i < count && !in.failed(); ++i) {
      Strings::Digest d;
      d.key = in.text();
      d.version = in.little(8);
      d.removed = in.little(1) != 0;
      d.hash = in.little(8);
      digest.push_back(std::move(d));
    }
    if (!in.ok()) return bad(from, "truncated digest");
    auto diff = map_.diff(digest);
    if (!diff) return out_.errors.push_back(diff.error());
    if (!diff->push.empty()) send(from, encode_entries(diff->push));
    if (diff->pull.empty()) return;
    Writer out(3, diff->pull.size());
    for (const auto& key : diff->pull) out.text(key);
    send(from, out.done());
  }
  void on_entries(const std::string& from, Reader& in, std::uint64_t count) {
    std::vector<Strings::Entry> batch;
    for (std::uint64_t i = 0; i < count && !in.failed(); ++i) {
      Strings::Entry e;
      e.key = in.text();
      e.value = in.text();
      e.version = in.little(8);
      e.removed = in.little(1) != 0;
      batch.push_back(std::move(e));
    }
    if (!in.ok()) return bad(from, "truncated entries");
    std::set<std::string> touched;
    auto merged = map_.merge(batch, [&](const Strings::Entry*, const Strings::Entry& now) { touched.insert(now.key); });
    if (!merged) return out_.errors.push_back(merged.error());
    for (const auto& key : touched) {
      const auto* entry = map_.find(key);
      out_.changes.push_back({key, entry->removed ? std::nullopt : std::optional(entry->value)});
    }
  }
  void on_pull(const std::string& from, Reader& in, std::uint64_t count) {
    std::vector<std::string> keys;
    for (std::uint64_t i = 0; i < count && !in.failed(); ++i) keys.push_back(in.text());
    if (!in.ok()) return bad(from, "truncated pull");
    const auto entries = map_.entries_for(keys);
    if (!entries.empty()) send(from, encode_entries(entries));
  }

  std::string node_;
  std::chrono::milliseconds period_;
  TimePoint next_round_;
  Map<Strings> map_;
  std::set<std::string> up_;
  Output out_;
};

static_assert(Core<Registry>);

}  // namespace plexus::replica::example
