// AdminServer: binding, the token check, the route wrapper that turns
// BadRequest into 400 and anything unexpected into 500, and the io-thread
// bridge with deadlines.
#include "plexus/node/admin_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>

#include <sodium.h>

#include "plexus/core/errors.hpp"

namespace plexus::node {
namespace {

using Clock = std::chrono::steady_clock;

/// Largest request body: a 16 MiB payload in base64 inside JSON.
constexpr std::size_t request_body_max_bytes = 24 * 1024 * 1024;

int status_of(errc code) {
  switch (code) {
    case errc::invalid_json:
    case errc::invalid_field: return 400;
    case errc::unknown_node:
    case errc::unknown_server:
    case errc::unknown_channel: return 404;
    case errc::timed_out: return 504;
    case errc::shutting_down:
    case errc::ack_table_full:
    case errc::outbox_full: return 503;
    case errc::partitioned:
    case errc::not_connected:
    case errc::delivery_failed:
    case errc::dial_failed:
    case errc::connection_closed:
    case errc::peer_closed:
    case errc::dead_peer: return 502;
    default: return (code >= errc::bad_magic && code <= errc::handshake_timeout) ? 502 : 500;
  }
}

// Why binding `address` fails, found by trying it with a plain socket: httplib only says "false".
std::string bind_problem(const ListenAddr& address) {
  const bool v6 = address.ip.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    ::inet_pton(AF_INET6, address.ip.c_str(), &in6->sin6_addr);
    length = sizeof *in6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(address.port);
    ::inet_pton(AF_INET, address.ip.c_str(), &in4->sin_addr);
    length = sizeof *in4;
  }
  std::string problem = "cannot listen";
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) problem = std::strerror(errno);
  ::close(fd);
  return problem;
}

}  // namespace

