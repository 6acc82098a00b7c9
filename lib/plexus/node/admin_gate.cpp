#include "plexus/node/admin_gate.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "plexus/core/errors.hpp"

namespace plexus::node {
namespace {

using Clock = std::chrono::steady_clock;

/// A request header larger than this is refused (httplib's own limit).
constexpr std::size_t header_max_bytes = 8 * 1024;
/// Of a request body, the gate buffers up to this much before handing the
/// request over; a larger body is read by the admin thread, under the same deadline.
constexpr std::size_t body_prefetch_bytes = 64 * 1024;
constexpr int epoll_batch = 64;
/// Connections accepted per turn of the loop. Between turns the loop reads
/// the connections that became readable, so a client whose request is on its
/// way is read long before connections_max newer ones can evict it, however
/// fast a flood connects.
constexpr std::size_t accept_batch = 16;

// Milliseconds left until `deadline`, at least 0.
int left_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return int(std::clamp<std::int64_t>(left, 0, 60'000));
}

// Bytes the gate waits for before the request is whole enough for a thread: the header and
// the body up to the prefetch size. 0 while the header is incomplete.
std::size_t bytes_needed(const std::string& buffer) {
  const auto end = buffer.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  std::string header = buffer.substr(0, end);
  std::transform(header.begin(), header.end(), header.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  std::size_t body = 0;
  const auto at = header.find("\ncontent-length:");
  if (at != std::string::npos) {
    std::size_t i = at + std::strlen("\ncontent-length:");
    while (i < header.size() && header[i] == ' ') ++i;
    while (i < header.size() && std::isdigit(static_cast<unsigned char>(header[i])) && body < body_prefetch_bytes) {
      body = body * 10 + std::size_t(header[i++] - '0');
    }
  }
  return end + 4 + std::min(body, body_prefetch_bytes);
}

// A request read by the gate, then its socket: reads and writes wait at most until the deadline.
class GateStream final : public httplib::Stream {
 public:
  GateStream(int fd, std::string buffered, Clock::time_point deadline)
      : fd_(fd), buffered_(std::move(buffered)), deadline_(deadline) {}

  bool is_readable() const override { return offset_ < buffered_.size() || wait(POLLIN); }
  bool is_writable() const override { return wait(POLLOUT); }
  ssize_t read(char* ptr, size_t size) override {
    if (offset_ < buffered_.size()) {
      const std::size_t n = std::min(size, buffered_.size() - offset_);
      std::memcpy(ptr, buffered_.data() + offset_, n);
      offset_ += n;
      return ssize_t(n);
    }
    if (!wait(POLLIN)) return -1;
    return ::recv(fd_, ptr, size, 0);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!wait(POLLOUT)) return -1;
    return ::send(fd_, ptr, size, MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(::getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(::getsockname, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  bool wait(short events) const {
    pollfd p{fd_, events, 0};
    for (;;) {
      const int n = ::poll(&p, 1, left_ms(deadline_));
      if (n < 0 && errno == EINTR) continue;
      return n > 0 && (p.revents & events) != 0;
    }
  }
  void address(int (*get)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (get(fd_, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET) {
      const auto* in4 = reinterpret_cast<const sockaddr_in*>(&storage);
      ::inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
      port = ntohs(in4->sin_port);
    } else if (storage.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      port = ntohs(in6->sin6_port);
    }
    ip = text;
  }

  int fd_;
  std::string buffered_;
  std::size_t offset_ = 0;
  Clock::time_point deadline_;
};

// A short answer written from the event loop (best effort: the socket is non-blocking), then closed.
void answer_and_close(int fd, int status, const char* reason, const char* code, const char* message) {
  const std::string body = std::string("{\"error\":\"") + message + "\",\"code\":\"" + code + "\"}\n";
  const std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                               "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::close(fd);
}

}  // namespace

Result<std::unique_ptr<AdminGate>> AdminGate::bind(const ListenAddr& address) {
  const bool v6 = address.ip.find(':') != std::string::npos;
  const auto fail = [&](const std::string& what) {
    return make_error(errc::io_error, "--admin " + to_string(address) + ": " + what);
  };
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    if (::inet_pton(AF_INET6, address.ip.c_str(), &in6->sin6_addr) != 1) return fail("not an IP address");
    length = sizeof *in6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(address.port);
    if (::inet_pton(AF_INET, address.ip.c_str(), &in4->sin_addr) != 1) return fail("not an IP address");
    length = sizeof *in4;
  }
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(std::strerror(errno));
  int yes = 1;
  // Not SO_REUSEPORT: two nodes must not share an admin port.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    const std::string problem = std::strerror(errno);
    ::close(fd);
    return fail(problem);
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
  const std::uint16_t port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                      : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::unique_ptr<AdminGate>(new AdminGate(fd, port));
}

AdminGate::AdminGate(int listen_fd, std::uint16_t port) : listen_fd_(listen_fd), port_(port) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event listen_event{EPOLLIN, {.fd = listen_fd_}};
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event);
  epoll_event wake_event{EPOLLIN, {.fd = wake_fd_}};
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event);
}

AdminGate::~AdminGate() {
  stop();
  for (const auto& [fd, reading] : reading_) ::close(fd);
  ::close(listen_fd_);
  ::close(epoll_fd_);
  ::close(wake_fd_);
}

void AdminGate::start(const AdminLimits& limits, std::size_t threads, Serve serve) {
  assert(limits.connections_max >= 1 && limits.queue_max >= 1 && threads >= 1);
  limits_ = limits;
  serve_ = std::move(serve);
  loop_thread_ = std::thread([this] { loop(); });
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

void AdminGate::stop() {
  if (stopping_.exchange(true)) return;
  const std::uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof one);
  work_ready_.notify_all();
  if (loop_thread_.joinable()) loop_thread_.join();
  for (auto& worker : workers_) worker.join();
  std::lock_guard lock(mutex_);
  for (const auto& whole : queue_) ::close(whole.fd);
  queue_.clear();
}

AdminGateCounts AdminGate::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void AdminGate::loop() {
  epoll_event events[epoll_batch];
  while (!stopping_) {
    // Wake for the oldest connection's deadline (connections expire in accept order).
    int timeout = 1000;
    if (!by_age_.empty()) {
      timeout = left_ms(reading_.at(by_age_.begin()->second).accepted + limits_.read_timeout) + 1;
    }
    const int n = ::epoll_wait(epoll_fd_, events, epoll_batch, timeout);
    for (int i = 0; i < n && !stopping_; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd_) accept_all();
      else if (fd != wake_fd_) on_readable(fd);
    }
    expire();
    std::lock_guard lock(mutex_);
    counts_.connections = reading_.size();
  }
}

void AdminGate::accept_all() {
  for (std::size_t i = 0; i < accept_batch; ++i) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        spdlog::warn("admin API: accept failed: {}", std::strerror(errno));
      }
      return;
    }
    if (reading_.size() >= limits_.connections_max) close_reading(by_age_.begin()->second, "evicted");
    int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    const auto seq = next_seq_++;
    reading_[fd] = Reading{seq, Clock::now(), {}};
    by_age_[seq] = fd;
    epoll_event event{EPOLLIN | EPOLLRDHUP, {.fd = fd}};
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
    {
      std::lock_guard lock(mutex_);
      ++counts_.accepted;
    }
    on_readable(fd);  // a client that wrote right after connecting is served without another turn
  }
}

