// The requests of the built-in `kv` module, decoded from JSON (see kv.hpp for
// the protocol). Keys are tuples in the project's JSON tuple spelling
// (docs/store.md, "Tuples as JSON": ["users", 42], {"bytes": "<hex>"} ...)
// or a plain string, which is the one-element tuple ("that string",). Values
// are strings (stored as their UTF-8 bytes) or {"bytes": "<hex>"}, as in the
// admin API's /v1/kv routes. Pure: no datastore is touched here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "plexus/store/tuple.hpp"
#include "plexus/tenants/module.hpp"

namespace plexus::tenants::modules {

/// Longest request a kv tenant reads (a value may be up to the datastore's limit, 100,000 bytes on LMDB).
inline constexpr std::size_t kv_request_bytes_max = 1 << 20;
/// Rows one range call returns by default, and at most.
inline constexpr std::int64_t kv_range_limit_default = 100;
inline constexpr std::int64_t kv_range_limit_max = 10'000;

/// One decoded kv request.
struct KvRequest {
  enum class Op : std::uint8_t { get, set, clear, range };
  Op op = Op::get;
  store::Tuple key;     ///< get, set, clear (non-empty); range: the prefix (empty: every key)
  std::string value;    ///< set
  std::int64_t limit = kv_range_limit_default;  ///< range
  bool reverse = false;                         ///< range
};

/// Decodes a request; invalid_argument naming the field (and the tuple
/// element: "key: [1].bytes: odd number of hex digits") otherwise. Never throws.
Result<KvRequest> decode_kv_request(std::string_view bytes);

/// A value as JSON: a string when it is valid UTF-8, else {"bytes": "<hex>"}.
nlohmann::json kv_value_json(const std::string& value);

}  // namespace plexus::tenants::modules