Reply json_reply(const nlohmann::json& body, int status) {
  return Reply{status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

Reply error_reply(int status, std::string_view code, const std::string& message) {
  return json_reply({{"error", message}, {"code", code}}, status);
}

Reply error_reply(const Error& error) {
  const bool ours = error.code.category() == plexus_category();
  const auto code = static_cast<errc>(error.code.value());
  return error_reply(ours ? status_of(code) : 500, ours ? errc_name(code) : "internal", error.message());
}

AdminServer::AdminServer(ListenAddr address, std::string token) : address_(std::move(address)), token_(std::move(token)) {}

AdminServer::~AdminServer() { stop(); }

Result<std::unique_ptr<AdminServer>> AdminServer::bind(const ListenAddr& address, std::string token) {
  auto admin = std::unique_ptr<AdminServer>(new AdminServer(address, std::move(token)));
  auto& server = admin->server_;
  // httplib's default sets SO_REUSEPORT, which would let two nodes share an admin port.
  server.set_socket_options([](socket_t socket) {
    int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.new_task_queue = [] { return new httplib::ThreadPool(AdminServer::threads); };
  server.set_payload_max_length(request_body_max_bytes);
  int port = address.port;
  if (port == 0) {
    port = server.bind_to_any_port(address.ip);
  } else if (!server.bind_to_port(address.ip, port)) {
    port = -1;
  }
  if (port <= 0) {
    return make_error(errc::io_error, "--admin " + to_string(address) + ": " + bind_problem(address));
  }
  admin->address_.port = std::uint16_t(port);
  return admin;
}

bool AdminServer::authorized(const httplib::Request& request) const {
  const std::string header = request.get_header_value("Authorization");
  constexpr std::string_view scheme = "Bearer ";
  if (header.size() != scheme.size() + token_.size() || !header.starts_with(scheme)) return false;
  return sodium_memcmp(header.data() + scheme.size(), token_.data(), token_.size()) == 0;
}

void AdminServer::start(NodeState state) {
  state_ = std::move(state);
  server_.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (authorized(request)) return httplib::Server::HandlerResponse::Unhandled;
    const auto reply = error_reply(401, "unauthorized",
                                   "missing or wrong admin token: send Authorization: Bearer <token> "
                                   "(plexus token --secret-file KEY prints it)");
    response.status = reply.status;
    response.set_header("WWW-Authenticate", "Bearer");
    response.set_content(reply.body, reply.content_type.c_str());
    return httplib::Server::HandlerResponse::Handled;
  });
  server_.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;  // a route's own error
    const auto reply = response.status == 404
                           ? error_reply(404, "not_found", "no such endpoint: " + request.method + " " + request.path)
                       : response.status == 413 ? error_reply(413, "too_large", "request body over 24 MiB")
                                                : error_reply(response.status, "bad_request", "bad HTTP request");
    response.set_content(reply.body, reply.content_type.c_str());
  });
  server_.set_logger([this](const httplib::Request& request, const httplib::Response& response) {
    count(response.status);
    spdlog::debug("admin {} {} -> {}", request.method, request.path, response.status);
  });
  add_membership_routes(*this);
  add_messaging_routes(*this);
  add_metrics_routes(*this);
  add_presence_routes(*this);
  add_store_routes(*this);
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

void AdminServer::stop() {
  closing_ = true;
  if (!thread_.joinable()) return;
  // listen_after_bind may not have marked itself running yet; stop() before that would be lost.
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (!server_.is_running() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_.stop();
  thread_.join();
}

httplib::Server::Handler AdminServer::wrap(Route route) {
  return [route = std::move(route)](const httplib::Request& request, httplib::Response& response) {
    Reply reply;
    try {
      reply = route(request);
    } catch (const BadRequest& bad) {
      reply = error_reply(400, "bad_request", bad.what());
    } catch (const std::exception& e) {
      spdlog::error("admin {} {}: {}", request.method, request.path, e.what());
      reply = error_reply(500, "internal", e.what());
    }
    response.status = reply.status;
    response.set_content(reply.body, reply.content_type.c_str());
  };
}

void AdminServer::get(const std::string& pattern, Route route) { server_.Get(pattern, wrap(std::move(route))); }
void AdminServer::post(const std::string& pattern, Route route) { server_.Post(pattern, wrap(std::move(route))); }
void AdminServer::del(const std::string& pattern, Route route) { server_.Delete(pattern, wrap(std::move(route))); }

namespace {

/// One of the outcome_waits_max slots of requests that wait long, held for
/// the request's life; taken() is false when every slot was in use.
class WaitSlot {
 public:
  WaitSlot(std::atomic<std::size_t>& counter, std::size_t max) : counter_(&counter) {
    if (counter.fetch_add(1) >= max) release();
  }
  ~WaitSlot() { release(); }
  WaitSlot(const WaitSlot&) = delete;
  WaitSlot& operator=(const WaitSlot&) = delete;
  [[nodiscard]] bool taken() const noexcept { return counter_ != nullptr; }

 private:
  void release() {
    if (counter_) counter_->fetch_sub(1);
    counter_ = nullptr;
  }
  std::atomic<std::size_t>* counter_;
};

Reply too_many_waits(std::string_view what) {
  return error_reply(429, "too_many_waits",
                     std::to_string(AdminServer::outcome_waits_max) + " requests already wait for " + std::string(what) +
                         ", the most at once; nothing was done: retry later");
}

}  // namespace

Reply AdminServer::blocking(const std::function<Reply()>& fn) {
  const WaitSlot slot(outcome_waits_, outcome_waits_max);
  if (!slot.taken()) return too_many_waits("a datastore or an outcome");
  return fn();
}

Reply AdminServer::on_io(std::function<void(peer::PeerService&, Replier)> fn, peer::Millis wait, Wait kind) {
  std::optional<WaitSlot> slot;
  if (kind == Wait::outcome) {
    slot.emplace(outcome_waits_, outcome_waits_max);
    if (!slot->taken()) return too_many_waits("an outcome (acked send or sync join)");
  }
  struct Pending {
    std::mutex mutex;
    std::condition_variable ready;
    std::optional<Reply> reply;
  };
  auto pending = std::make_shared<Pending>();
  Replier replier = [pending](Reply reply) {
    std::lock_guard lock(pending->mutex);
    if (pending->reply) return;  // the first answer counts
    pending->reply = std::move(reply);
    pending->ready.notify_all();
  };
  // A weak reference: a lambda still queued when the io_context goes away must not keep the service alive.
  asio::post(state_.io, [weak = std::weak_ptr(state_.service), fn = std::move(fn), replier] {
    auto service = weak.lock();
    if (!service) return replier(error_reply(503, "shutting_down", "the node is stopping"));
    try {
      fn(*service, replier);
    } catch (const std::exception& e) {
      replier(error_reply(500, "internal", e.what()));
    }
  });
  const auto deadline = Clock::now() + wait;
  std::unique_lock lock(pending->mutex);
  while (!pending->reply) {
    if (closing_) return error_reply(503, "shutting_down", "the node is stopping");
    if (Clock::now() >= deadline) {
      return error_reply(504, "timeout", "no outcome within " + std::to_string(wait.count()) + " ms");
    }
    // Wake now and then to notice a stopping node, whose io thread may never run the lambda.
    pending->ready.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
  }
  return *pending->reply;
}

Reply AdminServer::on_io_now(std::function<Reply(peer::PeerService&)> fn) {
  return on_io([fn = std::move(fn)](peer::PeerService& service, const Replier& reply) { reply(fn(service)); });
}

void AdminServer::count(int status) {
  std::lock_guard lock(counts_mutex_);
  ++counts_[status];
}

std::map<int, std::uint64_t> AdminServer::requests_by_status() const {
  std::lock_guard lock(counts_mutex_);
  return counts_;
}

}  // namespace plexus::node
