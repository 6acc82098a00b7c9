// The presence tracker as plexusd runs it (internal to plexus::node): the
// Tracker, the owners admin clients opened (each with a lease, see
// presence_leases.hpp), and the timer that closes owners whose lease ran out.
// Everything here runs on the node's io thread, like the Tracker itself.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <vector>

#include "plexus/node/presence_leases.hpp"
#include "plexus/presence/presence.hpp"

namespace plexus::node {

struct Settings;

class PresenceHost : public std::enable_shared_from_this<PresenceHost> {
 public:
  using Millis = std::chrono::milliseconds;

  /// Start the tracker on `io` over `service` with the settings' presence options.
  static Result<std::shared_ptr<PresenceHost>> start(asio::any_io_executor io,
                                                     std::shared_ptr<peer::PeerService> service,
                                                     const Settings& settings);
  PresenceHost(const PresenceHost&) = delete;
  PresenceHost& operator=(const PresenceHost&) = delete;

  /// A new owner whose lease runs `ttl`. Error: owners_full (at presence_owners_max).
  Result<std::uint64_t> open(Millis ttl);
  /// Extend owner `id`'s lease to now + ttl. Error: unknown owner.
  Result<void> renew(std::uint64_t id, Millis ttl);
  /// Close owner `id` (untracks everything it tracked); returns how many.
  Result<std::size_t> close(std::uint64_t id);
  /// The open owner `id`, or an unknown-owner error.
  Result<const presence::Owner*> owner(std::uint64_t id) const;

  presence::Tracker& tracker() noexcept { return *tracker_; }
  [[nodiscard]] const LeaseTable& leases() const noexcept { return leases_; }
  [[nodiscard]] Millis lease_max() const noexcept { return lease_max_; }
  [[nodiscard]] std::uint64_t expired_total() const noexcept { return expired_total_; }
  /// Call `fn` with every change the tracker sees, local or remote (on the io
  /// thread), until stop(). For an embedding program (examples/embedded_node.cpp).
  void watch(presence::Tracker::DiffHandler fn) { watchers_.push_back(std::move(fn)); }
  /// Close every owner and stop the tracker (no permdown). Idempotent.
  void stop();

 private:
  PresenceHost(asio::any_io_executor io, std::size_t owners_max, Millis lease_max)
      : timer_(io), leases_(owners_max), lease_max_(lease_max) {}
  void arm();
  void expire();

  asio::steady_timer timer_;
  std::shared_ptr<presence::Tracker> tracker_;
  std::map<std::uint64_t, presence::Owner> owners_;
  LeaseTable leases_;
  Millis lease_max_;
  std::optional<LeaseTable::TimePoint> armed_for_;
  std::uint64_t expired_total_ = 0;
  std::vector<presence::Tracker::DiffHandler> watchers_;
};

}  // namespace plexus::node
