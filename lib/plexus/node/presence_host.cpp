// PresenceHost: the tracker, leased owners and the expiry timer (see
// presence_host.hpp).
#include "plexus/node/presence_host.hpp"

#include <spdlog/spdlog.h>

#include "plexus/core/errors.hpp"
#include "plexus/node/node.hpp"

namespace plexus::node {
namespace {

using Clock = std::chrono::steady_clock;

Error unknown_owner(std::uint64_t id) {
  return presence::make_error(presence::errc::closed_owner, "owner " + std::to_string(id) + ": no such open owner (closed, or its lease ran out)");
}

}  // namespace

Result<std::shared_ptr<PresenceHost>> PresenceHost::start(asio::any_io_executor io,
                                                          std::shared_ptr<peer::PeerService> service,
                                                          const Settings& settings) {
  auto host = std::shared_ptr<PresenceHost>(
      new PresenceHost(io, settings.presence_owners_max, settings.presence_lease_max));
  std::weak_ptr<PresenceHost> weak = host;
  auto tracker = presence::Tracker::start(io, std::move(service), settings.presence, [weak](const presence::Diff& diff) {
    if (auto self = weak.lock()) {
      for (const auto& watcher : self->watchers_) watcher(diff);
    }
  });
  if (!tracker) return tracker.error();
  host->tracker_ = std::move(*tracker);
  return host;
}

Result<std::uint64_t> PresenceHost::open(Millis ttl) {
  if (!tracker_) return presence::make_error(presence::errc::stopped, "the presence tracker is stopped");
  if (leases_.full()) {
    return make_error(errc::outbox_full, "owners: " + std::to_string(leases_.capacity()) +
                                             " open already (--presence-owners-max); close some first");
  }
  auto owner = tracker_->open_owner();
  const std::uint64_t id = owner.id();
  leases_.open(id, Clock::now(), ttl);
  owners_.emplace(id, std::move(owner));
  arm();
  return id;
}

Result<void> PresenceHost::renew(std::uint64_t id, Millis ttl) {
  if (!leases_.renew(id, Clock::now(), ttl)) return unknown_owner(id);
  arm();
  return {};
}

Result<std::size_t> PresenceHost::close(std::uint64_t id) {
  const auto it = owners_.find(id);
  if (it == owners_.end()) return unknown_owner(id);
  const std::size_t untracked = tracker_ ? tracker_->untrack(it->second) : 0;
  owners_.erase(it);  // the Owner's destructor closes it
  leases_.close(id);
  return untracked;
}

Result<const presence::Owner*> PresenceHost::owner(std::uint64_t id) const {
  const auto it = owners_.find(id);
  if (it == owners_.end()) return unknown_owner(id);
  return &it->second;
}

// One timer for the soonest lease; re-armed only when that moves earlier.
void PresenceHost::arm() {
  const auto next = leases_.next_expiry();
  if (!next || (armed_for_ && *armed_for_ <= *next)) return;
  armed_for_ = *next;
  timer_.expires_at(*next);
  timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec == asio::error::operation_aborted) return;
    self->armed_for_.reset();
    self->expire();
  });
}

void PresenceHost::expire() {
  for (const auto id : leases_.expire(Clock::now())) {
    const auto it = owners_.find(id);
    if (it == owners_.end()) continue;
    const std::size_t untracked = tracker_ ? tracker_->untrack(it->second) : 0;
    owners_.erase(it);
    ++expired_total_;
    spdlog::info("presence: owner {} lease ran out: closed, {} presences untracked", id, untracked);
  }
  arm();
}

void PresenceHost::stop() {
  timer_.cancel();
  watchers_.clear();
  owners_.clear();
  if (tracker_) tracker_->stop();
}

}  // namespace plexus::node
