// The tenant directory's encoding: keys and values in the system subspace.
#include "plexus/store/tenant_layout.hpp"

#include <cassert>
#include <chrono>
#include <limits>
#include <utility>

namespace plexus::store::tenant_layout {
namespace {

// Tuples of strings, byte strings and int64s always pack; only an incomplete
// versionstamp makes pack() fail.
std::string pack_known(const Tuple& tuple) {
  auto packed = store::pack(tuple);
  assert(packed.ok());
  return std::move(packed).value();
}

std::string system_key(const Tuple& tuple) {
  std::string key(1, system_byte);
  auto appended = pack_append(key, tuple);
  assert(appended.ok());
  (void)appended;
  return key;
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error malformed_entry(std::string_view what, std::string_view id) {
  return make_error(errc::malformed_tuple,
                    "tenant directory: " + std::string(what) + " for tenant " + describe_id(id));
}

/// The last allocated counter value (0 before the first tenant).
Result<std::int64_t> read_counter(Transaction& transaction) {
  auto value = transaction.get(counter_key());
  if (!value.ok()) return value.error();
  if (!value->has_value()) return std::int64_t{0};
  auto tuple = unpack(**value);
  if (!tuple.ok() || tuple->size() != 1 || !std::holds_alternative<std::int64_t>((*tuple)[0].value) ||
      std::get<std::int64_t>((*tuple)[0].value) < 0) {
    return make_error(errc::malformed_tuple, "tenant directory: the prefix counter is not pack((n,))");
  }
  return std::get<std::int64_t>((*tuple)[0].value);
}

}  // namespace

std::string describe_id(std::string_view id) {
  for (const char c : id) {
    if (c < 0x20 || c > 0x7e || c == '\'') return "hex " + to_hex(id);
  }
  return "'" + std::string(id) + "'";
}

std::string directory_key(std::string_view id) { return system_key({"tenant", Bytes{std::string(id)}}); }

KeyRange directory_range() {
  std::string base = system_key({"tenant"});
  return {base + '\x00', base + '\xff'};
}

Result<std::string> id_of_directory_key(std::string_view key) {
  auto tuple = key.empty() ? Result<Tuple>(make_error(errc::malformed_tuple, "empty key")) : unpack(key.substr(1));
  if (!tuple.ok() || key[0] != system_byte || tuple->size() != 2 || !std::holds_alternative<Bytes>((*tuple)[1].value)) {
    return make_error(errc::malformed_tuple, "tenant directory: not an entry key: " + to_hex(key));
  }
  return std::get<Bytes>((*tuple)[1].value).value;
}

std::string counter_key() { return system_key({"tenant_counter"}); }

std::string encode_meta(const TenantMeta& meta) {
  return pack_known({Bytes{meta.prefix}, meta.created_unix_ms, meta.migration_version});
}

Result<TenantMeta> decode_meta(std::string_view id, std::string_view value) {
  auto tuple = unpack(value);
  if (!tuple.ok() || tuple->size() != 3) return malformed_entry("entry is not a 3-tuple", id);
  const auto* prefix = std::get_if<Bytes>(&(*tuple)[0].value);
  const auto* created = std::get_if<std::int64_t>(&(*tuple)[1].value);
  const auto* version = std::get_if<std::int64_t>(&(*tuple)[2].value);
  if (prefix == nullptr || prefix->value.empty() || created == nullptr || version == nullptr) {
    return malformed_entry("entry is not (bytes, int, int)", id);
  }
  return TenantMeta{prefix->value, *created, *version};
}

std::string prefix_of(std::uint64_t n) {
  assert(n >= 1);
  std::string prefix;
  for (; n != 0; n >>= 8) prefix.insert(prefix.begin(), static_cast<char>(n & 0xff));
  return prefix;
}

TenantSpace space_of(std::string_view id, std::string_view prefix) {
  TenantSpace space{std::string(id), std::string(prefix), pack_known({Bytes{std::string(prefix)}}), {}, {}};
  // Not strinc(key_begin): a prefix Q = P + 00 + ... packs to pack((P,)) + ff + ...,
  // and every key of P's own is pack((P,)) + a tuple, whose first byte is a type
  // code below ff. So [pack((P,)), pack((P,)) + ff) is exactly P's keys.
  space.key_end = space.key_begin + '\xff';
  space.directory_key = directory_key(id);
  return space;
}

Result<std::optional<TenantMeta>> read_meta(Transaction& transaction, std::string_view id) {
  auto value = transaction.get(directory_key(id));
  if (!value.ok()) return value.error();
  if (!value->has_value()) return std::optional<TenantMeta>{};
  auto meta = decode_meta(id, **value);
  if (!meta.ok()) return meta.error();
  return std::optional<TenantMeta>{std::move(meta).value()};
}

Result<TenantMeta> create_entry(Transaction& transaction, std::string_view id) {
  auto last = read_counter(transaction);
  if (!last.ok()) return last.error();
  if (*last == std::numeric_limits<std::int64_t>::max()) {
    return make_error(errc::backend_error, "tenant directory: the prefix counter is exhausted");
  }
  const std::int64_t next = *last + 1;
  TenantMeta meta{prefix_of(static_cast<std::uint64_t>(next)), now_unix_ms(), 0};
  if (auto written = transaction.set(counter_key(), pack_known({next})); !written.ok()) return written.error();
  if (auto written = transaction.set(directory_key(id), encode_meta(meta)); !written.ok()) return written.error();
  return meta;
}

}  // namespace plexus::store::tenant_layout
