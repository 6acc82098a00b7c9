#include "plexus/secure/cluster_key.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "plexus/core/errors.hpp"

namespace plexus::secure {
namespace {

Error key_error(const std::filesystem::path& path, const std::string& what) {
  return make_error(errc::bad_key_file, path.string() + ": " + what);
}

}  // namespace

ClusterKey::~ClusterKey() { sodium_memzero(bytes.data(), bytes.size()); }

void ensure_sodium() {
  static const bool initialised = [] {
    if (sodium_init() < 0) std::abort();  // no randomness source: nothing is safe
    return true;
  }();
  (void)initialised;
}

ClusterKey generate_cluster_key() {
  ensure_sodium();
  ClusterKey key;
  randombytes_buf(key.bytes.data(), key.bytes.size());
  return key;
}

std::string to_hex(const ClusterKey& key) {
  std::string hex(key.bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), key.bytes.data(), key.bytes.size());
  hex.pop_back();
  return hex;
}

Result<ClusterKey> cluster_key_from_hex(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.size() != cluster_key_bytes * 2) {
    return make_error(errc::bad_key_file, "expected 64 hex digits, found " +
                                              std::to_string(text.size()) + " characters");
  }
  ClusterKey key;
  std::size_t decoded = 0;
  if (sodium_hex2bin(key.bytes.data(), key.bytes.size(), text.data(), text.size(), nullptr,
                     &decoded, nullptr) != 0 ||
      decoded != cluster_key_bytes) {
    return make_error(errc::bad_key_file, "not hex");
  }
  return key;
}

Result<ClusterKey> write_new_cluster_key(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return key_error(path, std::strerror(errno));
  ClusterKey key = generate_cluster_key();
  const std::string text = to_hex(key) + "\n";
  const ssize_t written = ::write(fd, text.data(), text.size());
  const int close_result = ::close(fd);
  if (written != static_cast<ssize_t>(text.size()) || close_result != 0) {
    std::filesystem::remove(path);
    return key_error(path, "short write");
  }
  return key;
}

Result<ClusterKey> read_cluster_key(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return key_error(path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return key_error(path, "not a regular file");
  if ((st.st_mode & 077) != 0) {
    std::ostringstream mode;
    mode << std::oct << (st.st_mode & 0777);
    return key_error(path, "readable by group or others (mode 0" + mode.str() +
                               "); run: chmod 600 " + path.string());
  }
  if (st.st_size > 128) return key_error(path, "too large for a key file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return key_error(path, "cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto key = cluster_key_from_hex(text);
  if (!key) return key_error(path, key.error().detail);
  return key;
}

std::array<std::uint8_t, 32> derive_subkey(const ClusterKey& key, std::string_view purpose) {
  ensure_sodium();
  std::array<std::uint8_t, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(purpose.data()),
                     purpose.size(), key.bytes.data(), key.bytes.size());
  return out;
}

}  // namespace plexus::secure