void AdminGate::on_readable(int fd) {
  const auto it = reading_.find(fd);
  if (it == reading_.end()) return;
  auto& buffer = it->second.buffer;
  char chunk[16 * 1024];
  bool ended = false;  // the client closed its side (or the socket failed)
  for (;;) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer.append(chunk, std::size_t(n));
      if (buffer.size() >= header_max_bytes + body_prefetch_bytes) break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    ended = true;
    break;
  }
  const std::size_t needed = bytes_needed(buffer);
  // A client may send its request and shut down its sending side: the request is still served.
  if (ended && (needed == 0 || buffer.size() < needed)) return close_reading(fd, nullptr);
  if (needed == 0) {
    if (buffer.size() > header_max_bytes) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      by_age_.erase(it->second.seq);
      reading_.erase(it);
      count_closed("header_too_large");
      answer_and_close(fd, 431, "Request Header Fields Too Large", "bad_request", "request header over 8 KiB");
    }
    return;
  }
  if (buffer.size() < needed) return;
  Reading reading = std::move(it->second);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  by_age_.erase(reading.seq);
  reading_.erase(it);
  enqueue(fd, std::move(reading));
}

void AdminGate::enqueue(int fd, Reading reading) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() < limits_.queue_max) {
      queue_.push_back(Whole{fd, reading.accepted + limits_.read_timeout, std::move(reading.buffer)});
      counts_.queued = queue_.size();
      work_ready_.notify_one();
      return;
    }
  }
  count_closed("queue_full");
  answer_and_close(fd, 503, "Service Unavailable", "busy",
                   "the admin API has too many requests waiting (--admin-queue-max): retry later");
}

void AdminGate::close_reading(int fd, const char* reason) {
  const auto it = reading_.find(fd);
  if (it == reading_.end()) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  by_age_.erase(it->second.seq);
  reading_.erase(it);
  ::close(fd);
  if (reason) count_closed(reason);
}

void AdminGate::expire() {
  const auto now = Clock::now();
  while (!by_age_.empty()) {
    const int fd = by_age_.begin()->second;
    if (reading_.at(fd).accepted + limits_.read_timeout > now) break;
    close_reading(fd, "read_timeout");
  }
}

void AdminGate::count_closed(const char* reason) {
  std::lock_guard lock(mutex_);
  ++counts_.closed[reason];
}

void AdminGate::work() {
  for (;;) {
    Whole whole;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      whole = std::move(queue_.front());
      queue_.pop_front();
      counts_.queued = queue_.size();
    }
    // The rest of a large body and the answer get the read timeout from now: the time the request
    // waited in the queue is not the client's.
    GateStream stream(whole.fd, std::move(whole.buffer), std::max(whole.deadline, Clock::now() + limits_.read_timeout));
    try {
      serve_(stream);
    } catch (const std::exception& e) {
      spdlog::error("admin API: {}", e.what());
    }
    ::close(whole.fd);
  }
}

}  // namespace plexus::node
