// The context registry core (registry.hpp).
#include "plexus/context/registry.hpp"

#include <limits>

#include "plexus/core/byte_codec.hpp"
#include "plexus/core/errors.hpp"

namespace plexus::context {
namespace {

using Reader = plexus::ByteReader;
using Writer = plexus::ByteWriter;
using Entry = RegistrySchema::Entry;
using Digest = RegistrySchema::Digest;

constexpr std::uint8_t kind_digest = 1, kind_entries = 2, kind_pull = 3;
constexpr std::uint64_t time_max = std::numeric_limits<std::uint64_t>::max();

std::string holder(const Registration& r) { return r.node + " (" + r.datastore + "/" + r.context + ")"; }

}  // namespace

std::string RegistrationCodec::encode(const Registration& value) {
  Writer out;
  out.big(time_max - value.registered_at_unix_ms);  // earlier registrations encode greater
  out.text(value.node);
  out.text(value.datastore);
  out.text(value.context);
  return out.done_string();
}

std::optional<Registration> RegistrationCodec::decode(std::string_view bytes) {
  Reader in(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  Registration r;
  r.registered_at_unix_ms = time_max - in.big();
  r.node = in.text();
  r.datastore = in.text();
  r.context = in.text();
  if (!in.ok()) return std::nullopt;
  return r;
}

Registry::Registry(std::string node, replica::TimePoint now, RegistryOptions options)
    : node_(std::move(node)),
      options_(options),
      next_round_(now + options.anti_entropy_period),
      map_(options.global_limits) {}

Result<void> Registry::register_context(const std::string& name, const std::string& datastore,
                                        const std::string& context, Scope scope, std::uint64_t now_unix_ms) {
  const Registration registration{node_, datastore, context, now_unix_ms};
  if (scope == Scope::none) return {};
  if (scope == Scope::local) {
    if (const auto it = local_.find(name); it != local_.end()) {
      return make_error(errc::already_registered, "local name " + name + " is held by " + holder(it->second));
    }
    if (local_.size() >= options_.local_names_max) {
      return make_error(errc::already_registered, "local registry full (local_names_max)");
    }
    local_.emplace(name, registration);
    return {};
  }
  if (const Entry* entry = map_.find(name); entry != nullptr && !entry->removed && entry->value.node != node_ &&
                                             reachable(entry->value)) {
    return make_error(errc::already_registered, "global name " + name + " is held by " + holder(entry->value));
  }
  // Free, held by a node that is down (the new entry's higher version wins when
  // it returns, and it is told), or ours from an earlier run of this node.
  auto written = map_.put(Entry{name, registration});
  if (!written) return written.error();
  const std::vector<Entry> one{*map_.find(name)};
  for (const auto& peer : up_) send_entries(peer, one);
  return {};
}

Result<void> Registry::unregister_context(const std::string& name, Scope scope) {
  if (scope == Scope::local) {
    if (local_.erase(name) == 0) return make_error(errc::context_not_found, "no local registration " + name);
    return {};
  }
  const Entry* entry = scope == Scope::global ? map_.find(name) : nullptr;
  if (entry == nullptr || entry->removed || entry->value.node != node_) {
    return make_error(errc::context_not_found, "no global registration " + name + " of this node");
  }
  auto removed = map_.remove(name);
  if (!removed) return removed.error();
  const std::vector<Entry> one{*map_.find(name)};
  for (const auto& peer : up_) send_entries(peer, one);
  return {};
}

bool Registry::reachable(const Registration& registration) const {
  return registration.node == node_ || up_.contains(registration.node);
}

Result<Registration> Registry::whereis(const std::string& name) const {
  if (const auto it = local_.find(name); it != local_.end()) return it->second;
  if (const Entry* entry = map_.find(name); entry != nullptr && !entry->removed) {
    if (reachable(entry->value)) return entry->value;
    return make_error(errc::context_not_found, "no context registered as " + name + " (its holder " +
                                                   entry->value.node + " is down)");
  }
  return make_error(errc::context_not_found, "no context registered as " + name);
}

std::map<std::string, Registration> Registry::global() const {
  std::map<std::string, Registration> out;
  for (const auto& [name, entry] : map_) {
    if (!entry.removed && reachable(entry.value)) out.emplace(name, entry.value);
  }
  return out;
}

void Registry::on_tick(replica::TimePoint now) {
  if (now < next_round_) return;
  next_round_ = now + options_.anti_entropy_period;
  for (const auto& peer : up_) send_digest(peer);
}

void Registry::on_peer_up(const std::string& node, replica::TimePoint) {
  up_.insert(node);
  send_digest(node);
}

void Registry::on_peer_down(const std::string& node, replica::TimePoint) { up_.erase(node); }

void Registry::bad(const std::string& from, const std::string& why) {
  out_.errors.push_back(make_error(plexus::errc::malformed_message, "context registry: from " + from + ": " + why));
}

void Registry::send_digest(const std::string& to) {
  const auto digest = map_.digest();
  Writer out(kind_digest, digest.size());
  for (const auto& d : digest) {
    out.text(d.key);
    out.little(d.version, 8);
    out.little(d.removed ? 1 : 0, 1);
    out.little(d.hash, 8);
  }
  out_.sends.push_back({to, out.done()});
}

void Registry::send_entries(const std::string& to, std::span<const Entry> entries) {
  Writer out(kind_entries, entries.size());
  for (const auto& e : entries) {
    out.text(e.key);
    out.text(RegistrationCodec::encode(e.value));
    out.little(e.version, 8);
    out.little(e.removed ? 1 : 0, 1);
  }
  out_.sends.push_back({to, out.done()});
}

void Registry::on_message(const std::string& from, std::span<const std::uint8_t> bytes, replica::TimePoint) {
  if (bytes.size() < 5) return bad(from, "shorter than a header");
  Reader header(bytes.subspan(1, 4));
  const std::uint64_t count = header.little(4);
  if (count > map_.limits().entries_max) return bad(from, "too many items");
  const auto body = bytes.subspan(5);
  if (bytes[0] == kind_digest) return on_digest(from, body, count);
  if (bytes[0] == kind_entries) return on_entries(from, body, count);
  if (bytes[0] == kind_pull) return on_pull(from, body, count);
  bad(from, "unknown kind");
}

void Registry::on_digest(const std::string& from, std::span<const std::uint8_t> body, std::uint64_t count) {
  Reader in(body);
  std::vector<Digest> digest;
  for (std::uint64_t i = 0; i < count && !in.failed(); ++i) {
    Digest d;
    d.key = in.text();
    d.version = in.little(8);
    d.removed = in.little(1) != 0;
    d.hash = in.little(8);
    digest.push_back(std::move(d));
  }
  if (!in.ok()) return bad(from, "truncated digest");
  auto diff = map_.diff(digest);
  if (!diff) return out_.errors.push_back(diff.error());
  if (!diff->push.empty()) send_entries(from, diff->push);
  if (diff->pull.empty()) return;
  Writer out(kind_pull, diff->pull.size());
  for (const auto& key : diff->pull) out.text(key);
  out_.sends.push_back({from, out.done()});
}

void Registry::on_entries(const std::string& from, std::span<const std::uint8_t> body, std::uint64_t count) {
  Reader in(body);
  std::vector<Entry> batch;
  for (std::uint64_t i = 0; i < count && !in.failed(); ++i) {
    Entry e;
    e.key = in.text();
    const auto value = RegistrationCodec::decode(in.text());
    e.version = in.little(8);
    e.removed = in.little(1) != 0;
    if (!value) return bad(from, "undecodable registration");
    e.value = *value;
    batch.push_back(std::move(e));
  }
  if (!in.ok()) return bad(from, "truncated entries");
  auto merged = map_.merge(batch, [&](const Entry* before, const Entry& after) {
    // Our live registration replaced by another node's: we lost this name.
    if (before != nullptr && !before->removed && before->value.node == node_ && after.value.node != node_) {
      out_.lost.push_back(Lost{after.key, before->value, after.value});
    }
  });
  if (!merged) out_.errors.push_back(merged.error());
}

void Registry::on_pull(const std::string& from, std::span<const std::uint8_t> body, std::uint64_t count) {
  Reader in(body);
  std::vector<std::string> keys;
  for (std::uint64_t i = 0; i < count && !in.failed(); ++i) keys.push_back(in.text());
  if (!in.ok()) return bad(from, "truncated pull");
  const auto entries = map_.entries_for(keys);
  if (!entries.empty()) send_entries(from, entries);
}

}  // namespace plexus::context
