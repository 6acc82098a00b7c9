// plexus::Error and plexus::Result<T>: the error-or-value type returned at
// every API boundary. An Error carries a std::error_code (stable, countable,
// comparable in tests) and a human detail naming what was wrong ("field
// 'channels.data.parallelism': must be 1..256"), which is what gets logged.
#pragma once

#include <cassert>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace plexus {

/// An error code plus the precise reason, for logs and API responses.
struct Error {
  std::error_code code;
  std::string detail;

  /// "<code message>: <detail>", or the code message alone.
  [[nodiscard]] std::string message() const {
    return detail.empty() ? code.message() : code.message() + ": " + detail;
  }
};

/// A value of type T or an Error. No exceptions: callers test `ok()`.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  [[nodiscard]] bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(state_); }
  const T& value() const& { assert(ok()); return std::get<0>(state_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] const Error& error() const { assert(!ok()); return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

/// Result of an operation with no value.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  [[nodiscard]] bool ok() const { return !error_.code; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] const Error& error() const { assert(!ok()); return error_; }

 private:
  Error error_{};
};

}  // namespace plexus
