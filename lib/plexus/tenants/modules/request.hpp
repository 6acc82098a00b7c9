// Reading the JSON requests of the built-in modules and writing their error
// replies. A request is a JSON object {"op": "<name>", ...fields}; every
// refusal is invalid_argument with a detail naming the field (and, for a
// text that is not JSON, the byte offset), answered to the caller as
// {"error": "<code name>", "detail": "<text>"} — only that call fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "plexus/tenants/module.hpp"

namespace plexus::tenants::modules {

/// One parsed request: the operation and typed field accessors whose errors name the field.
class Request {
 public:
  /// Parses `bytes` (at most `bytes_max`) as a JSON object with a string "op";
  /// invalid_argument naming the problem otherwise.
  static Result<Request> parse(std::string_view bytes, std::size_t bytes_max);

  [[nodiscard]] const std::string& op() const noexcept { return op_; }
  /// invalid_argument naming the first field not in `allowed` ("op" is always allowed).
  [[nodiscard]] Result<void> only(std::initializer_list<std::string_view> allowed) const;
  /// The field, nullptr when absent (null counts as absent).
  [[nodiscard]] const nlohmann::json* raw(std::string_view field) const;
  /// A string field; nullopt when absent; invalid_argument when not a string or longer than bytes_max.
  [[nodiscard]] Result<std::optional<std::string>> string(std::string_view field, std::size_t bytes_max) const;
  /// An integer field within [min, max]; nullopt when absent.
  [[nodiscard]] Result<std::optional<std::int64_t>> integer(std::string_view field, std::int64_t min,
                                                            std::int64_t max) const;
  /// A boolean field; nullopt when absent.
  [[nodiscard]] Result<std::optional<bool>> boolean(std::string_view field) const;

 private:
  Request(nlohmann::json body, std::string op) : body_(std::move(body)), op_(std::move(op)) {}
  nlohmann::json body_;
  std::string op_;
};

/// invalid_argument "<field>: <what>".
Error field_error(std::string_view field, std::string_view what);
/// {"error": "<code name>", "detail": "<detail>"} (compact, keys sorted).
Bytes error_reply(const Error& error);
/// The short name of `error`'s code in its own category ("invalid_argument",
/// "fenced", a store code as "tenant_not_found"), else "<category>:<value>".
std::string error_name(const Error& error);

}  // namespace plexus::tenants::modules
