// Cluster key files: written private, read back, and refused when unsafe or malformed.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "plexus/core/errors.hpp"
#include "plexus/secure/cluster_key.hpp"

using namespace plexus;
using namespace plexus::secure;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/plexus-key-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("a written key file is mode 0600 and reads back to the same key") {
  // Proves keygen output is private and round-trips.
  TempDir dir;
  auto written = write_new_cluster_key(dir.path / "key");
  REQUIRE(written.ok());
  struct stat st {};
  REQUIRE(::stat((dir.path / "key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto read = read_cluster_key(dir.path / "key");
  REQUIRE(read.ok());
  CHECK(read->bytes == written->bytes);
}

TEST_CASE("an existing key file is never overwritten") {
  // Proves keygen cannot destroy a cluster's key by accident.
  TempDir dir;
  REQUIRE(write_new_cluster_key(dir.path / "key").ok());
  auto again = write_new_cluster_key(dir.path / "key");
  CHECK(again.error().code == errc::bad_key_file);
}

TEST_CASE("unsafe or malformed key files are refused with the reason") {
  // Proves each way a key file can be wrong is named.
  TempDir dir;
  const auto path = dir.path / "key";
  SUBCASE("missing") {
    auto r = read_cluster_key(path);
    CHECK(r.error().detail.find("No such file") != std::string::npos);
  }
  SUBCASE("group readable") {
    REQUIRE(write_new_cluster_key(path).ok());
    fs::permissions(path, fs::perms::group_read, fs::perm_options::add);
    auto r = read_cluster_key(path);
    CHECK(r.error().detail.find("chmod 600") != std::string::npos);
  }
  SUBCASE("not hex") {
    std::ofstream(path) << std::string(64, 'z') << "\n";
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    CHECK(read_cluster_key(path).error().detail.find("not hex") != std::string::npos);
  }
  SUBCASE("too short") {
    std::ofstream(path) << "abcd\n";
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    CHECK(read_cluster_key(path).error().detail.find("64 hex digits") != std::string::npos);
  }
}

TEST_CASE("subkeys differ by purpose and from the key") {
  // Proves derived tokens do not reveal the key or each other.
  const ClusterKey key = generate_cluster_key();
  auto token = derive_subkey(key, "admin token");
  CHECK(token != derive_subkey(key, "other"));
  CHECK(token == derive_subkey(key, "admin token"));
  CHECK(std::vector<std::uint8_t>(token.begin(), token.end()) !=
        std::vector<std::uint8_t>(key.bytes.begin(), key.bytes.end()));
}
