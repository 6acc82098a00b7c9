// AdminServer: binding, the token check, the route wrapper that turns
// BadRequest into 400 and anything unexpected into 500, and the io-thread
// bridge with deadlines.
#include "plexus/node/admin_server.hpp"
#include "plexus/node/admin_gate.hpp"
#include "plexus/node/service.hpp"

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
  auto gate = AdminGate::bind(address);
  if (!gate) return gate.error();
  admin->gate_ = std::move(*gate);
  admin->address_.port = admin->gate_->port();
  admin->server_.set_payload_max_length(request_body_max_bytes);
  return admin;
}

bool AdminServer::authorized(const httplib::Request& request) const {
  const std::string header = request.get_header_value("Authorization");
  constexpr std::string_view scheme = "Bearer ";
  if (header.size() != scheme.size() + token_.size() || !header.starts_with(scheme)) return false;
  return sodium_memcmp(header.data() + scheme.size(), token_.data(), token_.size()) == 0;
}

void AdminServer::start(asio::any_io_executor io, std::weak_ptr<peer::PeerService> peer,
                        const std::vector<Service*>& services, const AdminLimits& limits) {
  io_ = std::move(io);
  peer_ = std::move(peer);
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
  for (auto* service : services) service->add_routes(*this);
  add_metrics_route(*this, services);
  gate_->start(limits, threads, [this](httplib::Stream& stream) { server_.serve(stream); });
}

void AdminServer::stop() {
  closing_ = true;
  {
    const std::lock_guard lock(waits_mutex_);
    for (const auto& pending : waits_) {
      const std::lock_guard wake(pending->mutex);
      pending->ready.notify_all();
    }
  }
  if (gate_) gate_->stop();
}

AdminServer::WaitRegistration::WaitRegistration(AdminServer& admin, std::shared_ptr<PendingReply> pending)
    : admin_(admin), pending_(std::move(pending)) {
  const std::lock_guard lock(admin_.waits_mutex_);
  admin_.waits_.insert(pending_);
}

AdminServer::WaitRegistration::~WaitRegistration() {
  const std::lock_guard lock(admin_.waits_mutex_);
  admin_.waits_.erase(pending_);
}

AdminGateCounts AdminServer::gate_counts() const { return gate_->counts(); }

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
  auto pending = std::make_shared<PendingReply>();
  Replier replier = [pending](Reply reply) {
    std::lock_guard lock(pending->mutex);
    if (pending->reply) return;  // the first answer counts
    pending->reply = std::move(reply);
    pending->ready.notify_all();
  };
  const WaitRegistration registered(*this, pending);
  // A weak reference: a lambda still queued when the io_context goes away must not keep the service alive.
  asio::post(io_, [weak = peer_, fn = std::move(fn), replier] {
    auto service = weak.lock();
    if (!service) return replier(error_reply(503, "shutting_down", "the node is stopping"));
    try {
      fn(*service, replier);
    } catch (const std::exception& e) {
      replier(error_reply(500, "internal", e.what()));
    }
  });
  // stop() wakes every registered wait (under its mutex, so none misses it):
  // a stopping node's io thread may never run the lambda.
  std::unique_lock lock(pending->mutex);
  const bool answered = pending->ready.wait_for(lock, wait, [&] { return pending->reply || closing_; });
  if (pending->reply) return *pending->reply;
  if (answered) return error_reply(503, "shutting_down", "the node is stopping");
  return error_reply(504, "timeout", "no outcome within " + std::to_string(wait.count()) + " ms");
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
