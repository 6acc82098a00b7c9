// Admin token derivation and token files (token.hpp).
#include "plexus/admin/token.hpp"

#include <array>
#include <fstream>

#include <sodium.h>

#include "plexus/core/errors.hpp"

namespace plexus::admin {

std::string admin_token(const secure::ClusterKey& key) {
  const auto subkey = secure::derive_subkey(key, token_purpose);
  std::array<char, 2 * 32 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), subkey.data(), subkey.size());
  return std::string(hex.data(), 2 * 32);
}

Result<std::string> read_token_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string token;
  if (!in || !std::getline(in, token)) return make_error(errc::io_error, file.string() + ": cannot read the token file");
  if (token.size() != 64 || token.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return make_error(errc::invalid_field, file.string() + ": expected 64 lowercase hex digits (see plexus token)");
  }
  return token;
}

}  // namespace plexus::admin
