// The tenant directory's keys and values in the system subspace (byte `ff`,
// which starts no tuple key), shared by tenant*.cpp only. The layout is
// documented byte for byte in tenant.hpp and docs/store.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "plexus/core/result.hpp"
#include "plexus/store/kv.hpp"
#include "plexus/store/tenant.hpp"

namespace plexus::store::tenant_layout {

/// The first byte of every system key.
inline constexpr char system_byte = '\xff';

/// A tenant id for error details: "'acme'" when printable ASCII, else "hex 00ff...".
std::string describe_id(std::string_view id);

/// ff + pack(("tenant", Bytes id)).
std::string directory_key(std::string_view id);
/// [ff + pack(("tenant",)) + 00, ... + ff): every directory entry.
KeyRange directory_range();
/// The id of a directory key; malformed_tuple if it is not one.
Result<std::string> id_of_directory_key(std::string_view key);
/// ff + pack(("tenant_counter",)).
std::string counter_key();

std::string encode_meta(const TenantMeta& meta);
/// malformed_tuple (naming the tenant) unless `value` is pack((Bytes, int, int)).
Result<TenantMeta> decode_meta(std::string_view id, std::string_view value);
/// The prefix for counter value n >= 1: its minimal big-endian bytes.
std::string prefix_of(std::uint64_t n);
/// The space (prefix, first and end key) of a tenant with prefix P.
TenantSpace space_of(std::string_view id, std::string_view prefix);

/// The directory entry, read in `transaction` (so a change to it conflicts).
Result<std::optional<TenantMeta>> read_meta(Transaction& transaction, std::string_view id);
/// Allocates the next prefix (counter read and written in `transaction`) and
/// writes the entry for `id` in the same transaction.
Result<TenantMeta> create_entry(Transaction& transaction, std::string_view id);

}  // namespace plexus::store::tenant_layout
