// A PostgreSQL 15 server of one test's own, for tests that must start and stop
// it: initdb in a temporary directory (as user postgres when run as root),
// listening on 127.0.0.1 on a free port, SCRAM for TCP logins, an admin
// superuser whose password is in an environment variable. Needs the server
// binaries (PLEXUS_PG_BIN, default /usr/lib/postgresql/15/bin); without them
// available() is false and the test says it skipped. Test-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

namespace plexus::context::test {

class PrivateServer {
 public:
  /// The environment variable holding the admin's password.
  static constexpr const char* password_env = "PLEXUS_TEST_PRIVATE_PG_PW";

  PrivateServer() {
    const char* bin = std::getenv("PLEXUS_PG_BIN");
    bin_ = bin != nullptr ? bin : "/usr/lib/postgresql/15/bin";
    if (!std::filesystem::exists(bin_ + "/initdb")) return;
    char pattern[] = "/tmp/plexus-private-pg.XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    dir_ = pattern;
    as_ = ::geteuid() == 0 ? "runuser -u postgres -- " : "";
    const std::string password = "pw" + std::to_string(::getpid()) + std::to_string(std::rand());
    ::setenv(password_env, password.c_str(), 1);
    std::ofstream(dir_ + "/password") << password << "\n";
    if (!as_.empty()) REQUIRE(run("chown -R postgres: " + dir_));
    REQUIRE(run(as_ + bin_ + "/initdb -D " + dir_ + "/data -U plexus_admin --pwfile=" + dir_ +
                "/password --auth-local=trust --auth-host=scram-sha-256 --no-sync -E UTF8 --locale=C >" + dir_ +
                "/initdb.log 2>&1"));
    port_ = free_port();
    std::ofstream(dir_ + "/data/postgresql.conf", std::ios::app)
        << "listen_addresses = '127.0.0.1'\nport = " << port_ << "\nunix_socket_directories = '" << dir_
        << "'\nfsync = off\nmax_connections = 50\n";
  }
  ~PrivateServer() {
    if (dir_.empty()) return;
    (void)run(as_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate stop >/dev/null 2>&1");
    std::filesystem::remove_all(dir_);
  }
  PrivateServer(const PrivateServer&) = delete;
  PrivateServer& operator=(const PrivateServer&) = delete;

  [[nodiscard]] bool available() const { return !dir_.empty(); }
  /// Starts the server and waits (pg_ctl -w, at most 60 s) until it accepts connections.
  void start() const {
    REQUIRE(run(as_ + bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -t 60 start >/dev/null"));
  }
  /// Stops it at once (connections are cut; pg_ctl waits until it is down).
  void stop() const { REQUIRE(run(as_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop >/dev/null")); }
  /// The admin's conninfo over TCP (no password: it is in password_env).
  [[nodiscard]] std::string conninfo() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=plexus_admin connect_timeout=2";
  }
  [[nodiscard]] int port() const { return port_; }

 private:
  static bool run(const std::string& command) { return std::system(command.c_str()) == 0; }

  /// A port nothing listens on now (bound to port 0 on 127.0.0.1, then closed).
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    ::close(fd);
    return ntohs(address.sin_port);
  }

  std::string bin_;
  std::string dir_;
  std::string as_;
  int port_ = 0;
};

}  // namespace plexus::context::test
