// A std::error_category built from one describe(errc) -> {name, text}
// function, so each component's error enum needs only that table.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace plexus {

/// Stable short name (metric labels, JSON) and human text of one error code.
struct ErrorText {
  std::string_view name;
  std::string_view text;
};

template <class E, ErrorText (*Describe)(E) noexcept>
class DescribedCategory final : public std::error_category {
 public:
  explicit DescribedCategory(const char* name) noexcept : name_(name) {}
  [[nodiscard]] const char* name() const noexcept override { return name_; }
  [[nodiscard]] std::string message(int value) const override {
    return std::string(Describe(static_cast<E>(value)).text);
  }

 private:
  const char* name_;
};

}  // namespace plexus
