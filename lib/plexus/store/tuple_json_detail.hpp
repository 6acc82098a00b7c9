// Shared between tuple_json.cpp (writing) and tuple_json_parse.cpp (reading):
// big integers as decimal text, and the element-path-aware reader.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "plexus/store/tuple.hpp"

namespace plexus::store::detail {

/// Decimal text of a big integer ("-18446744073709551616").
std::string big_to_decimal(const BigInt& b);
/// The integer spelled by optional '-' and decimal digits; invalid_field
/// ("<path>: ...") when it is not one or needs over big_int_bytes_max bytes.
Result<Element> decimal_to_integer(std::string_view text, std::string_view path);
/// Appends the elements of the JSON array `j` (found at `path`, nested `depth`
/// levels deep) to `out`.
Result<void> tuple_from_json_at(const nlohmann::json& j, const std::string& path, std::size_t depth, Tuple& out);

}  // namespace plexus::store::detail
