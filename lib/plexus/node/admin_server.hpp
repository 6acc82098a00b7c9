// The admin HTTP API server (internal to plexus::node): cpp-httplib on its
// own threads, bearer-token check before routing, strict JSON request
// reading, and the bridge to the peer service, whose methods may only run on
// the io_context thread: a handler posts a lambda there and waits for its
// reply with a deadline. Routes live in admin_*.cpp; docs/admin-api.md
// documents them.
#pragma once

#include <httplib.h>

#include <asio/any_io_executor.hpp>

#include <atomic>
#include <condition_variable>
#include <set>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeindex>
#include <vector>

#include <nlohmann/json.hpp>

#include "plexus/core/node_spec.hpp"
#include "plexus/core/result.hpp"
#include "plexus/node/node.hpp"
#include "plexus/peer/peer_service.hpp"

namespace plexus::node {

class Sink;
class PresenceHost;
class Joiner;

/// What an admin route answers.
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

Reply json_reply(const nlohmann::json& body, int status = 200);
/// {"error": message, "code": code}.
Reply error_reply(int status, std::string_view code, const std::string& message);
/// A peer-service error with the HTTP status its code maps to.
Reply error_reply(const Error& error);

/// A request field that is missing, unknown or of the wrong type. Thrown only
/// while reading a request (the untrusted-input boundary) and answered 400.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Strict reader of a request's fields: the JSON object body, or the query
/// parameters. Fields not in `allowed` and values of the wrong type throw
/// BadRequest naming the field.
class Fields {
 public:
  static Fields body(const httplib::Request& request, std::initializer_list<std::string_view> allowed);
  static Fields query(const httplib::Request& request, std::initializer_list<std::string_view> allowed);

  [[nodiscard]] bool has(std::string_view key) const;
  [[nodiscard]] std::optional<std::string> text(std::string_view key) const;
  [[nodiscard]] std::string text(std::string_view key, const std::string& fallback) const;
  [[nodiscard]] std::string required_text(std::string_view key) const;
  [[nodiscard]] bool flag(std::string_view key, bool fallback) const;
  [[nodiscard]] std::optional<std::uint64_t> number(std::string_view key, std::uint64_t min, std::uint64_t max) const;
  [[nodiscard]] std::uint64_t number(std::string_view key, std::uint64_t fallback, std::uint64_t min,
                                     std::uint64_t max) const;
  /// The raw JSON value, or nullptr.
  [[nodiscard]] const nlohmann::json* raw(std::string_view key) const;

 private:
  Fields(nlohmann::json object, bool from_query) : object_(std::move(object)), from_query_(from_query) {}
  nlohmann::json object_;
  bool from_query_ = false;
};

/// A node spec from a request field, or BadRequest naming the field inside it.
NodeSpec spec_field(const nlohmann::json& value, std::string_view field);

/// Counters of the built-in echo server.
struct EchoCounters {
  std::atomic<std::uint64_t> replies{0};
  std::atomic<std::uint64_t> failures{0};
};

/// What the peer service's routes reach besides it (PeerNodeService provides it).
struct PeerRoutes {
  std::shared_ptr<peer::PeerService> service;
  std::shared_ptr<Sink> sink;
  std::shared_ptr<EchoCounters> echo;
  std::function<void()> on_left;  ///< run on the io thread after this node left by an admin call
  std::shared_ptr<Joiner> joiner;  ///< retried joins; used on the io thread only
};

class Service;

class AdminGate;
struct AdminGateCounts;

/// httplib's request parsing and routing, fed by the AdminGate (not httplib's own listener).
class AdminRouter : public httplib::Server {
 public:
  /// Read one request from `stream`, route it, write the answer (Connection: close).
  void serve(httplib::Stream& stream) {
    bool closed = true;
    process_request(stream, true, closed, nullptr);
  }
};

class AdminServer {
 public:
  using Route = std::function<Reply(const httplib::Request&)>;
  using Replier = std::function<void(Reply)>;
  /// Longest wait for the io thread when a route gives no deadline of its own.
  static constexpr peer::Millis default_wait{5000};
  /// Threads serving requests; requests beyond these wait in the queue.
  static constexpr std::size_t threads = 4;
  /// Requests that may wait long for an outcome (an acked send, a sync join)
  /// at once: one thread always stays free for everything else.
  static constexpr std::size_t outcome_waits_max = threads - 1;
  /// What a route waits for: the io thread's answer only, or an outcome
  /// that may take up to its deadline (counted against outcome_waits_max).
  enum class Wait { brief, outcome };

