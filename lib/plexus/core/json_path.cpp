#include "plexus/core/json_path.hpp"

#include <array>
#include <cstdio>

#include "plexus/core/errors.hpp"

namespace plexus::json_path {

Error field_error(std::string_view path, std::string_view what) {
  std::string detail(path);
  detail.append(": ").append(what);
  return make_error(errc::invalid_field, std::move(detail));
}

std::string printable(std::string_view key) {
  std::string out;
  for (const char c : key) {
    if (out.size() >= key_max_bytes) return out + "...";
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      std::array<char, 5> escaped{};
      std::snprintf(escaped.data(), escaped.size(), "\\x%02x", byte);
      out += escaped.data();
    }
  }
  return out;
}

std::string join(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  return path + (key.empty() ? std::string("\"\"") : printable(key));
}

std::string index(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

}  // namespace plexus::json_path
