// replica::Host: the Asio shell that carries sans-IO replica cores over the
// peer service. Every protocol decision is the cores'; the host only does
// the I/O around them, as the presence tracker's shell did before it was
// made generic (presence::Tracker is now a Host of presence::Shards):
//   - core i is server options.servers[i]; it talks only to core i on other
//     nodes, on options.channel with partition_key i, so its messages stay in
//     order on one connection (give the channel a parallelism of the core count);
//   - received messages are posted to the executor and fed to the core;
//   - the channel's up/down events (and, at start, the peers already up) are
//     fed to every core;
//   - one timer, armed at the earliest next_deadline() of any core, ticks them all;
//   - after each input the core is drained: take()'s sends are forwarded
//     (unacknowledged), its errors logged (spdlog, error level) and kept (the
//     last recent_errors_max), and the rest of its output (events: diffs,
//     changes) goes to the output handler, inside the call that drained.
// Everything runs on the executor given to start(), which must be the peer
// service's (one thread). Header-only (a template); link plexus_peer_dep.
//
// A core has the presence::Shard shape (the Core concept, core.hpp). A
// registry built this way is example_registry.hpp, run over real peer
// services in test/integration/replica_host.test.cpp:
//
//   std::vector<std::unique_ptr<Registry>> cores;
//   cores.push_back(std::make_unique<Registry>(service->spec().name, Host<Registry>::now()));
//   auto host = *Host<Registry>::start(io.get_executor(), service,
//       HostOptions{"_registry", {"registry.0"}, "registry"}, std::move(cores),
//       [](std::uint32_t, Registry::Output& out) { /* out.changes */ });
//   host->core(0).put("tenant-1", "module-x", Host<Registry>::now());
//   host->drain(0);                          // after every direct call on a core
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "plexus/core/errors.hpp"
#include "plexus/core/result.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/replica/core.hpp"

namespace plexus::replica {

struct HostOptions {
  /// The peer-service channel the cores talk on; the service must serve it.
  std::string channel;
  /// One server name per core, registered at start: core i is servers[i].
  std::vector<std::string> servers;
  /// Log prefix: errors are logged as "<log_name>.<i>: <message>".
  std::string log_name;
  /// How many of the cores' last errors recent_errors() keeps.
  std::size_t recent_errors_max = 64;
};

/// The output handler a Host takes by default.
template <Core C>
using OutputFunction = std::function<void(std::uint32_t index, decltype(std::declval<C&>().take())& output)>;

/// Carries cores C over the peer service. O, the output handler, is called
/// as O(index, output&); a function object type of its own (presence's)
/// saves the std::function call on every drain.
template <Core C, class O = OutputFunction<C>>
class Host : public std::enable_shared_from_this<Host<C, O>> {
 public:
  using Output = decltype(std::declval<C&>().take());
  /// Gets core `index`'s output once its sends went out and its errors were
  /// logged: what is left (the events) is the handler's to move out.
  using OutputHandler = O;

  /// Registers one server per core, watches options.channel, treats the
  /// peers already up on it as coming up now, and arms the timer. Errors:
  /// plexus::errc::invalid_field when the service does not serve the channel,
  /// when servers and cores differ in number, or when a server name is taken.
  static Result<std::shared_ptr<Host>> start(asio::any_io_executor executor,
                                             std::shared_ptr<peer::PeerService> service, HostOptions options,
                                             std::vector<std::unique_ptr<C>> cores, OutputHandler on_output = {});
  ~Host() { stop(); }
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  /// The shell's clock: cores get their time from here, never read one.
  static TimePoint now() { return std::chrono::steady_clock::now(); }

  [[nodiscard]] std::uint32_t size() const { return static_cast<std::uint32_t>(cores_.size()); }
  /// Core `index`, for direct (local) calls; drain(index) after each.
  C& core(std::uint32_t index) { return *cores_[index]; }
  const C& core(std::uint32_t index) const { return *cores_[index]; }
  /// Forwards core `index`'s sends, logs its errors, hands the rest to the
  /// output handler, and re-arms the timer for its next deadline.
  void drain(std::uint32_t index);
  /// Unregisters the servers and watches and cancels the timer; later inputs
  /// are ignored. Idempotent; the destructor calls it.
  void stop();
  [[nodiscard]] bool stopped() const { return stopped_; }
  [[nodiscard]] const HostOptions& options() const { return options_; }
  /// forward_message refusals (peer not connected, ...).
  [[nodiscard]] std::uint64_t send_failures() const { return send_failures_; }
  /// The last options.recent_errors_max errors the cores reported, oldest first.
  [[nodiscard]] std::vector<Error> recent_errors() const { return {errors_.begin(), errors_.end()}; }

 private:
  Host(asio::any_io_executor executor, std::shared_ptr<peer::PeerService> service, HostOptions options,
       std::vector<std::unique_ptr<C>> cores, OutputHandler on_output)
      : executor_(std::move(executor)), service_(std::move(service)), options_(std::move(options)),
        cores_(std::move(cores)), on_output_(std::move(on_output)), timer_(executor_) {}

  Result<void> connect();
  void emit(std::uint32_t index, Output& out);
  void arm(TimePoint deadline);
  void tick();
  void receive(std::uint32_t index, const std::string& from, const std::vector<std::uint8_t>& payload);
  void peer_event(const std::string& node, bool up);

  asio::any_io_executor executor_;
  std::shared_ptr<peer::PeerService> service_;
  HostOptions options_;
  std::vector<std::unique_ptr<C>> cores_;
  OutputHandler on_output_;
  /// Per core: channel and partition key, built once, not per drain.
  std::vector<peer::ForwardOptions> forward_;
  std::vector<std::string> registered_;
  std::vector<std::uint64_t> watches_;
  asio::steady_timer timer_;
  std::optional<TimePoint> armed_at_;
  std::deque<Error> errors_;
  std::uint64_t send_failures_ = 0;
  bool stopped_ = false;
};

}  // namespace plexus::replica

#include "plexus/replica/host_impl.hpp"
