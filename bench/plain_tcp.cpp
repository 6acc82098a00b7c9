#include "plain_tcp.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "worker.hpp"

namespace plexus::bench {
namespace {

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string failed(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// A connected pair over 127.0.0.1: {writing end, reading end}, or an error.
std::string connect_pair(Fd& writer, Fd& reader) {
  Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
  if (listener.get() < 0) return failed("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (::bind(listener.get(), generic, sizeof address) != 0) return failed("bind");
  if (::listen(listener.get(), 1) != 0) return failed("listen");
  if (::getsockname(listener.get(), generic, &length) != 0) return failed("getsockname");
  writer = Fd(::socket(AF_INET, SOCK_STREAM, 0));
  if (writer.get() < 0 || ::connect(writer.get(), generic, sizeof address) != 0) return failed("connect");
  reader = Fd(::accept(listener.get(), nullptr, nullptr));
  if (reader.get() < 0) return failed("accept");
  const int on = 1;  // as a Connection sets it
  ::setsockopt(writer.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  ::setsockopt(reader.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return {};
}

// Blocking transfer of exactly `size` bytes; false on error or end of stream.
bool send_all(int fd, const std::uint8_t* data, std::size_t size) {
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::send(fd, data + done, size - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool receive_all(int fd, std::uint8_t* data, std::size_t size) {
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::recv(fd, data + done, size - done, 0);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

}  // namespace

PingPongResult run_plain_ping_pong(const PingPongSpec& spec) {
  PingPongResult result;
  Fd client, server;
  result.error = connect_pair(client, server);
  if (!result.error.empty()) return result;
  std::thread echo([&server, bytes = spec.bytes] {
    std::vector<std::uint8_t> buffer(bytes);
    while (receive_all(server.get(), buffer.data(), bytes) && send_all(server.get(), buffer.data(), bytes)) {
    }
  });
  place_thread(echo, "tcp-echo", -1);
  std::vector<std::uint8_t> buffer(spec.bytes, 0x33);
  result.rtt_ns.reserve(spec.round_trips);
  const auto deadline = now_ns() + static_cast<std::int64_t>(spec.limit_s * 1e9);
  for (std::size_t i = 0; i < spec.warmup + spec.round_trips; ++i) {
    const auto start = now_ns();
    if (start > deadline) break;
    if (!send_all(client.get(), buffer.data(), buffer.size()) ||
        !receive_all(client.get(), buffer.data(), buffer.size())) {
      result.error = failed("ping-pong");
      break;
    }
    if (i >= spec.warmup) result.rtt_ns.push_back(now_ns() - start);
  }
  ::shutdown(client.get(), SHUT_RDWR);  // the echo thread sees end of stream
  echo.join();
  std::sort(result.rtt_ns.begin(), result.rtt_ns.end());
  return result;
}

PlainTcpResult run_plain_tcp(const PlainTcpSpec& spec) {
  PlainTcpResult result;
  Fd writer, reader;
  result.error = connect_pair(writer, reader);
  if (!result.error.empty()) return result;

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> received{0};
  std::thread writing([&] {
    std::vector<std::uint8_t> buffer(spec.write_bytes, 0x5a);
    while (!stop.load(std::memory_order_relaxed)) {
      std::size_t done = 0;
      while (done < buffer.size()) {
        // A blocking write; MSG_NOSIGNAL turns a vanished reader into an error, not SIGPIPE.
        const ssize_t n = ::send(writer.get(), buffer.data() + done, buffer.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
      }
    }
    ::shutdown(writer.get(), SHUT_WR);  // the reader sees end of stream and stops
  });
  std::thread reading([&] {
    std::vector<std::uint8_t> buffer(spec.read_bytes);
    for (;;) {
      const ssize_t n = ::read(reader.get(), buffer.data(), buffer.size());
      if (n <= 0) break;
      received.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    }
    ::shutdown(reader.get(), SHUT_RDWR);  // a blocked writer fails instead of waiting forever
  });
  place_thread(writing, "tcp-writer", spec.pin_threads ? 0 : -1);
  place_thread(reading, "tcp-reader", spec.pin_threads ? 1 : -1);

  std::this_thread::sleep_for(std::chrono::duration<double>(spec.warmup_s));
  const std::uint64_t bytes_before = received.load(std::memory_order_relaxed);
  const Snapshot start = take_snapshot();
  const double writer_before = thread_cpu_seconds(writing.native_handle());
  const double reader_before = thread_cpu_seconds(reading.native_handle());
  std::this_thread::sleep_for(std::chrono::duration<double>(spec.seconds));
  const std::uint64_t bytes_after = received.load(std::memory_order_relaxed);
  const Snapshot end = take_snapshot();
  result.writer_cpu_s = thread_cpu_seconds(writing.native_handle()) - writer_before;
  result.reader_cpu_s = thread_cpu_seconds(reading.native_handle()) - reader_before;
  stop = true;
  writing.join();
  reading.join();
  result.bytes = bytes_after - bytes_before;
  result.window = between(start, end);
  return result;
}

}  // namespace plexus::bench