  /// Bind (and listen on) the address now, so a port in use fails before anything starts.
  static Result<std::unique_ptr<AdminServer>> bind(const ListenAddr& address, std::string token);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  [[nodiscard]] const ListenAddr& address() const noexcept { return address_; }
  /// Register the routes every service gives (Service::add_routes), /metrics
  /// over all of them, and serve: the gate's thread reads requests, `threads`
  /// threads answer them. on_io runs its work on `io` with `peer`.
  void start(asio::any_io_executor io, std::weak_ptr<peer::PeerService> peer, const std::vector<Service*>& services,
             const AdminLimits& limits = {});
  /// Stop serving; pending requests answer 503 at once. Joins the threads.
  void stop();

  void get(const std::string& pattern, Route route);
  void post(const std::string& pattern, Route route);
  void del(const std::string& pattern, Route route);

  /// Run `fn` on the io thread. Its Replier gives the answer, at once or
  /// later (from a completion); without one within `wait`: 504.
  /// A Wait::outcome call beyond outcome_waits_max answers 429 without
  /// running `fn`.
  Reply on_io(std::function<void(peer::PeerService&, Replier)> fn, peer::Millis wait = default_wait,
              Wait kind = Wait::brief);
  /// Run `fn` on the io thread and answer what it returns.
  Reply on_io_now(std::function<Reply(peer::PeerService&)> fn);
  /// Run `fn` on this request's own thread: work that blocks, such as a
  /// datastore call. Counted against outcome_waits_max (429 beyond it), so
  /// one thread always stays free for status and the io-thread routes.
  Reply blocking(const std::function<Reply()>& fn);

  [[nodiscard]] const asio::any_io_executor& io() const noexcept { return io_; }
  /// Give the routes an object of type T (a service's state); before start() serves.
  template <class T>
  void provide(std::shared_ptr<T> value) {
    contexts_[std::type_index(typeid(T))] = std::move(value);
  }
  /// What a service provided as T, or null (e.g. presence when disabled).
  template <class T>
  [[nodiscard]] std::shared_ptr<T> context() const {
    const auto it = contexts_.find(std::type_index(typeid(T)));
    return it == contexts_.end() ? nullptr : std::static_pointer_cast<T>(it->second);
  }
  /// Requests answered so far, by HTTP status.
  [[nodiscard]] std::map<int, std::uint64_t> requests_by_status() const;
  /// Connections, queue and closes of the gate.
  [[nodiscard]] AdminGateCounts gate_counts() const;

 private:
  AdminServer(ListenAddr address, std::string token);
  httplib::Server::Handler wrap(Route route);
  bool authorized(const httplib::Request& request) const;
  void count(int status);

  /// A request thread waiting in on_io for the io thread's answer.
  struct PendingReply {
    std::mutex mutex;
    std::condition_variable ready;
    std::optional<Reply> reply;
  };
  /// Holds a wait in waits_ for its duration, so that stop() can wake it.
  class WaitRegistration {
   public:
    WaitRegistration(AdminServer& admin, std::shared_ptr<PendingReply> pending);
    ~WaitRegistration();
    WaitRegistration(const WaitRegistration&) = delete;
    WaitRegistration& operator=(const WaitRegistration&) = delete;

   private:
    AdminServer& admin_;
    std::shared_ptr<PendingReply> pending_;
  };

  ListenAddr address_;
  std::string token_;
  std::mutex waits_mutex_;
  std::set<std::shared_ptr<PendingReply>> waits_;  ///< at most `threads` (one per request thread)
  AdminRouter server_;
  std::unique_ptr<AdminGate> gate_;
  asio::any_io_executor io_;
  std::weak_ptr<peer::PeerService> peer_;
  /// Written before serving, read-only after: no lock.
  std::map<std::type_index, std::shared_ptr<void>> contexts_;
  std::atomic<bool> closing_{false};
  std::atomic<std::size_t> outcome_waits_{0};
  mutable std::mutex counts_mutex_;
  std::map<int, std::uint64_t> counts_;
};

void add_membership_routes(AdminServer& admin);
void add_messaging_routes(AdminServer& admin);
/// /metrics: every service's families (on the io thread), then the admin API's.
void add_metrics_route(AdminServer& admin, std::vector<Service*> services);
/// /v1/status and /v1/health (the peer service's view).
void add_status_routes(AdminServer& admin);
void add_presence_routes(AdminServer& admin);
/// Tenant key spaces (admin_store.cpp) and their keys (admin_kv.cpp).
void add_store_routes(AdminServer& admin);
void add_kv_routes(AdminServer& admin);

}  // namespace plexus::node
